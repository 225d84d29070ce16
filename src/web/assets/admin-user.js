// One account: its profile, sessions and recent activity from GET /api/admin/users/:id, and the
// administrator's actions on it. Each destructive one asks first, in a form under its button;
// after each, the page loads the account again, so what it shows is what the server holds.
import { badges, call } from './admin.js';
import { clearErrors, onSubmit, showError } from './lib.js';
import { byId, describeAgent, el, eventText, status, when } from './present.js';

const root = byId('admin-user');
const { userId, adminId } = root.dataset;
const base = `/api/admin/users/${encodeURIComponent(userId)}`;
let user;

const slot = (name) => root.querySelector(`[data-field="${name}"]`);

function showUser(u) {
  user = u;
  byId('user-h').textContent = u.name;
  document.title = `${u.name} · Accounts · Latch`;
  slot('name').textContent = u.name;
  slot('email').textContent = u.email;
  const state = badges(u);
  slot('status').replaceChildren(...(state.length > 0 ? state : ['Active']));
  slot('createdAt').replaceChildren(when(u.createdAt));
  slot('lastLoginAt').replaceChildren(u.lastLoginAt ? when(u.lastLoginAt) : 'Never');
  for (const node of root.querySelectorAll('[data-if-disabled]')) node.hidden = !u.disabled;
  slot('disabledReason').textContent = u.disabledReason || 'No reason given';

  // Not on the administrator's own page (API.md: 409 self_target).
  const access = byId('access');
  if (access) {
    access.querySelector('[data-when=enabled]').hidden = u.disabled;
    access.querySelector('[data-when=disabled]').hidden = !u.disabled;
  }
  const role = byId('role');
  if (role) {
    const promote = u.role !== 'admin';
    role.querySelector('[data-role-text]').textContent = promote
      ? `${u.name} is a user. Administrators see and manage every account on these pages.`
      : `${u.name} is an administrator.`;
    role.querySelector('[data-opens]').textContent = promote ? 'Make administrator…' : 'Remove administrator role…';
    role.querySelector('[data-role-warning]').textContent = promote
      ? `${u.name} will see and manage every account, yours too. Their sessions end: they sign in again as an administrator.`
      : `${u.name} will no longer manage accounts. Their sessions end: they sign in again as a user.`;
    role.querySelector('button[type=submit]').textContent = promote ? 'Make administrator' : 'Remove administrator role';
  }
  byId('two-step').hidden = !u.twoFactor;
  byId('mfa-form').querySelector('[data-mfa-warning]').textContent =
    `This removes the authenticator app, passkeys, recovery codes and remembered browsers of ${u.name}, and ends their sessions. They are told by email, and can turn two-step sign-in on again.`;
}

function showSessions(sessions) {
  const items = sessions.map((s) => {
    const title = el('p', { class: 'device' }, el('strong', { text: describeAgent(s.userAgent) }));
    if (s.aal === 'aal2') title.append(' ', el('span', { class: 'badge', text: 'two-step' }));
    if (s.rememberMe) title.append(' ', el('span', { class: 'badge', text: 'remembered' }));
    const facts = el('p', { class: 'muted' }, `IP ${s.ip || 'unknown'} · last used `, when(s.lastSeenAt), ' · signed in ', when(s.createdAt));
    return el('li', {}, el('div', {}, title, facts));
  });
  byId('sessions').replaceChildren(...(items.length > 0 ? items : [el('li', { class: 'muted', text: 'Not signed in anywhere.' })]));
  byId('end-sessions').hidden = sessions.length === 0;
}

/** Who took an action on the account, when it was not its owner. */
function actor(event) {
  if (!event.actor) return '';
  if (event.actor.role === 'cli') return ' · from the command line';
  return event.actor.id === adminId ? ' · by you' : ' · by an administrator';
}

