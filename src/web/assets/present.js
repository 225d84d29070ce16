// How the pages show the API's objects: elements built without markup strings (no value ever
// becomes HTML), dates, the browser behind a User-Agent, and what each audit event means.

export const byId = (id) => document.getElementById(id);

export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else node.setAttribute(key, value);
  }
  node.append(...children);
  return node;
}

/** Shows `message` in the status line `id` (role=status, so it is read out). */
export function status(id, message) {
  const box = byId(id);
  box.textContent = message;
  box.hidden = false;
}

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
export const when = (iso) => el('time', { datetime: iso, text: dateFormat.format(new Date(iso)) });
const dayFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });
export const day = (iso) => el('time', { datetime: iso, text: dayFormat.format(new Date(iso)) });

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
  password_reset_requested: 'Password reset link sent',
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
  device_forgotten: 'A remembered browser was forgotten',
  passkey_added: 'Passkey added',
  passkey_removed: 'Passkey removed',
  passkey_login: 'Signed in with a passkey',
  passkey_counter_error: 'A passkey was refused: its counter went backwards (it may have been copied)',
  account_disabled: 'Account disabled',
  account_enabled: 'Account enabled again',
  role_changed: 'Role changed',
  mfa_reset: 'Two-step sign-in reset',
};

/** What an audit event means, in words; a type added later reads as its name. */
export const eventText = (type) => EVENT_TEXT[type] ?? type.replace(/_/g, ' ');
