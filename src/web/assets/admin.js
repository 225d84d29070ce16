// What the administration pages share: calling /api/admin, and an account's status as badges.
import { api } from './lib.js';
import { el } from './present.js';

/**
 * Calls the API. A signed-out browser goes to sign in, and comes back here afterwards. The
 * page was only served to an administrator with a two-step session, and a role change ends
 * the sessions of its account, so the guard's 403s have no path of their own here: they are
 * shown as any other error (a reload would show the server's page, but could loop).
 */
export async function call(method, path, body) {
  const res = await api(method, path, body);
  if (res.status === 401 && (res.data.code === 'unauthorized' || res.data.code === 'mfa_required')) {
    const here = location.pathname + location.search;
    location.assign(`/login?next=${encodeURIComponent(here)}&notice=session-ended`);
    return new Promise(() => {}); // the page is going away; nothing after this should run
  }
  return res;
}

/** The account's state in words (never in colour alone): Admin, Disabled, Two-step, Unverified. */
export function badges(user) {
  const list = [];
  if (user.role === 'admin') list.push(el('span', { class: 'badge', text: 'Admin' }));
  if (user.disabled) list.push(el('span', { class: 'badge danger', text: 'Disabled' }));
  if (user.twoFactor) list.push(el('span', { class: 'badge ok', text: 'Two-step' }));
  if (!user.emailVerified) list.push(el('span', { class: 'badge warn', text: 'Unverified' }));
  return list.flatMap((badge, i) => (i === 0 ? [badge] : [' ', badge]));
}
