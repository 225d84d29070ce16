/**
 * The administration pages (API.md, "Administration"): the accounts list and one account. They
 * are shells like /account: the router lets only an administrator with a two-step session in
 * (the API's own rule, so a page never shows what its calls would refuse), and the scripts
 * load the data from /api/admin and act through it. Every destructive action asks first.
 */
import type { User } from '../domain/user.js';
import { secondStepForm, SECOND_STEP_METHODS } from './guest-pages.js';
import { field, formAlert, html, page, type Html } from './html.js';

export interface UserListView {
  query?: string;
  cursor?: string;
  limit?: number;
}

export function adminUsersPage({ query, cursor, limit }: UserListView): string {
  const first = new URLSearchParams({ ...(query ? { query } : {}), ...(limit ? { limit: String(limit) } : {}) }).toString();
  const firstPage = `/admin${first ? `?${first}` : ''}`;
  return page({
    title: 'Accounts',
    signedIn: true,
    admin: true,
    scripts: ['/assets/admin-users.js'],
    body: html`<h1>Accounts</h1>
<section class="card">
  <form role="search" method="get" action="/admin" class="search" id="user-search">
    ${field({ name: 'query', label: 'Search by email or name', type: 'search', autocomplete: 'off', optional: true, value: query ?? '' })}
    <button type="submit">Search</button>
  </form>
  <div id="user-list" data-query="${query ?? ''}" data-cursor="${cursor ?? ''}" data-limit="${limit ?? ''}">
    <p class="muted" role="status" id="list-status">Loading…</p>
    <ul class="users" id="users" aria-label="Accounts"></ul>
    <nav class="pages" aria-label="Pages of accounts">
      ${cursor ? html`<a href="${firstPage}">First page</a>` : ''}
      <a id="next-page" hidden>Next page</a>
    </nav>
  </div>
</section>`,
  });
}

/** A part of the Manage section: what the action does, its button, and its question when it has one. */
const action = (id: string, body: Html, hidden = false) =>
  html`<div class="admin-action" id="${id}"${hidden ? ' hidden' : ''}>${body}</div>`;

const confirmButtons = (text: string, { danger = true } = {}) => html`${formAlert}
    <div class="actions">
      <button type="submit"${danger ? html` class="danger"` : ''}>${text}</button>
      <button type="button" class="secondary" data-cancel>Cancel</button>
    </div>`;

/** Disable (with a reason) or enable; not on the administrator's own account (API.md: 409 `self_target`). */
const accessAction = () =>
  action(
    'access',
    html`<div data-when="enabled">
      <p>Disabling signs the person out everywhere at once. Their password, passkeys and mailed links stop working until the account is enabled again.</p>
      <button type="button" class="secondary" data-opens="disable-form" aria-expanded="false" aria-controls="disable-form">Disable account…</button>
      <form id="disable-form" class="confirm" novalidate hidden>
        ${field({ name: 'reason', label: 'Reason (optional)', idPrefix: 'disable-', optional: true, autocomplete: 'off', hint: 'Kept with the account, for the administrators.', attributes: { maxlength: '500' } })}
        ${confirmButtons('Disable account')}
      </form>
    </div>
    <div data-when="disabled" hidden>
      <p>This account is disabled: it cannot sign in.</p>
      <button type="button" id="enable">Enable account</button>
    </div>`,
  );

/** The button's words and the question's depend on the role the account has now: the script sets them. */
const roleAction = () =>
  action(
    'role',
    html`<p data-role-text></p>
    <button type="button" class="secondary" data-opens="role-form" aria-expanded="false" aria-controls="role-form"></button>
    <form id="role-form" class="confirm" novalidate hidden>
      <p class="notice warn" data-role-warning></p>
      ${confirmButtons('', { danger: false })}
    </form>`,
  );

const deleteAction = () =>
  action(
    'delete',
    html`<p>Deleting removes the account, its sessions and its history for good.</p>
    <button type="button" class="danger" data-opens="delete-form" aria-expanded="false" aria-controls="delete-form">Delete account…</button>
    <form id="delete-form" class="confirm" novalidate hidden>
      <p class="notice warn">This cannot be undone.</p>
      <div class="check">
        <input id="delete-confirm" name="confirm" type="checkbox" required aria-describedby="delete-confirm-error">
        <label for="delete-confirm">I understand that this account will be deleted permanently</label>
      </div>
      <p class="error" id="delete-confirm-error" data-error-for="confirm" hidden></p>
      ${confirmButtons('Delete account')}
    </form>`,
  );

