/** The pages of a visitor who is not signed in: sign in, register, forgot/reset password, verify email. */
import type { User } from '../domain/user.js';
import { field, formAlert, html, page, type Html } from './html.js';

export interface PasswordRules {
  minLength: number;
  maxLength: number;
}

/** Notices the login page can show after a redirect; only these fixed texts, never the query itself. */
const LOGIN_NOTICES: Record<string, string> = {
  'password-reset': 'Your password was changed. Sign in with the new one.',
  'signed-out': 'You are signed out.',
  'account-deleted': 'Your account was deleted.',
  // This browser's session was ended elsewhere (another device, a password change) or ran out:
  // say so, or the person meets a bare form and thinks the page broke.
  'session-ended': 'You were signed out. Sign in again to continue.',
  // The pending sign-in ran out (MFA_PENDING_TIMEOUT) or too many wrong codes ended it.
  'second-step-ended': 'This sign-in has expired; sign in again.',
};

/** Why a passkey did not work, under its button (the form's own alert is for the form). */
const passkeyAlert = html`<div class="alert" role="alert" data-passkey-alert hidden></div>`;

export function loginPage(next: string | undefined, notice: string | undefined, rememberDays: number): string {
  const text = notice === undefined ? undefined : LOGIN_NOTICES[notice];
  return page({
    title: 'Sign in',
    scripts: ['/assets/passkey-sign-in.js'],
    body: html`<section class="card narrow">
<h1>Sign in</h1>
${text ? html`<p class="notice" role="status">${text}</p>` : ''}
<form id="login-form" novalidate data-next="${next ?? ''}">
  ${field({ name: 'email', label: 'Email', type: 'email', autocomplete: 'username webauthn' })}
  ${field({ name: 'password', label: 'Password', type: 'password', autocomplete: 'current-password' })}
  <div class="check">
    <input id="rememberMe" name="rememberMe" type="checkbox">
    <label for="rememberMe">Keep me signed in on this device for ${rememberDays} days</label>
  </div>
  ${formAlert}
  <button type="submit">Sign in</button>
</form>
<div class="passkey" data-passkey hidden>
  <p class="or">or</p>
  <button type="button" class="secondary" id="passkey-sign-in">Sign in with a passkey</button>
  <p class="hint" data-passkey-unsupported hidden>This browser cannot use passkeys here; sign in with your password.</p>
  ${passkeyAlert}
</div>
<p class="links"><a href="/forgot-password">Forgot your password?</a> · <a href="/register">Create an account</a></p>
</section>`,
  });
}

/** The digits of an authenticator app, as phones offer them from an SMS or an app (one-time-code). */
export const TOTP_CODE_ATTRIBUTES = { inputmode: 'numeric', pattern: '[0-9]{6}', maxlength: '7', spellcheck: 'false' };

/** The ways to finish a sign-in, as POST /login names them (`methods`), in the order offered. */
export const SECOND_STEP_METHODS = ['passkey', 'totp', 'recovery_code'] as const;
export type SecondStepMethod = (typeof SECOND_STEP_METHODS)[number];

/**
 * The second step of a sign-in, for a browser holding a pending session (the password was
 * right, two-step sign-in is on), with the methods the login answered (all when unknown): a
 * passkey, an app code, or a recovery code instead. Both codes go to the same form, and the
 * script keeps only the shown one enabled.
 */
export function secondStepPage(next: string | undefined, methods: readonly SecondStepMethod[] = SECOND_STEP_METHODS): string {
  return page({
    title: 'Two-step sign-in',
    scripts: methods.includes('passkey') ? ['/assets/passkey-sign-in.js'] : [],
    body: html`<section class="card narrow">
<h1>Two-step sign-in</h1>
${secondStepForm(next, methods)}
<p class="links"><a href="/login">Start again</a></p>
</section>`,
  });
}

/**
 * The form of the second step (pages.js and passkey-sign-in.js drive it). It also steps up a
 * signed-in session that proved the password alone (a remembered browser): that browser is
 * remembered already, so `rememberDevice: false` leaves the offer out.
 */
