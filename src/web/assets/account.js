// The account page: sessions, devices and security activity from the API, and the account forms.
// A 401 saying the session is gone (signed out elsewhere, or ended by wrong step-up codes): back to sign in.
import { api, clearErrors, goToLogin, onSubmit, showAlert, showError } from './lib.js';
import { authenticationButton, ceremonyError, passkeysSupported, startRegistration, wasAborted } from './passkeys.js';
import { byId, day, describeAgent, el, eventText, status, when } from './present.js';
import { codeMethods, copyText, downloadText, groupsOfFour, readCode, showCodeError, showCodeTypo } from './two-step.js';

async function call(method, path, body) {
  const res = await api(method, path, body);
  if (res.status === 401 && (res.data.code === 'unauthorized' || res.data.code === 'mfa_required')) {
    goToLogin();
    return new Promise(() => {}); // the page is going away; nothing after this should run
  }
  return res;
}

async function loadSessions() {
  const res = await call('GET', '/api/auth/sessions');
  const list = byId('sessions');
  if (!res.ok) return list.replaceChildren(el('li', { class: 'error', text: res.data.error }));
  // This device first, then the others as the API orders them (most recently used first).
  const sessions = [...res.data.sessions].sort((a, b) => Number(b.current) - Number(a.current));
  const items = sessions.map((s) => {
    const title = el('p', { class: 'device' }, el('strong', { text: describeAgent(s.userAgent) }));
    if (s.current) title.append(' ', el('span', { class: 'badge ok', text: 'this device' }));
    if (s.rememberMe) title.append(' ', el('span', { class: 'badge', text: 'remembered' }));
    const facts = el('p', { class: 'muted' }, `IP ${s.ip || 'unknown'} · last used `, when(s.lastSeenAt), ' · signed in ', when(s.createdAt));
    const text = s.current ? 'Sign out' : 'Sign out this session';
    const button = el('button', { type: 'button', class: 'secondary small', 'data-session': s.id, text });
    // The name starts with the visible text (WCAG 2.5.3, label in name: a speech user says what
    // they see), then tells the buttons of the list apart for a screen reader.
    button.setAttribute('aria-label', `${text}: ${s.current ? 'this device, ' : ''}${describeAgent(s.userAgent)}, IP ${s.ip || 'unknown'}`);
    button.addEventListener('click', () => revoke(s, button));
    return el('li', { class: s.current ? 'current' : '', 'data-session-id': s.id }, el('div', {}, title, facts), button);
  });
  list.replaceChildren(...items);
  byId('revoke-others').hidden = res.data.sessions.length < 2;
}

async function revoke(session, button) {
  button.disabled = true;
  const res = await call('DELETE', `/api/auth/sessions/${encodeURIComponent(session.id)}`);
  if (res.ok && session.current) return location.assign('/login?notice=signed-out');
  if (!res.ok && res.status !== 404) {
    button.disabled = false;
    return status('sessions-status', res.data.error);
  }
  status('sessions-status', 'That session is signed out.');
  await Promise.all([loadSessions(), loadEvents()]);
}