/** One account; `self` when the administrator looks at their own. */
export function adminUserPage(id: string, viewer: User): string {
  const self = id === viewer.id;
  return page({
    title: 'Account',
    signedIn: true,
    admin: true,
    scripts: ['/assets/admin-user.js'],
    body: html`<p class="back"><a href="/admin">All accounts</a></p>
<div id="admin-user" data-user-id="${id}" data-admin-id="${viewer.id}">
<h1 id="user-h" tabindex="-1">Account</h1>
<div class="alert" role="alert" id="user-error" hidden></div>
<p class="notice" role="status" id="user-done" hidden></p>
<div id="user-parts" hidden>
<section class="card" aria-labelledby="profile-h">
  <h2 id="profile-h">Profile</h2>
  <dl class="profile">
    <dt>Name</dt><dd data-field="name"></dd>
    <dt>Email</dt><dd data-field="email"></dd>
    <dt>Status</dt><dd data-field="status"></dd>
    <dt>Member since</dt><dd data-field="createdAt"></dd>
    <dt>Last sign-in</dt><dd data-field="lastLoginAt"></dd>
    <dt data-if-disabled>Disabled because</dt><dd data-if-disabled data-field="disabledReason"></dd>
  </dl>
</section>

<section class="card" aria-labelledby="manage-h">
  <h2 id="manage-h" tabindex="-1">Manage</h2>
  <p class="notice" role="status" id="manage-status" hidden></p>
  ${self
    ? html`<p class="notice">This is your own account: another administrator can disable it, change its role or delete it, you cannot.</p>`
    : accessAction()}
  ${action(
    'reset-link',
    html`<p>Mail the person a link to choose a new password.</p>
    <button type="button" class="secondary" id="send-reset">Send password reset link</button>`,
  )}
  ${action(
    'two-step',
    html`<p>For someone who lost their phone and their recovery codes: resetting removes every second factor of the account.</p>
    <button type="button" class="secondary" data-opens="mfa-form" aria-expanded="false" aria-controls="mfa-form">Reset two-step sign-in…</button>
    <form id="mfa-form" class="confirm" novalidate hidden>
      <p class="notice warn" data-mfa-warning></p>
      ${confirmButtons('Reset two-step sign-in')}
    </form>`,
    true,
  )}
  ${self ? '' : [roleAction(), deleteAction()]}
</section>

<section class="card" aria-labelledby="sessions-h">
  <h2 id="sessions-h" tabindex="-1">Sessions</h2>
  <p class="muted">The browsers where the person is signed in. They end together: there is no ending one of them here.</p>
  <ul class="sessions" id="sessions" aria-live="polite"></ul>
  <button type="button" class="secondary" id="end-sessions" hidden>End all sessions</button>
  <p class="notice" role="status" id="sessions-status" hidden></p>
</section>

<section class="card" aria-labelledby="events-h">
  <h2 id="events-h">Recent activity</h2>
  <ol class="events" id="events"></ol>
</section>
</div>
</div>`,
  });
}

/** A signed-in person who is no administrator (403). */
export function notAdminPage(): string {
  return page({
    title: 'Administrators only',
    signedIn: true,
    body: html`<section class="card narrow">
<h1>You need an administrator account</h1>
<p>These pages are for the administrators of this site, and your account is not one of them. If you need them, ask an administrator.</p>
<p class="links"><a href="/account">Go to your account</a></p>
</section>`,
  });
}

/**
 * An administrator whose session proved the password alone (403, as the API's
 * `second_factor_required`). With two-step sign-in on, this browser is a remembered one: the
 * second step right here steps the session up, and the page comes back. Without it, there is
 * no second step to give yet.
 */
export function adminSecondStepPage(next: string, viewer: User): string {
  return page({
    title: 'Sign in with your second step',
    signedIn: true,
    admin: true,
    scripts: viewer.twoFactor ? ['/assets/passkey-sign-in.js'] : [],
    body: html`<section class="card narrow">
<h1>Sign in with your second step</h1>
${viewer.twoFactor
  ? html`<p>Administration needs a sign-in proven by two steps. This browser is remembered, so your password alone signed you in: confirm with your second step to go on.</p>
${secondStepForm(next, SECOND_STEP_METHODS, { rememberDevice: false })}`
  : html`<p>Administration needs a sign-in proven by two steps: your password, then an authenticator app or a passkey. Your account has no second step yet.</p>
<p>Turn on two-step sign-in on your account page, then come back here.</p>
<p class="links"><a href="/account#twostep">Go to your account</a></p>`}
</section>`,
  });
}