function showEvents(events) {
  const items = events.map((e) =>
    el('li', {}, el('strong', { text: eventText(e.type) }), el('span', { class: 'muted' }, ' · ', when(e.at), `${actor(e)} · ${describeAgent(e.userAgent)} · IP ${e.ip || 'unknown'}`)),
  );
  byId('events').replaceChildren(...(items.length > 0 ? items : [el('li', { class: 'muted', text: 'Nothing yet.' })]));
}

async function load() {
  const res = await call('GET', base);
  if (!res.ok) {
    byId('user-parts').hidden = true;
    const box = byId('user-error');
    box.textContent = res.status === 404 ? 'There is no such account: it may have been deleted.' : res.data.error;
    box.hidden = false;
    return;
  }
  showUser(res.data.user);
  showSessions(res.data.sessions);
  showEvents(res.data.events);
  byId('user-parts').hidden = false;
}

/** After an action: what happened, read out, and the account as it is now. */
async function done(statusId, message) {
  status(statusId, message);
  await load();
}

/**
 * A button (`data-opens`) that opens its question, a form under it. Cancel or Escape closes it
 * and gives the focus back to the button; `answer` runs on submit and resolves to the API's answer.
 */
function question(formId, answer, after) {
  const form = byId(formId);
  if (!form) return; // an action not offered on this page (the administrator's own account)
  const opener = root.querySelector(`[data-opens="${formId}"]`);
  const toggle = (open) => {
    form.hidden = !open;
    opener.setAttribute('aria-expanded', String(open));
    if (open) return form.querySelector('input, button[type=submit]').focus();
    form.reset();
    clearErrors(form);
  };
  const cancel = () => {
    toggle(false);
    opener.focus();
  };
  opener.addEventListener('click', () => toggle(form.hidden));
  form.querySelector('[data-cancel]').addEventListener('click', cancel);
  form.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') cancel();
  });
  onSubmit(form, async (values) => {
    const res = await answer(values);
    if (!res.ok) return showError(form, res.data);
    toggle(false);
    await after();
    // The button may be gone (Disable turns into Enable, the account was deleted): the news is under the heading.
    (byId('manage-h') ?? byId('user-h')).focus();
  });
}

question(
  'disable-form',
  ({ reason }) => call('POST', `${base}/disable`, reason.trim() ? { reason: reason.trim() } : {}),
  () => done('manage-status', `${user.name} is disabled, and signed out everywhere.`),
);
question(
  'role-form',
  () => call('POST', `${base}/role`, { role: user.role === 'admin' ? 'user' : 'admin' }),
  () => done('manage-status', user.role === 'admin' ? `${user.name} is no longer an administrator.` : `${user.name} is now an administrator.`),
);
question(
  'mfa-form',
  () => call('DELETE', `${base}/mfa`),
  () => done('manage-status', `Two-step sign-in of ${user.name} is reset; they were told by email.`),
);
question(
  'delete-form',
  () => call('DELETE', base),
  async () => {
    byId('user-parts').remove();
    status('user-done', `The account of ${user.name} (${user.email}) is deleted.`);
    document.title = 'Account deleted · Latch';
  },
);

/** A button that acts at once (nothing is lost by it), with its outcome in `statusId`. */
function button(id, statusId, act, message) {
  byId(id)?.addEventListener('click', async (event) => {
    const target = event.currentTarget;
    target.disabled = true;
    const res = await act();
    target.disabled = false;
    if (!res.ok) return status(statusId, res.data.error);
    await done(statusId, message(res.data));
    if (target.closest('[hidden]')) byId('manage-h').focus(); // Enable turned into Disable…
  });
}

button('enable', 'manage-status', () => call('POST', `${base}/enable`), () => `${user.name} can sign in again.`);
button('send-reset', 'manage-status', () => call('POST', `${base}/password-reset`), () => `A link to choose a new password is on its way to ${user.email}.`);
button('end-sessions', 'sessions-status', () => call('DELETE', `${base}/sessions`), ({ revoked }) =>
  revoked === 1 ? `Ended 1 session of ${user.name}.` : `Ended ${revoked} sessions of ${user.name}.`,
);

load();
