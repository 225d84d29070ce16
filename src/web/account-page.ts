/**
 * The account page. Profile facts come from the session the request carries; sessions and the
 * security activity are loaded by /assets/account.js from the JSON API, so they stay current
 * after every action without a reload.
 */
import type { User } from '../domain/user.js';
import { field, formAlert, html, page } from './html.js';
import type { PasswordRules } from './guest-pages.js';

export function accountPage(user: User, rules: PasswordRules): string {
  const since = new Date(user.createdAt).toISOString().slice(0, 10);
  return page({
    title: 'Your account',
    signedIn: true,
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