/** The browsers that signed in; a remembered one can be forgotten, so it asks for the second step again. */
async function loadDevices() {
  const res = await call('GET', '/api/auth/devices');
  const list = byId('devices');
  if (!res.ok) return list.replaceChildren(el('li', { class: 'error', text: res.data.error }));
  // This browser first, then the others as the API orders them (most recently used first).
  const devices = [...res.data.devices].sort((a, b) => Number(b.current) - Number(a.current));
  const items = devices.map((d) => {
    const title = el('p', { class: 'device' }, el('strong', { text: describeAgent(d.userAgent) }));
    if (d.current) title.append(' ', el('span', { class: 'badge ok', text: 'this browser' }));
    if (d.trusted) title.append(' ', el('span', { class: 'badge' }, 'remembered until ', day(d.trustedUntil)));
    const facts = el('p', { class: 'muted' }, `IP ${d.ip || 'unknown'} · last seen `, when(d.lastSeenAt), ' · first seen ', when(d.firstSeenAt));
    const item = el('li', { class: d.current ? 'current' : '', 'data-device-id': d.id }, el('div', {}, title, facts));
    if (d.trusted) {
      const button = el('button', { type: 'button', class: 'secondary small', text: 'Forget' });
      // Visible text first (WCAG 2.5.3), then which device, as for the sessions' buttons.
      button.setAttribute('aria-label', `Forget: ${d.current ? 'this browser, ' : ''}${describeAgent(d.userAgent)}, IP ${d.ip || 'unknown'}`);
      button.addEventListener('click', () => forget(d, button));
      item.append(button);
    }
    return item;
  });
  list.replaceChildren(...(items.length ? items : [el('li', { class: 'muted', text: 'No browsers to show.' })]));
}

async function forget(device, button) {
  button.disabled = true;
  const res = await call('DELETE', `/api/auth/devices/${encodeURIComponent(device.id)}`);
  // 404: forgotten already, from another browser; the outcome is the same.
  if (!res.ok && res.status !== 404) {
    button.disabled = false;
    return status('devices-status', res.data.error);
  }
  status('devices-status', device.current
    ? 'This browser is forgotten: signing in here asks for the code from your app again.'
    : `${describeAgent(device.userAgent)} is forgotten: signing in there asks for the code from your app again.`);
  await Promise.all([loadDevices(), loadEvents()]);
  byId('devices-h').focus(); // the button that had the focus is gone
}


let eventsCursor;

async function loadEvents(more = false) {
  const params = new URLSearchParams({ limit: '10' });
  if (more && eventsCursor) params.set('before', eventsCursor);
  const res = await call('GET', `/api/auth/events?${params}`);
  const list = byId('events');
  if (!res.ok) return list.replaceChildren(el('li', { class: 'error', text: res.data.error }));
  const items = res.data.events.map((e) =>
    el('li', {}, el('strong', { text: eventText(e.type) }), el('span', { class: 'muted' }, ' · ', when(e.at), ` · ${describeAgent(e.userAgent)} · IP ${e.ip || 'unknown'}`)),
  );
  if (more) list.append(...items);
  else list.replaceChildren(...(items.length ? items : [el('li', { class: 'muted', text: 'Nothing yet.' })]));
  eventsCursor = res.data.next;
  byId('events-more').hidden = !eventsCursor;
}

byId('events-more').addEventListener('click', () => loadEvents(true));

byId('revoke-others').addEventListener('click', async (event) => {
  const button = event.currentTarget;
  button.disabled = true;
  const res = await call('DELETE', '/api/auth/sessions');
  button.disabled = false;
  if (!res.ok) return status('sessions-status', res.data.error);
  status('sessions-status', res.data.revoked === 1 ? 'Signed out 1 other session.' : `Signed out ${res.data.revoked} other sessions.`);
  await Promise.all([loadSessions(), loadEvents()]);
});

byId('resend-verification')?.addEventListener('click', async (event) => {
  event.currentTarget.disabled = true;
  const res = await call('POST', '/api/auth/email/verify/resend');
  status('profile-status', res.ok ? 'Verification email sent. Check your inbox.' : res.data.error);
});

const passwordForm = byId('password-form');
onSubmit(passwordForm, async (v) => {
  const res = await call('POST', '/api/auth/password', { currentPassword: v.currentPassword, newPassword: v.newPassword });
  if (!res.ok) return showError(passwordForm, res.data);
  passwordForm.reset();
  passwordForm.querySelector('input[data-strength]')?.dispatchEvent(new Event('input'));
  showAlert(passwordForm, 'Password changed. Every other session was signed out.', true);
  await Promise.all([loadSessions(), loadEvents()]);
});

