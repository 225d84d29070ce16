// Behaviour of the guest pages (sign in, register, forgot/reset password, verify email) and the
// sign-out button in the header. Each form posts JSON to the API with fetch.
import { api, onSubmit, secondStepEnded, signedIn, showAlert, showError, withNext } from './lib.js';
import { attachStrengthHints } from './strength.js';
import { codeMethods, showCodeError, showCodeTypo } from './two-step.js';

const byId = (id) => document.getElementById(id);

function wire(id, handler) {
  const form = byId(id);
  if (form) onSubmit(form, (v) => handler(form, v));
}

wire('login-form', async (form, v) => {
  const res = await api('POST', '/api/auth/login', { email: v.email, password: v.password, rememberMe: v.rememberMe });
  // The password was right; the cookie is now a pending session that only the second step finishes,
  // with one of the methods the answer names (the second step's page offers those).
  if (res.ok && res.data.mfaRequired) {
    const methods = (res.data.methods ?? []).map(encodeURIComponent).join(',');
    return location.assign(withNext(`/login/second-step?methods=${methods}`, form.dataset.next));
  }
  if (res.ok || res.data.code === 'already_authenticated') return signedIn(form.dataset.next);
  showError(form, res.data);
});

// The second step: an app code, or a recovery code instead (a passkey: passkey-sign-in.js).
const secondStep = byId('second-step-form');
const methodToggle = byId('method-toggle'); // only when the sign-in takes codes
if (secondStep && methodToggle) {
  const methods = codeMethods(secondStep, methodToggle);
  onSubmit(secondStep, async (v) => {
    const { method, field, code } = methods.read(v);
    // Every wrong code counts against the sign-in: a typo is caught here, before it costs one.
    if (!code) return showCodeTypo(secondStep);
    const res = await api('POST', '/api/auth/mfa/verify', { method, code, rememberDevice: v.rememberDevice });
    if (res.ok) return signedIn(secondStep.dataset.next);
    if (res.data.code === 'mfa_required') return secondStepEnded(secondStep.dataset.next);
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
