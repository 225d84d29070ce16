// Shared helpers for the page scripts: calling the JSON API and showing its errors next to
// the fields they name (issues[].path), or at the top of the form.

/** Calls the API; resolves to { ok, status, data } and never throws. */
export async function api(method, path, body) {
  const init = { method, credentials: 'same-origin', headers: { accept: 'application/json' } };
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    return { ok: false, status: 0, data: { error: 'Could not reach the server. Check your connection and try again.', code: 'network' } };
  }
  let data = null;
  const text = await response.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    if (!data || typeof data.error !== 'string') data = { error: `Something went wrong (${response.status}). Please try again.`, code: 'unknown' };
    if (response.status === 429) {
      const wait = Number(response.headers.get('retry-after'));
      if (wait > 0) data = { ...data, error: `Too many attempts. Try again in ${formatWait(wait)}.` };
    }
  }
  return { ok: response.ok, status: response.status, data };
}

function formatWait(seconds) {
  return seconds < 90 ? `${seconds} seconds` : `${Math.ceil(seconds / 60)} minutes`;
}

/** A signed-out browser lands on the sign-in page, and comes back here afterwards. */
export function goToLogin() {
  const next = location.pathname === '/account' ? '/account' : '/';
  location.assign(`/login?next=${encodeURIComponent(next)}&notice=session-ended`);
}

/** The form's named fields as an object; checkboxes become booleans. */
export function values(form) {
  const out = {};
  for (const el of form.elements) {
    if (!el.name || el.disabled) continue;
    out[el.name] = el.type === 'checkbox' ? el.checked : el.value;
  }
  return out;
}

export function clearErrors(form) {
  for (const slot of form.querySelectorAll('[data-error-for]')) {
    slot.textContent = '';
    slot.hidden = true;
  }
  for (const input of form.querySelectorAll('[aria-invalid]')) input.removeAttribute('aria-invalid');
  const alert = form.querySelector('[data-form-alert]');
  if (alert) {
    alert.textContent = '';
    alert.hidden = true;
    alert.classList.remove('success');
  }
}

/** Which field a code without issues belongs to, per form. */
function fieldForCode(form, code) {
  if (code === 'weak_password') return form.dataset.weakField;
  if (code === 'email_taken') return form.querySelector('[name=newEmail]') ? 'newEmail' : 'email';
  if (code === 'invalid_credentials' && form.id !== 'login-form') {
    return form.querySelector('[name=currentPassword]') ? 'currentPassword' : 'password';
  }
  return undefined;
}

function fieldError(form, path, message) {
  const slot = form.querySelector(`[data-error-for="${CSS.escape(path)}"]`);
  if (!slot) return false;
  slot.textContent = message;
  slot.hidden = false;
  const input = form.querySelector(`[name="${CSS.escape(path)}"]`);
  if (input) input.setAttribute('aria-invalid', 'true');
  return true;
}

/** Puts an API error where it belongs and moves focus to the first field in error. */
export function showError(form, data) {
  let placed = false;
  for (const issue of data.issues ?? []) {
    const path = Array.isArray(issue.path) ? issue.path.join('.') : String(issue.path ?? '');
    if (fieldError(form, path, issue.message)) placed = true;
  }
  if (!placed) {
    const path = fieldForCode(form, data.code);
    placed = path !== undefined && fieldError(form, path, data.error);
  }
  if (!placed) showAlert(form, data.error);
  const invalid = form.querySelector('[aria-invalid=true]');
  if (invalid) invalid.focus();
}

export function showAlert(form, message, success = false) {
  const alert = form.querySelector('[data-form-alert]');
  if (!alert) return;
  alert.textContent = message;
  alert.classList.toggle('success', success);
  alert.hidden = false;
}

/** Required fields are checked here so the messages match the API's, next to the field. */
function missingFields(form) {
  const missing = [];
  for (const el of form.querySelectorAll('[required]')) {
    if (el.disabled) continue; // not in use (values() leaves it out too)
    if (el.type === 'checkbox' ? !el.checked : el.value.trim() === '') missing.push(el);
  }
  return missing;
}

/** Wires a form: validates required fields, disables the button while the handler runs. */
export function onSubmit(form, handler) {
  // An error stays next to its field only until the person changes that field.
  const clearField = (event) => {
    const name = event.target.name;
    if (!name || event.target.getAttribute('aria-invalid') !== 'true') return;
    event.target.removeAttribute('aria-invalid');
    const slot = form.querySelector(`[data-error-for="${CSS.escape(name)}"]`);
    if (slot) slot.hidden = true;
  };
  form.addEventListener('input', clearField);
  form.addEventListener('change', clearField);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(form);
    const missing = missingFields(form);
    if (missing.length > 0) {
      for (const el of missing) {
        const label = form.querySelector(`label[for="${CSS.escape(el.id)}"]`);
        fieldError(form, el.name, el.type === 'checkbox' ? 'Please confirm to continue.' : `${label ? label.textContent.trim() : 'This field'} is required.`);
      }
      missing[0].focus();
      return;
    }
    const buttons = form.querySelectorAll('button');
    for (const b of buttons) b.disabled = true;
    form.setAttribute('aria-busy', 'true');
    try {
      await handler(values(form));
    } finally {
      for (const b of buttons) b.disabled = false;
      form.removeAttribute('aria-busy');
    }
  });
}

/** A path a browser resolves against this origin: one `/`, never `//` or `/\` (both mean "another host"). */
function isLocalPath(value) {
  return value.startsWith('/') && !value.startsWith('//') && !value.startsWith('/\\') && !/[\u0000-\u001f\u007f]/.test(value);
}

/**
 * Mirrors the server's rule (src/web/next.ts): a path on this origin, nothing else. Parsing
 * resolves dot segments (`/.//evil` becomes `//evil`), so the value returned is checked again
 * after parsing, and must parse back to itself on this origin.
 */
export function safeNext(raw) {
  if (typeof raw !== 'string' || raw.length > 512) return undefined;
  if (!isLocalPath(raw) || raw.includes('\\')) return undefined;
  let url;
  try {
    url = new URL(raw, location.origin);
  } catch {
    return undefined;
  }
  const next = url.pathname + url.search + url.hash;
  if (url.origin !== location.origin || !isLocalPath(next)) return undefined;
  return new URL(next, location.origin).href === url.href ? next : undefined;
}

/** `path` with the sign-in's next page, when it has a safe one. */
export function withNext(path, next) {
  const safe = safeNext(next);
  return safe === undefined ? path : `${path}${path.includes('?') ? '&' : '?'}next=${encodeURIComponent(safe)}`;
}

/** A sign-in is complete: on to the page it was started for, or the account. */
export function signedIn(next) {
  location.assign(safeNext(next) ?? '/account');
}

/** The pending sign-in ran out, or wrong codes ended it: only the password form starts a new one. */
export function secondStepEnded(next) {
  location.assign(withNext('/login?notice=second-step-ended', next));
}
