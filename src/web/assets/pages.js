// Behaviour of the guest pages (sign in, register, forgot/reset password, verify email) and the
// sign-out button in the header. Each form posts JSON to the API with fetch.
import { api, onSubmit, safeNext, showAlert, showError } from './lib.js';
import { attachStrengthHints } from './strength.js';

const byId = (id) => document.getElementById(id);

function wire(id, handler) {
  const form = byId(id);
  if (form) onSubmit(form, (v) => handler(form, v));
}

wire('login-form', async (form, v) => {
  const res = await api('POST', '/api/auth/login', { email: v.email, password: v.password, rememberMe: v.rememberMe });
  if (res.ok || res.data.code === 'already_authenticated') return location.assign(safeNext(form.dataset.next) ?? '/account');
  showError(form, res.data);
});

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
