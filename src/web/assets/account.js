// The account page: sessions and security activity from the API, and the account forms.
// Any 401 means this browser's session is gone (signed out elsewhere): back to sign in.
import { api, goToLogin, onSubmit, showAlert, showError } from './lib.js';

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

loadSessions();
loadEvents();