/** Email change and deletion need a fresh password proof: the form's password gives it. */
async function reauth(form, password) {
  const res = await call('POST', '/api/auth/reauth', { password });
  if (!res.ok) showError(form, res.data);
  return res.ok;
}

const emailForm = byId('email-form');
onSubmit(emailForm, async (v) => {
  if (!(await reauth(emailForm, v.password))) return;
  const res = await withProofs(() => call('POST', '/api/auth/email', { newEmail: v.newEmail, password: v.password }), emailForm);
  if (!res) return;
  if (!res.ok) return showError(emailForm, res.data);
  emailForm.reset();
  showAlert(emailForm, `We sent a link to ${v.newEmail}. Your email changes when you open it.`, true);
  await loadEvents();
});

const deleteForm = byId('delete-form');
const deleteStart = byId('delete-start');
const toggleDelete = (open) => {
  deleteForm.hidden = !open;
  deleteStart.hidden = open;
  deleteStart.setAttribute('aria-expanded', String(open));
  if (open) deleteForm.querySelector('input[type=password]').focus();
  else deleteStart.focus();
};
deleteStart.addEventListener('click', () => toggleDelete(true));
byId('delete-cancel').addEventListener('click', () => {
  deleteForm.reset();
  toggleDelete(false);
});
onSubmit(deleteForm, async (v) => {
  if (!(await reauth(deleteForm, v.password))) return;
  const res = await withProofs(() => call('DELETE', '/api/auth/account', { password: v.password }), deleteForm);
  if (!res) return;
  if (!res.ok) return showError(deleteForm, res.data);
  location.assign('/login?notice=account-deleted');
});

// Two-step sign-in. Its state comes from the API; one part of the section shows at a time.
const twoStepParts = { loading: byId('twostep-loading'), off: byId('twostep-off'), setup: byId('totp-setup'), on: byId('twostep-on') };
const showTwoStep = (part) => {
  for (const [name, box] of Object.entries(twoStepParts)) box.hidden = name !== part;
};

/** The account's second factors, as GET /mfa last answered: an authenticator app, passkeys. */
let factors = { totp: false, passkeys: [] };
const twoStepOn = () => factors.totp || factors.passkeys.length > 0;
/** While an app is being set up, a reload of the factors (after a passkey action) leaves the setup open. */
let settingUp = false;

/** The two-step section and the passkey list, from the API. */
async function loadTwoStep() {
  const res = await call('GET', '/api/auth/mfa');
  if (!res.ok) {
    twoStepParts.loading.textContent = res.data.error;
    byId('passkey-list').replaceChildren(el('li', { class: 'error', text: res.data.error }));
    return showTwoStep('loading');
  }
  factors = { totp: res.data.totp, passkeys: res.data.passkeys ?? [] };
  // The texts that depend on whether passkeys serve as the second step too.
  const passkeys = factors.passkeys.length > 0;
  for (const part of byId('twostep').querySelectorAll('[data-factors]')) part.hidden = (part.dataset.factors === 'passkeys') !== passkeys;
  byId('totp-off-submit').textContent = passkeys ? 'Remove the authenticator app' : 'Turn off two-step sign-in';
  if (twoStepOn()) {
    const left = res.data.recoveryCodesLeft;
    const few = left <= 3;
    const line = byId('recovery-left');
    line.textContent = `${left === 1 ? '1 recovery code' : `${left} recovery codes`} left.`;
    // With none left, a lost phone means a locked account: say so while there is time.
    if (few) line.textContent += ' Make new ones soon, before you run out.';
    line.className = few ? 'notice warn' : '';
  }
  byId('recovery-box').hidden = !twoStepOn();
  if (!settingUp) showTwoStep(factors.totp ? 'on' : 'off');
  showPasskeys();
}

// Where a cancelled prompt sends the focus back: the element focused last, even when the action
// then disabled it (a disabled button loses the focus, so document.activeElement is the body).
let lastFocused;
document.addEventListener('focusin', (event) => (lastFocused = event.target));

