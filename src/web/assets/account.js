// The account page: sessions and security activity from the API, and the account forms.
// Any 401 means this browser's session is gone (signed out elsewhere): back to sign in.
import { api, goToLogin, onSubmit, showAlert, showError } from './lib.js';
import { copyText, downloadText, groupsOfFour, readCode } from './two-step.js';

const byId = (id) => document.getElementById(id);

async function call(method, path, body) {
  const res = await api(method, path, body);
  if (res.status === 401 && res.data.code === 'unauthorized') {
    goToLogin();
    return new Promise(() => {}); // the page is going away; nothing after this should run
  }
  return res;
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else node.setAttribute(key, value);
  }
  node.append(...children);
  return node;
}

function status(id, message) {
  const box = byId(id);
  box.textContent = message;
  box.hidden = false;
}

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const when = (iso) => el('time', { datetime: iso, text: dateFormat.format(new Date(iso)) });

/** "Chrome on Linux" from a User-Agent string; good enough to recognise one's own devices. */
export function describeAgent(ua) {
  if (!ua) return 'Unknown device';
  const browser =
    /Edg\//.test(ua) ? 'Edge'
    : /OPR\//.test(ua) ? 'Opera'
    : /Firefox\//.test(ua) ? 'Firefox'
    : /(Headless)?Chrom(e|ium)\//.test(ua) ? 'Chrome'
    : /Safari\//.test(ua) && /Version\//.test(ua) ? 'Safari'
    : /^curl\//.test(ua) ? 'curl'
    : ua.split(/[ /]/)[0] || 'Unknown browser';
  const os =
    /iPhone|iPad|iPod/.test(ua) ? 'iOS'
    : /Android/.test(ua) ? 'Android'
    : /Windows/.test(ua) ? 'Windows'
    : /Mac OS X|Macintosh/.test(ua) ? 'macOS'
    : /CrOS/.test(ua) ? 'ChromeOS'
    : /Linux/.test(ua) ? 'Linux'
    : '';
  return os ? `${browser} on ${os}` : browser;
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

const EVENT_TEXT = {
  registered: 'Account created',
  login_succeeded: 'Signed in',
  login_failed: 'Failed sign-in attempt',
  login_throttled: 'Sign-in attempts blocked (too many)',
  logout: 'Signed out',
  reauthenticated: 'Password confirmed',
  session_revoked: 'A session was signed out',
  sessions_revoked: 'Signed out everywhere else',
  password_changed: 'Password changed',
  password_reset: 'Password reset by email',
  email_verified: 'Email address verified',
  email_change_requested: 'Email change requested',
  email_changed: 'Email address changed',
  account_deleted: 'Account deleted',
  mfa_challenged: 'Password accepted, second step asked',
  mfa_succeeded: 'Signed in with two-step sign-in',
  mfa_failed: 'Wrong two-step code',
  totp_enabled: 'Two-step sign-in turned on',
  totp_disabled: 'Two-step sign-in turned off',
  recovery_codes_generated: 'New recovery codes made',
  recovery_code_used: 'Signed in with a recovery code',
  new_device: 'Signed in from a new browser',
};

let eventsCursor;

async function loadEvents(more = false) {
  const params = new URLSearchParams({ limit: '10' });
  if (more && eventsCursor) params.set('before', eventsCursor);
  const res = await call('GET', `/api/auth/events?${params}`);
  const list = byId('events');
  if (!res.ok) return list.replaceChildren(el('li', { class: 'error', text: res.data.error }));
  const items = res.data.events.map((e) =>
    el('li', {}, el('strong', { text: EVENT_TEXT[e.type] ?? e.type.replace(/_/g, ' ') }), el('span', { class: 'muted' }, ' · ', when(e.at), ` · ${describeAgent(e.userAgent)} · IP ${e.ip || 'unknown'}`)),
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
  const res = await call('POST', '/api/auth/email', { newEmail: v.newEmail, password: v.password });
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
  const res = await call('DELETE', '/api/auth/account', { password: v.password });
  if (!res.ok) return showError(deleteForm, res.data);
  location.assign('/login?notice=account-deleted');
});

// Two-step sign-in. Its state comes from the API; one part of the section shows at a time.
const twoStepParts = { loading: byId('twostep-loading'), off: byId('twostep-off'), setup: byId('totp-setup'), on: byId('twostep-on') };
const showTwoStep = (part) => {
  for (const [name, box] of Object.entries(twoStepParts)) box.hidden = name !== part;
};

async function loadTwoStep() {
  const res = await call('GET', '/api/auth/mfa');
  if (!res.ok) {
    twoStepParts.loading.textContent = res.data.error;
    return showTwoStep('loading');
  }
  if (res.data.totp) {
    const left = res.data.recoveryCodesLeft;
    const few = left <= 3;
    const line = byId('recovery-left');
    line.textContent = `${left === 1 ? '1 recovery code' : `${left} recovery codes`} left.`;
    // With none left, a lost phone means a locked account: say so while there is time.
    if (few) line.textContent += ' Make new ones soon, before you run out.';
    line.className = few ? 'notice warn' : '';
  }
  showTwoStep(res.data.totp ? 'on' : 'off');
}

/**
 * Setting up, confirming, turning off and new recovery codes need a recent password proof.
 * When the API asks for one (403 reauth_required), the password form at the end of the section
 * takes it, and the action runs again. Resolves to the API's answer, or undefined when cancelled.
 */
const reauthForm = byId('reauth-form');
let passwordProven; // settles the pending askPassword()

function askPassword() {
  reauthForm.hidden = false;
  reauthForm.querySelector('input[type=password]').focus();
  return new Promise((resolve) => (passwordProven = resolve));
}

function closeReauth(proven) {
  reauthForm.reset();
  reauthForm.hidden = true;
  passwordProven?.(proven);
  passwordProven = undefined;
}
onSubmit(reauthForm, async (v) => {
  if (await reauth(reauthForm, v.password)) closeReauth(true);
});
byId('reauth-cancel').addEventListener('click', () => closeReauth(false));

async function withRecentPassword(request) {
  const res = await request();
  if (res.status !== 403 || res.data.code !== 'reauth_required') return res;
  return (await askPassword()) ? request() : undefined;
}

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
  setupSecret = '';
  byId('totp-secret').textContent = '';
  byId('totp-qr').replaceChildren();
  confirmForm.reset();
}

