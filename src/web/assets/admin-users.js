// The accounts list: one page of GET /api/admin/users for the search in the URL; the next page
// is a link (its cursor in the URL), so Back and a reload show the same page.
import { call, badges } from './admin.js';
import { byId, el, when } from './present.js';

const box = byId('user-list');
const { query, cursor, limit } = box.dataset;

function item(user) {
  const link = el('a', { href: `/admin/users/${encodeURIComponent(user.id)}` }, el('strong', { text: user.name }), ' ', el('span', { class: 'email', text: user.email }));
  const seen = user.lastLoginAt ? ['last sign-in ', when(user.lastLoginAt)] : ['never signed in'];
  const sessions = user.sessionCount === 1 ? '1 session' : `${user.sessionCount} sessions`;
  return el(
    'li',
    { 'data-user-id': user.id },
    el('p', { class: 'who' }, link, ' ', ...badges(user)),
    el('p', { class: 'muted' }, ...seen, ` · ${sessions} · joined `, when(user.createdAt)),
  );
}

async function load() {
  const params = new URLSearchParams();
  if (query) params.set('query', query);
  if (cursor) params.set('cursor', cursor);
  if (limit) params.set('limit', limit);
  const res = await call('GET', `/api/admin/users?${params}`);
  const status = byId('list-status');
  if (!res.ok) {
    status.textContent = res.data.error;
    status.className = 'error';
    return;
  }
  const { users, next } = res.data;
  byId('users').replaceChildren(...users.map(item));
  const found = users.length === 1 ? '1 account' : `${users.length} accounts`;
  status.textContent = users.length === 0
    ? (query ? `No account matches “${query}”.` : 'No accounts on this page.')
    : `${found}${query ? ` matching “${query}”` : ''}${cursor ? ', further on' : ''}.`;
  const nextLink = byId('next-page');
  nextLink.hidden = !next;
  if (next) {
    params.set('cursor', next);
    nextLink.href = `/admin?${params}`;
  }
}

load();