/**
 * One form asking for a proof. Opened after `near` (forms do not nest, so next to the action's
 * own form), it resolves true once `prove` accepts what was typed, false when cancelled.
 */
function proofPrompt(form, prove, reset = () => {}) {
  let settle; // of the pending ask
  let opener;
  const close = (proven) => {
    form.reset();
    clearErrors(form);
    form.hidden = true;
    settle?.(proven);
    settle = undefined;
  };
  onSubmit(form, async (v) => {
    if (await prove(v)) close(true);
  });
  const cancel = () => {
    close(false);
    // Back where the person was, once the cancelled action has enabled its buttons again.
    setTimeout(() => opener?.focus());
  };
  form.querySelector('[data-cancel]').addEventListener('click', cancel);
  form.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') cancel();
  });
  const ask = (near) => {
    close(false); // one ask at a time: a newer action's replaces an older one's
    opener = lastFocused;
    reset();
    near.after(form);
    form.hidden = false;
    // The first way to give the proof: a passkey's button when offered, else the first field.
    form.querySelector('[data-passkey]:not([hidden]) button, input:enabled').focus();
    return new Promise((resolve) => (settle = resolve));
  };
  ask.proven = () => close(true); // given another way than the form's submit (a passkey)
  return ask;
}

const askPassword = proofPrompt(byId('reauth-form'), (v) => reauth(byId('reauth-form'), v.password));

// A remembered browser's session proved the password only: the app's code (or a recovery code)
// steps it up, and the API answers with a new session cookie.
const stepUpForm = byId('stepup-form');
const stepUpMethods = codeMethods(stepUpForm, byId('stepup-toggle'));
const stepUpPasskey = authenticationButton(byId('stepup-passkey'), {
  requestOptions: () => call('POST', '/api/auth/passkeys/login/options'),
  closed: 'The passkey prompt was closed; you can try again or enter a code.',
  finish: async (response) => {
    const res = await call('POST', '/api/auth/mfa/verify', { method: 'passkey', response });
    if (!res.ok) {
      stepUpPasskey.say(res.status === 401 ? 'That passkey was not accepted. Try another one, or enter a code.' : res.data.error);
      return false;
    }
    await steppedUp();
    askSecondFactor.proven();
    return false; // the page stays; the button is ready for the next time
  },
});
// A passkey when the account has one (and this browser can use it); without the app, a recovery code is the code there is.
const askSecondFactor = proofPrompt(stepUpForm, stepUp, () => {
  stepUpPasskey.clear();
  stepUpForm.querySelector('[data-passkey]').hidden = !(stepUpPasskey.supported && factors.passkeys.length > 0);
  stepUpMethods.offer(factors.totp ? ['totp', 'recovery_code'] : ['recovery_code']);
});

async function stepUp(v) {
  const { method, field, code } = stepUpMethods.read(v);
  // Wrong codes count against the account: a typo is caught here, before it costs one.
  if (!code) {
    showCodeTypo(stepUpForm);
    return false;
  }
  const res = await call('POST', '/api/auth/mfa/verify', { method, code });
  if (!res.ok) {
    showCodeError(stepUpForm, field, res);
    return false;
  }
  await steppedUp();
  return true;
}

/** This session now has a new id, and a recovery code may have been used up. */
const steppedUp = () => Promise.all([loadSessions(), loadDevices(), loadEvents(), loadTwoStep()]);

const proofs = { reauth_required: askPassword, second_factor_required: askSecondFactor };

/**
 * Sensitive actions need fresh proofs, and the API names the missing one: 403 reauth_required
 * (the password, not proven recently) or 403 second_factor_required (a remembered browser on an
 * account with two-step sign-in). Its form opens next to the action (`near`), then the action
 * runs again; each proof is asked once. Resolves to the API's answer, or undefined when cancelled.
 */
