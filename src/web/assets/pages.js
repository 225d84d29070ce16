// Behaviour of the guest pages (sign in, register, forgot/reset password, verify email) and the
// sign-out button in the header. Each form posts JSON to the API with fetch.
import { api, onSubmit, safeNext, showAlert, showError } from './lib.js';
import { attachStrengthHints } from './strength.js';
import { codeMethods, showCodeError, showCodeTypo } from './two-step.js';

const byId = (id) => document.getElementById(id);

function wire(id, handler) {
  const form = byId(id);
  if (form) onSubmit(form, (v) => handler(form, v));
}

/** `path` with the sign-in's next page, when it has a safe one. */
const withNext = (path, next) => {
  const safe = safeNext(next);
  return safe === undefined ? path : `${path}${path.includes('?') ? '&' : '?'}next=${encodeURIComponent(safe)}`;
};

wire('login-form', async (form, v) => {
  const res = await api('POST', '/api/auth/login', { email: v.email, password: v.password, rememberMe: v.rememberMe });
  // The password was right; the cookie is now a pending session that only the second step finishes.
  if (res.ok && res.data.mfaRequired) return location.assign(withNext('/login/second-step', form.dataset.next));
  if (res.ok || res.data.code === 'already_authenticated') return location.assign(safeNext(form.dataset.next) ?? '/account');
  showError(form, res.data);
});

// The second step: an app code, or a recovery code instead.
const secondStep = byId('second-step-form');
if (secondStep) {
  const methods = codeMethods(secondStep, byId('method-toggle'));
  onSubmit(secondStep, async (v) => {
    const { method, field, code } = methods.read(v);
    // Every wrong code counts against the sign-in: a typo is caught here, before it costs one.
    if (!code) return showCodeTypo(secondStep);
    const res = await api('POST', '/api/auth/mfa/verify', { method, code, rememberDevice: v.rememberDevice });
    if (res.ok) return location.assign(safeNext(secondStep.dataset.next) ?? '/account');
    // The pending sign-in ran out, or wrong codes ended it: only the password form starts a new one.
    if (res.data.code === 'mfa_required') return location.assign(withNext('/login?notice=second-step-ended', secondStep.dataset.next));
    showCodeError(secondStep, field, res);
  });
}

wire('register-form', async (form, v) => {
  const res = await api('POST', '/api/auth/register', { name: v.name, email: v.email, password: v.password });
  if (res.status === 201) return location.assign('/account');
  if (res.status === 202) {
    form.reset();
    return showAlert(form, res.data.message ?? 'Check your email to finish creating your account.', true);
  }
  if (res.data.code === 'already_authenticated') return location.assign('/account');
  showError(form, res.data);
});

wire('forgot-form', async (form, v) => {
  const res = await api('POST', '/api/auth/password/forgot', { email: v.email });
  if (res.ok) return showAlert(form, 'If an account uses this address, a link to reset the password is on its way. Check your inbox.', true);
  showError(form, res.data);
});

wire('reset-form', async (form, v) => {
  const res = await api('POST', '/api/auth/password/reset', { token: v.token, password: v.password });
  if (res.ok) return location.assign('/login?notice=password-reset');
  if (res.data.code === 'invalid_token') res.data.error = 'This reset link is invalid or has expired. Request a new one.';
  showError(form, res.data);
});

wire('verify-form', async (form, v) => {
  const res = await api('POST', '/api/auth/email/verify', { token: v.token });
  if (res.ok) {
    form.querySelector('button[type=submit]')?.remove();
    return showAlert(form, `Thank you: ${res.data.user.email} is verified.`, true);
  }
  if (res.data.code === 'invalid_token') res.data.error = 'This verification link is invalid, used or expired. Sign in and ask for a new one.';
  showError(form, res.data);
});

const logout = byId('logout-form');
if (logout) {
  logout.addEventListener('submit', async (event) => {
    event.preventDefault();
    const res = await api('POST', '/api/auth/logout');
    if (res.ok || res.status === 401) return location.assign('/login?notice=signed-out');
    window.alert(res.data.error);
  });
}

attachStrengthHints(document);