byId('totp-start').addEventListener('click', async (event) => {
  const button = event.currentTarget;
  byId('twostep-status').hidden = true;
  button.disabled = true;
  const res = await withRecentPassword(() => call('POST', '/api/auth/mfa/totp'));
  button.disabled = false;
  if (!res) return button.focus();
  if (!res.ok) {
    status('twostep-status', res.data.error);
    return res.data.code === 'already_enabled' ? loadTwoStep() : undefined;
  }
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
  const res = await withRecentPassword(() => call('POST', '/api/auth/mfa/totp/confirm', { code }));
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
  status('twostep-status', 'Two-step sign-in is on. Every other session was signed out.');
  if (res.data.recoveryCodes) showCodes(res.data.recoveryCodes);
  await Promise.all([loadSessions(), loadEvents()]);
});

// Recovery codes are shown once: here, until "I have stored them" or the page goes away.
let shownCodes = [];
function showCodes(codes) {
  shownCodes = codes;
  byId('recovery-list').replaceChildren(...codes.map((code) => el('li', {}, el('code', { text: code }))));
  byId('recovery-status').hidden = true;
  byId('recovery-codes').hidden = false;
  byId('recovery-codes-h').focus();
}

function codesFile() {
  const email = byId('profile-email').textContent.trim();
  const made = new Date().toISOString().slice(0, 10);
  return `Latch recovery codes for ${email} (made ${made})\n\nEach code signs you in once, instead of a code from your authenticator app.\nMaking new codes stops these from working.\n\n${shownCodes.join('\n')}\n`;
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
  byId('twostep-h').focus();
});

byId('recovery-new').addEventListener('click', async (event) => {
  const button = event.currentTarget;
  byId('twostep-status').hidden = true;
  button.disabled = true;
  const res = await withRecentPassword(() => call('POST', '/api/auth/mfa/recovery-codes'));
  button.disabled = false;
  if (!res) return button.focus();
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
  const res = await call('DELETE', '/api/auth/mfa/totp', { password: v.password });
  if (!res.ok && res.status !== 404) return showError(offForm, res.data);
  offForm.reset();
  toggleOff(false);
  hideCodes(); // turning off deleted them
  await loadTwoStep();
  // 404: it was already off (turned off from another device meanwhile).
  status('twostep-status', res.ok ? 'Two-step sign-in is off. Every other session was signed out.' : 'Two-step sign-in is off.');
  byId('totp-start').focus();
  await Promise.all([loadSessions(), loadEvents()]);
});

loadSessions();
loadEvents();
loadTwoStep();