async function withProofs(request, near) {
  const asked = new Set();
  for (;;) {
    const res = await request();
    const ask = res.status === 403 ? proofs[res.data.code] : undefined;
    if (!ask || asked.has(ask)) return res;
    asked.add(ask);
    if (!(await ask(near))) return undefined;
  }
}

// The two-step section's own actions ask at its end, after the recovery codes.
const twoStepEnd = byId('recovery-box');

/** The QR code of `uri` as an SVG element, drawn by this server; the URI travels in a POST body, never in a URL. */
async function qrCode(uri) {
  try {
    const response = await fetch('/account/qr', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', accept: 'image/svg+xml' },
      body: JSON.stringify({ uri }),
    });
    if (!response.ok) return undefined;
    // Parsed as SVG (an XML parser runs no script), and only a clean <svg> root is taken.
    const svg = new DOMParser().parseFromString(await response.text(), 'image/svg+xml').documentElement;
    if (svg.namespaceURI !== 'http://www.w3.org/2000/svg' || svg.localName !== 'svg' || svg.querySelector('parsererror')) return undefined;
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', 'QR code to scan with your authenticator app');
    return document.importNode(svg, true);
  } catch {
    return undefined;
  }
}

const confirmForm = byId('totp-confirm-form');
let setupSecret = '';
function endSetup() {
  settingUp = false;
  setupSecret = '';
  byId('totp-secret').textContent = '';
  byId('totp-qr').replaceChildren();
  confirmForm.reset();
}

byId('totp-start').addEventListener('click', async (event) => {
  const button = event.currentTarget;
  byId('twostep-status').hidden = true;
  button.disabled = true;
  const res = await withProofs(() => call('POST', '/api/auth/mfa/totp'), twoStepEnd);
  button.disabled = false;
  if (!res) return;
  if (!res.ok) {
    status('twostep-status', res.data.error);
    return res.data.code === 'already_enabled' ? loadTwoStep() : undefined;
  }
  settingUp = true;
  setupSecret = res.data.secret;
  byId('totp-secret').textContent = groupsOfFour(setupSecret);
  const qr = byId('totp-qr');
  qr.replaceChildren(el('p', { class: 'muted', text: 'Drawing the QR code…' }));
  showTwoStep('setup');
  twoStepParts.setup.focus();
  const svg = await qrCode(res.data.uri);
  qr.replaceChildren(svg ?? el('p', { class: 'error', text: 'The QR code could not be shown. Enter the key below in the app instead.' }));
});

byId('totp-secret-copy').addEventListener('click', async () => {
  status('twostep-status', (await copyText(setupSecret)) ? 'Key copied.' : 'Could not copy. Select the key and copy it.');
});

byId('totp-cancel').addEventListener('click', () => {
  endSetup();
  showTwoStep('off');
  byId('totp-start').focus();
});

onSubmit(confirmForm, async (v) => {
  const code = readCode(v.code);
  // A wrong code is counted against the account: a typo is caught here, before it costs one.
  if (!code) return showError(confirmForm, { issues: [{ path: ['code'], message: 'Enter the 6 digits the app shows.' }] });
  const res = await withProofs(() => call('POST', '/api/auth/mfa/totp/confirm', { code }), twoStepEnd);
  if (!res) return;
  if (!res.ok) {
    if (res.data.code === 'invalid_code') {
      return showError(confirmForm, { issues: [{ path: ['code'], message: 'That code is not right. Enter the code the app shows now.' }] });
    }
    if (res.data.code === 'no_pending_setup') {
      endSetup();
      await loadTwoStep();
      return status('twostep-status', 'This setup is no longer waiting. Start again.');
    }
    return showError(confirmForm, res.data);
  }
  endSetup();
  await loadTwoStep();
  // The first factor turns two-step on (a credential change); besides passkeys, the app is one more.
  status('twostep-status', res.data.recoveryCodes ? 'Two-step sign-in is on. Every other session was signed out.' : 'The authenticator app is set up.');
  if (res.data.recoveryCodes) showCodes(res.data.recoveryCodes);
  await Promise.all([loadSessions(), loadEvents()]);
});

