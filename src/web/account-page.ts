/**
 * The account page. Profile facts come from the session the request carries; sessions, devices
 * and the security activity are loaded by /assets/account.js from the JSON API, so they stay current
 * after every action without a reload.
 */
import type { User } from '../domain/user.js';
import { field, formAlert, html, page } from './html.js';
import { TOTP_CODE_ATTRIBUTES, type PasswordRules } from './guest-pages.js';

export function accountPage(user: User, rules: PasswordRules): string {
  const since = new Date(user.createdAt).toISOString().slice(0, 10);
  return page({
    title: 'Your account',
    signedIn: true,
    admin: user.role === 'admin',
    scripts: ['/assets/account.js'],
    body: html`<h1>Your account</h1>
<section class="card" aria-labelledby="profile-h">
  <h2 id="profile-h">Profile</h2>
  <dl class="profile">
    <dt>Name</dt><dd id="profile-name">${user.name}</dd>
    <dt>Email</dt><dd><span id="profile-email">${user.email}</span>
      ${user.emailVerified
        ? html`<span class="badge ok">verified</span>`
        : html`<span class="badge warn">not verified</span> <button type="button" class="link" id="resend-verification">Send the verification email again</button>`}</dd>
    <dt>Member since</dt><dd><time datetime="${since}">${since}</time></dd>
  </dl>
  <p class="notice" role="status" id="profile-status" hidden></p>
</section>

<section class="card" aria-labelledby="sessions-h">
  <h2 id="sessions-h">Where you are signed in</h2>
  <ul class="sessions" id="sessions" aria-live="polite"><li class="muted">Loading…</li></ul>
  <button type="button" id="revoke-others" class="secondary">Sign out everywhere else</button>
  <p class="notice" role="status" id="sessions-status" hidden></p>
</section>

<section class="card" aria-labelledby="devices-h">
  <h2 id="devices-h" tabindex="-1">Devices</h2>
  <p class="muted">The browsers that signed in to your account. A remembered browser signs in with your password alone, without the code from your app, until the date shown; Forget ends that sooner.</p>
  <ul class="devices" id="devices" aria-live="polite"><li class="muted">Loading…</li></ul>
  <p class="notice" role="status" id="devices-status" hidden></p>
</section>

<section class="card" aria-labelledby="password-h">
  <h2 id="password-h">Change password</h2>
  <form id="password-form" novalidate data-weak-field="newPassword">
    <input type="text" name="username" autocomplete="username" value="${user.email}" hidden>
    ${field({ name: 'currentPassword', label: 'Current password', type: 'password', autocomplete: 'current-password', idPrefix: 'pw-' })}
    ${field({ name: 'newPassword', label: 'New password', type: 'password', autocomplete: 'new-password', idPrefix: 'pw-', strength: rules })}
    ${formAlert}
    <button type="submit">Change password</button>
  </form>
</section>

<section class="card" aria-labelledby="twostep-h" id="twostep">
  <h2 id="twostep-h" tabindex="-1">Two-step sign-in</h2>
  <p class="muted" id="twostep-loading">Loading…</p>

  <div id="twostep-off" hidden>
    <p data-factors="none">Two-step sign-in is off. Turn it on and signing in needs your password and a code from an authenticator app on your phone (or one of your passkeys), so a stolen password alone is not enough.</p>
    <p data-factors="passkeys" hidden><span class="badge ok">on</span> Two-step sign-in is on: signing in with your password also needs one of your passkeys. An authenticator app can serve as well, for devices without them.</p>
    <button type="button" id="totp-start">Set up an authenticator app</button>
  </div>

  <div id="totp-setup" tabindex="-1" hidden>
    <ol class="steps">
      <li>
        <p>Scan this QR code with your authenticator app.</p>
        <div class="qr" id="totp-qr"></div>
      </li>
      <li>
        <p>Cannot scan it? Enter this key in the app instead:</p>
        <p class="secret-line"><code class="secret" id="totp-secret"></code>
          <button type="button" class="secondary small" id="totp-secret-copy">Copy key</button></p>
      </li>
      <li><p>Enter the code the app now shows, to check that it works.</p></li>
    </ol>
    <form id="totp-confirm-form" novalidate>
      ${field({ name: 'code', label: 'Code from the app', autocomplete: 'one-time-code', idPrefix: 'totp-', attributes: TOTP_CODE_ATTRIBUTES })}
      ${formAlert}
      <div class="actions">
        <button type="submit">Turn on two-step sign-in</button>
        <button type="button" class="secondary" id="totp-cancel">Cancel</button>
      </div>
    </form>
  </div>

  <div id="twostep-on" hidden>
    <p><span class="badge ok">on</span> Two-step sign-in is on: signing in needs your password and a code from your authenticator app<span data-factors="passkeys" hidden> or one of your passkeys</span>.</p>
    <div class="actions">
      <button type="button" class="secondary" id="totp-off-start" aria-expanded="false" aria-controls="totp-off-form">Turn off…</button>
    </div>
    <form id="totp-off-form" novalidate hidden>
      <p data-factors="none">Without two-step sign-in, your password alone signs you in.</p>
      <p data-factors="passkeys" hidden>Your passkeys go on serving as the second step.</p>
      ${field({ name: 'password', label: 'Your password', type: 'password', autocomplete: 'current-password', idPrefix: 'off-' })}
      ${formAlert}
      <div class="actions">
        <button type="submit" class="danger" id="totp-off-submit">Turn off two-step sign-in</button>
        <button type="button" class="secondary" id="totp-off-cancel">Cancel</button>
      </div>
    </form>
  </div>

  <div id="recovery-box" hidden>
    <p id="recovery-left"></p>
    <button type="button" class="secondary" id="recovery-new">Make new recovery codes</button>
  </div>

  <div id="recovery-codes" hidden>
    <h3 id="recovery-codes-h" tabindex="-1">Your recovery codes</h3>
    <p class="notice warn" role="status">Store these codes now, somewhere safe (a password manager, or on paper): they will not be shown again. Each one signs you in once if you lose your phone or your passkeys.</p>
    <ol class="codes" id="recovery-list" aria-labelledby="recovery-codes-h"></ol>
    <div class="actions">
      <button type="button" class="secondary" id="recovery-copy">Copy</button>
      <button type="button" class="secondary" id="recovery-download">Download</button>
      <button type="button" id="recovery-done">I have stored them</button>
    </div>
    <p class="notice" role="status" id="recovery-status" hidden></p>
  </div>

  <form id="reauth-form" novalidate hidden>
    <p>For your security, confirm your password to continue.</p>
    ${field({ name: 'password', label: 'Your password', type: 'password', autocomplete: 'current-password', idPrefix: 'ra-' })}
    ${formAlert}
    <div class="actions">
      <button type="submit">Confirm password</button>
      <button type="button" class="secondary" id="reauth-cancel" data-cancel>Cancel</button>
    </div>
  </form>
  <form id="stepup-form" novalidate hidden>
    <div class="passkey" data-passkey hidden>
      <h3>Confirm with a passkey</h3>
      <p>This browser is remembered, so your password alone signed you in. This change needs one of your passkeys too.</p>
      <button type="button" id="stepup-passkey">Use a passkey</button>
      <div class="alert" role="alert" data-passkey-alert hidden></div>
      <p class="or">or with a code</p>
    </div>
    <div data-method="totp">
      <h3>Confirm with your authenticator app</h3>
      <p>This browser is remembered, so your password alone signed you in. This change needs the code from your app too.</p>
      ${field({ name: 'code', label: 'Code from your authenticator app', autocomplete: 'one-time-code', idPrefix: 'su-', attributes: TOTP_CODE_ATTRIBUTES })}
    </div>
    <div data-method="recovery_code" hidden>
      <h3>Confirm with a recovery code</h3>
      <p>This browser is remembered, so your password alone signed you in. This change needs one of your recovery codes too; it then stops working.</p>
      ${field({ name: 'recoveryCode', label: 'Recovery code', autocomplete: 'off', idPrefix: 'su-', attributes: { autocapitalize: 'characters', spellcheck: 'false', maxlength: '64' } })}
    </div>
    <p><button type="button" class="link" id="stepup-toggle">Use a recovery code instead</button></p>
    ${formAlert}
    <div class="actions">
      <button type="submit">Confirm</button>
      <button type="button" class="secondary" data-cancel>Cancel</button>
    </div>
  </form>
  <p class="notice" role="status" id="twostep-status" hidden></p>
</section>

<section class="card" aria-labelledby="passkeys-h" id="passkeys">
  <h2 id="passkeys-h" tabindex="-1">Passkeys</h2>
  <p class="muted">A passkey signs you in without your password: your device checks that it is you, by fingerprint, face or screen lock. After your password, it also serves as the second step.</p>
  <ul class="passkeys" id="passkey-list" aria-live="polite"><li class="muted">Loading…</li></ul>
  <p class="notice warn" id="passkeys-unsupported" hidden>This browser cannot make passkeys here. You can still rename or remove the ones above.</p>
  <form id="passkey-add-form" novalidate>
    ${field({ name: 'name', label: 'Name of the new passkey', idPrefix: 'pk-', autocomplete: 'off', hint: 'To tell your passkeys apart, like “Work laptop” or “Phone”.', attributes: { maxlength: '64' } })}
    ${formAlert}
    <button type="submit">Add a passkey</button>
  </form>
  <p class="notice" role="status" id="passkeys-status" hidden></p>
</section>

<section class="card" aria-labelledby="email-h">
  <h2 id="email-h">Change email</h2>
  <p>We send a link to the new address; the change takes effect when you open it.</p>
  <form id="email-form" novalidate>
    ${field({ name: 'newEmail', label: 'New email', type: 'email', autocomplete: 'email', idPrefix: 'em-' })}
    ${field({ name: 'password', label: 'Current password', type: 'password', autocomplete: 'current-password', idPrefix: 'em-' })}
    ${formAlert}
    <button type="submit">Change email</button>
  </form>
</section>

<section class="card" aria-labelledby="events-h">
  <h2 id="events-h">Recent security activity</h2>
  <ol class="events" id="events"><li class="muted">Loading…</li></ol>
  <button type="button" id="events-more" class="secondary" hidden>Show older activity</button>
</section>

<section class="card danger" aria-labelledby="delete-h">
  <h2 id="delete-h">Delete account</h2>
  <p>This removes your account, your sessions and your history for good.</p>
  <button type="button" id="delete-start" class="danger" aria-expanded="false" aria-controls="delete-form">Delete account…</button>
  <form id="delete-form" novalidate hidden>
    <p class="notice warn">This cannot be undone.</p>
    ${field({ name: 'password', label: 'Your password', type: 'password', autocomplete: 'current-password', idPrefix: 'del-' })}
    <div class="check">
      <input id="del-confirm" name="confirm" type="checkbox" required aria-describedby="del-confirm-error">
      <label for="del-confirm">I understand that my account will be deleted permanently</label>
    </div>
    <p class="error" id="del-confirm-error" data-error-for="confirm" hidden></p>
    ${formAlert}
    <div class="actions">
      <button type="submit" class="danger">Delete my account</button>
      <button type="button" id="delete-cancel" class="secondary">Cancel</button>
    </div>
  </form>
</section>`,
  });
}