export function secondStepForm(
  next: string | undefined,
  methods: readonly SecondStepMethod[],
  { rememberDevice = true }: { rememberDevice?: boolean } = {},
): Html {
  const has = (method: SecondStepMethod) => methods.includes(method);
  const codes = has('totp') || has('recovery_code');
  return html`<form id="second-step-form" novalidate data-next="${next ?? ''}">
  ${has('passkey')
    ? html`<div class="passkey" data-passkey hidden>
    <p>Confirm with a passkey of your account: your fingerprint, face or screen lock, or a security key.</p>
    <button type="button" id="passkey-second-step">Use a passkey</button>
    <p class="hint" data-passkey-unsupported hidden>This browser cannot use passkeys here${codes ? '; enter a code instead' : ''}.</p>
    ${passkeyAlert}
    ${codes ? html`<p class="or">or</p>` : ''}
  </div>`
    : ''}
  ${has('totp')
    ? html`<div data-method="totp">
    ${field({ name: 'code', label: 'Code from your authenticator app', autocomplete: 'one-time-code', hint: 'Open the app and enter the 6 digits it shows for this account.', attributes: TOTP_CODE_ATTRIBUTES })}
  </div>`
    : ''}
  ${has('recovery_code')
    ? html`<div data-method="recovery_code" hidden>
    ${field({ name: 'recoveryCode', label: 'Recovery code', autocomplete: 'off', hint: 'One of the codes you stored when you turned on two-step sign-in, like 7KQM-2F9X-HT4R-B8CW. Each works once.', attributes: { autocapitalize: 'characters', spellcheck: 'false', maxlength: '64' } })}
  </div>`
    : ''}
  ${codes ? html`<p><button type="button" class="link" id="method-toggle" aria-controls="second-step-form">Use a recovery code instead</button></p>` : ''}
  ${rememberDevice
    ? html`<div class="check">
    <input id="rememberDevice" name="rememberDevice" type="checkbox" aria-describedby="rememberDevice-hint">
    <label for="rememberDevice">Remember this device</label>
  </div>
  <p class="hint" id="rememberDevice-hint">On a device only you use, your password alone signs you in here for a while.</p>`
    : ''}
  ${formAlert}
  ${codes ? html`<button type="submit">Verify</button>` : ''}
</form>`;
}

export function registerPage(rules: PasswordRules): string {
  return page({
    title: 'Create account',
    body: html`<section class="card narrow">
<h1>Create your account</h1>
<form id="register-form" novalidate data-weak-field="password">
  ${field({ name: 'name', label: 'Name', autocomplete: 'name' })}
  ${field({ name: 'email', label: 'Email', type: 'email', autocomplete: 'email' })}
  ${field({ name: 'password', label: 'Password', type: 'password', autocomplete: 'new-password', strength: rules })}
  ${formAlert}
  <button type="submit">Create account</button>
</form>
<p class="links">Already have an account? <a href="/login">Sign in</a></p>
</section>`,
  });
}

export function forgotPasswordPage(): string {
  return page({
    title: 'Forgot password',
    body: html`<section class="card narrow">
<h1>Forgot your password?</h1>
<p>Enter the email address of your account and we will send you a link to choose a new password.</p>
<form id="forgot-form" novalidate>
  ${field({ name: 'email', label: 'Email', type: 'email', autocomplete: 'email' })}
  ${formAlert}
  <button type="submit">Send reset link</button>
</form>
<p class="links"><a href="/login">Back to sign in</a></p>
</section>`,
  });
}

const missingToken = (what: string) =>
  html`<p class="notice warn" role="status">This ${what} link is incomplete. Open the link from the email again, or request a new one.</p>`;

export function resetPasswordPage(token: string | undefined, rules: PasswordRules): string {
  return page({
    title: 'Choose a new password',
    body: html`<section class="card narrow">
<h1>Choose a new password</h1>
${token
  ? html`<form id="reset-form" novalidate data-weak-field="password">
  <input type="hidden" name="token" value="${token}">
  ${field({ name: 'password', label: 'New password', type: 'password', autocomplete: 'new-password', strength: rules })}
  ${formAlert}
  <button type="submit">Set new password</button>
</form>`
  : missingToken('reset')}
<p class="links"><a href="/forgot-password">Request a new link</a> · <a href="/login">Sign in</a></p>
</section>`,
  });
}

/**
 * Verification needs a click: a GET that consumed the token would let mail scanners and link
 * previews verify an address nobody opened.
 */
export function verifyEmailPage(token: string | undefined, viewer: User | undefined): string {
  const signedIn = viewer !== undefined;
  return page({
    title: 'Verify email',
    signedIn,
    admin: viewer?.role === 'admin',
    body: html`<section class="card narrow">
<h1>Verify your email address</h1>
${token
  ? html`<form id="verify-form" novalidate>
  <input type="hidden" name="token" value="${token}">
  <p>Confirm that this address belongs to you.</p>
  ${formAlert}
  <button type="submit">Confirm email address</button>
</form>`
  : missingToken('verification')}
<p class="links">${signedIn ? html`<a href="/account">Go to your account</a>` : html`<a href="/login">Sign in</a>`}</p>
</section>`,
  });
}