// Recovery codes are shown once: here, until "I have stored them" or the page goes away. They
// show after `near`, in the section whose action made them; "I have stored them" goes back to its heading.
let shownCodes = [];
let codesHeading = 'twostep-h';
function showCodes(codes, near = byId('recovery-box'), heading = 'twostep-h') {
  near.after(byId('recovery-codes'));
  codesHeading = heading;
  shownCodes = codes;
  byId('recovery-list').replaceChildren(...codes.map((code) => el('li', {}, el('code', { text: code }))));
  byId('recovery-status').hidden = true;
  byId('recovery-codes').hidden = false;
  byId('recovery-codes-h').focus();
}

function codesFile() {
  const email = byId('profile-email').textContent.trim();
  const made = new Date().toISOString().slice(0, 10);
  return `Latch recovery codes for ${email} (made ${made})\n\nEach code signs you in once, instead of a code from your authenticator app or a passkey.\nMaking new codes stops these from working.\n\n${shownCodes.join('\n')}\n`;
}

byId('recovery-copy').addEventListener('click', async () => {
  status('recovery-status', (await copyText(shownCodes.join('\n'))) ? 'Codes copied.' : 'Could not copy. Select the codes and copy them.');
});
byId('recovery-download').addEventListener('click', () => {
  downloadText('latch-recovery-codes.txt', codesFile());
  status('recovery-status', 'Codes downloaded as latch-recovery-codes.txt.');
});
function hideCodes() {
  shownCodes = [];
  byId('recovery-list').replaceChildren();
  byId('recovery-codes').hidden = true;
}
byId('recovery-done').addEventListener('click', () => {
  hideCodes();
  byId(codesHeading).focus();
});

byId('recovery-new').addEventListener('click', async (event) => {
  const button = event.currentTarget;
  byId('twostep-status').hidden = true;
  button.disabled = true;
  const res = await withProofs(() => call('POST', '/api/auth/mfa/recovery-codes'), twoStepEnd);
  button.disabled = false;
  if (!res) return;
  if (!res.ok) {
    if (res.data.code !== 'mfa_not_enabled') return status('twostep-status', res.data.error);
    await loadTwoStep();
    return status('twostep-status', 'Two-step sign-in is off, so there are no recovery codes to make.');
  }
  showCodes(res.data.recoveryCodes);
  status('twostep-status', 'New recovery codes made. The old ones no longer work.');
  await Promise.all([loadTwoStep(), loadEvents()]);
});

const offForm = byId('totp-off-form');
const offStart = byId('totp-off-start');
const toggleOff = (open) => {
  offForm.hidden = !open;
  offStart.hidden = open;
  offStart.setAttribute('aria-expanded', String(open));
  if (open) offForm.querySelector('input[type=password]').focus();
  else offStart.focus();
};
offStart.addEventListener('click', () => toggleOff(true));
byId('totp-off-cancel').addEventListener('click', () => {
  offForm.reset();
  toggleOff(false);
});
onSubmit(offForm, async (v) => {
  if (!(await reauth(offForm, v.password))) return;
  const res = await withProofs(() => call('DELETE', '/api/auth/mfa/totp', { password: v.password }), offForm);
  if (!res) return;
  if (!res.ok && res.status !== 404) return showError(offForm, res.data);
  offForm.reset();
  toggleOff(false);
  await loadTwoStep();
  if (!twoStepOn()) hideCodes(); // turning off deleted them
  // 404: it was already off (turned off from another device meanwhile). With passkeys, two-step stays on.
  status('twostep-status',
    twoStepOn() ? 'The authenticator app is removed. Your passkeys go on serving as the second step.'
    : res.ok ? 'Two-step sign-in is off. Every other session was signed out.'
    : 'Two-step sign-in is off.');
  byId('totp-start').focus();
  await Promise.all([loadSessions(), loadEvents()]);
});

// Passkeys: listed from GET /mfa (with the two-step state), added with the browser's prompt,
// renamed in place, removed after a confirmation. Adding and removing need fresh proofs.
const passkeyPath = (passkey) => `/api/auth/passkeys/${encodeURIComponent(passkey.id)}`;
const passkeyItem = (passkey) => byId('passkey-list').querySelector(`li[data-passkey-id="${CSS.escape(passkey.id)}"]`);
/** After the list is drawn again, the focus goes back to a button of the item that had it. */
const focusPasskeyButton = (passkey, action) => passkeyItem(passkey)?.querySelector(`[data-action="${action}"]`)?.focus();

/** A small button of a passkey; its name starts with the visible text (WCAG 2.5.3), then says which passkey. */
function passkeyButton(text, action, passkey, onClick) {
  const button = el('button', { type: 'button', class: 'secondary small', 'data-action': action, text, 'aria-label': `${text}: ${passkey.name}` });
  button.addEventListener('click', onClick);
  return button;
}

function showPasskeys() {
  const items = factors.passkeys.map((passkey) => {
    const title = el('p', { class: 'device' }, el('strong', { text: passkey.name }));
    if (passkey.backedUp) title.append(' ', el('span', { class: 'badge', text: 'synced' }));
    const used = passkey.lastUsedAt ? ['last used ', when(passkey.lastUsedAt)] : ['not used yet'];
    const facts = el('p', { class: 'muted' }, 'Added ', day(passkey.createdAt), ' · ', ...used);
    const actions = el('div', { class: 'actions' },
      passkeyButton('Rename', 'rename', passkey, () => startRename(passkey)),
      passkeyButton('Remove', 'remove', passkey, () => confirmRemove(passkey)),
    );
    return el('li', { 'data-passkey-id': passkey.id }, el('div', {}, title, facts), actions);
  });
  byId('passkey-list').replaceChildren(...(items.length ? items : [el('li', { class: 'muted', text: 'No passkeys yet.' })]));
}

/** Puts `content` in place of a passkey's line (one at a time); Escape or `back` draws the list again. */
function inPlaceOf(passkey, content, back) {
  showPasskeys();
  const item = passkeyItem(passkey);
  item.replaceChildren(content);
  item.classList.add('editing');
  content.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') back();
  });
}

let renames = 0;
function startRename(passkey) {
  const id = `pk-rename-${++renames}`;
  const input = el('input', { id, name: 'name', type: 'text', value: passkey.name, required: '', maxlength: '64', autocomplete: 'off', 'aria-describedby': `${id}-error` });
  const cancel = el('button', { type: 'button', class: 'secondary small', text: 'Cancel' });
  const form = el('form', { class: 'rename', novalidate: '' },
    el('div', { class: 'field' },
      el('label', { for: id, text: `New name for “${passkey.name}”` }),
      input,
      el('p', { class: 'error', id: `${id}-error`, 'data-error-for': 'name', hidden: '' }),
    ),
    el('div', { class: 'alert', role: 'alert', 'data-form-alert': '', hidden: '' }),
    el('div', { class: 'actions' }, el('button', { type: 'submit', class: 'small', text: 'Save name' }), cancel),
  );
  const back = () => {
    showPasskeys();
    focusPasskeyButton(passkey, 'rename');
  };
  cancel.addEventListener('click', back);
  inPlaceOf(passkey, form, back);
  onSubmit(form, async (v) => {
    const res = await call('PATCH', passkeyPath(passkey), { name: v.name.trim() });
    if (!res.ok && res.status !== 404) return showError(form, res.data);
    await loadTwoStep();
    if (!res.ok) {
      byId('passkeys-h').focus();
      return status('passkeys-status', 'That passkey was removed meanwhile, from another device.');
    }
    status('passkeys-status', `The passkey is now called “${res.data.passkey.name}”.`);
    focusPasskeyButton(passkey, 'rename');
  });
  input.focus();
  input.select();
}

function confirmRemove(passkey) {
  // Without the app, the last passkey is the last second factor: two-step ends with it.
  const last = !factors.totp && factors.passkeys.length === 1;
  const question = el('p', { tabindex: '-1', text: `Remove “${passkey.name}”? You can no longer sign in with it.` });
  if (last) question.append(' It is your only second step: two-step sign-in turns off, and every other session is signed out.');
  const remove = el('button', { type: 'button', class: 'danger small', text: 'Remove passkey' });
  const cancel = el('button', { type: 'button', class: 'secondary small', text: 'Cancel' });
  const back = () => {
    showPasskeys();
    focusPasskeyButton(passkey, 'remove');
  };
  cancel.addEventListener('click', back);
  remove.addEventListener('click', () => removePasskey(passkey, remove));
  inPlaceOf(passkey, el('div', { class: 'confirm' }, question, el('div', { class: 'actions' }, remove, cancel)), back);
  question.focus();
}

async function removePasskey(passkey, button) {
  byId('passkeys-status').hidden = true;
  button.disabled = true;
  const wasOn = twoStepOn();
  const res = await withProofs(() => call('DELETE', passkeyPath(passkey)), byId('passkey-list'));
  button.disabled = false;
  if (!res) return; // the proof was not given: the question stays
  // 404: removed already, from another device; the outcome is the same.
  if (!res.ok && res.status !== 404) return status('passkeys-status', res.data.error);
  await loadTwoStep();
  const off = wasOn && !twoStepOn();
  status('passkeys-status', `“${passkey.name}” is removed.${off ? ' Two-step sign-in is off. Every other session was signed out.' : ''}`);
  if (off) hideCodes(); // turning off deleted them
  byId('passkeys-h').focus(); // the line that had the focus is gone
  await Promise.all([loadSessions(), loadDevices(), loadEvents()]);
}

const addForm = byId('passkey-add-form');
const addName = byId('pk-name');
// A name to start from, which tells this device from others; the person may change it.
const suggestName = () => (addName.value = describeAgent(navigator.userAgent));
if (passkeysSupported()) suggestName();
else {
  addForm.hidden = true;
  byId('passkeys-unsupported').hidden = false;
}
onSubmit(addForm, async (v) => {
  byId('passkeys-status').hidden = true;
  const options = await withProofs(() => call('POST', '/api/auth/passkeys/register/options'), addForm);
  if (!options) return;
  if (!options.ok) return showError(addForm, options.data);
  let response;
  try {
    response = await startRegistration({ optionsJSON: options.data });
  } catch (error) {
    if (!wasAborted(error)) showAlert(addForm, ceremonyError(error, 'The passkey prompt was closed; no passkey was added. You can try again.'));
    return;
  }
  const res = await withProofs(() => call('POST', '/api/auth/passkeys/register', { response, name: v.name.trim() }), addForm);
  if (!res) return;
  if (!res.ok) {
    if (res.data.code === 'invalid_passkey') return showAlert(addForm, 'The new passkey was not accepted, and nothing was added. Try again.');
    return showError(addForm, res.data);
  }
  addForm.reset();
  suggestName();
  await loadTwoStep();
  // The first second factor turns two-step on: a credential change, and recovery codes, shown once.
  const codes = res.data.recoveryCodes;
  status('passkeys-status', `Passkey “${res.data.passkey.name}” added.${codes ? ' Two-step sign-in is on. Every other session was signed out.' : ''}`);
  if (codes) showCodes(codes, addForm, 'passkeys-h');
  await Promise.all([loadSessions(), loadDevices(), loadEvents()]);
});

loadSessions();
loadDevices();
loadEvents();
loadTwoStep();
