// Helpers of the two-step pages: codes as people type them, and codes handed back to them.
import { clearErrors, showError } from './lib.js';

/** The 6 digits of an authenticator-app code as typed ("123 456" too), or undefined. */
export function readCode(typed) {
  const code = String(typed ?? '').replace(/\s/g, '');
  return /^\d{6}$/.test(code) ? code : undefined;
}

/**
 * A form that takes a code from the app or, instead, a recovery code (the second step of a
 * sign-in, the step-up on the account page). Its parts carry `data-method`; one shows at a
 * time, and only its fields are enabled, so only they are required and sent. `offer` narrows
 * the parts to the methods the account has (no app: recovery codes only, and no toggle).
 */
export function codeMethods(form, toggle) {
  const parts = [...form.querySelectorAll('[data-method]')];
  let offered = parts.map((part) => part.dataset.method);
  const method = () => form.querySelector('[data-method]:not([hidden])').dataset.method;
  const show = (wanted) => {
    clearErrors(form);
    for (const part of parts) {
      part.hidden = part.dataset.method !== wanted;
      for (const input of part.querySelectorAll('input')) input.disabled = part.hidden;
    }
    toggle.textContent = wanted === 'totp' ? 'Use a recovery code instead' : 'Use your authenticator app instead';
    (toggle.closest('p') ?? toggle).hidden = offered.length < 2;
  };
  const offer = (methods) => {
    offered = parts.map((part) => part.dataset.method).filter((m) => methods.includes(m));
    show(offered[0]);
  };
  show(offered[0]);
  toggle.addEventListener('click', () => {
    show(method() === 'totp' ? 'recovery_code' : 'totp');
    form.querySelector('[data-method]:not([hidden]) input').focus();
  });
  /** The shown method, and the code typed for it (undefined when it cannot be one). */
  const read = (v) => {
    const kind = method();
    return { method: kind, field: kind === 'totp' ? 'code' : 'recoveryCode', code: kind === 'totp' ? readCode(v.code) : v.recoveryCode.trim() || undefined };
  };
  return { show, offer, read };
}

/** Why POST /mfa/verify refused a code, next to the field that holds it. */
export function showCodeError(form, field, res) {
  const wrong = (message) => showError(form, { issues: [{ path: [field], message }] });
  if (res.data.code === 'invalid_code') return wrong('That code is not right, or was already used.');
  if (res.status === 429) return wrong(res.data.error); // says how long to wait
  // Field issues of the API name `code`, whichever field holds it.
  const issues = res.data.issues?.map((issue) => ({ ...issue, path: [field] }));
  showError(form, { ...res.data, issues });
}

/** Asks for the 6 digits again, before a typo costs one of the account's limited attempts. */
export function showCodeTypo(form) {
  showError(form, { issues: [{ path: ['code'], message: 'Enter the 6 digits your app shows.' }] });
}

/** A base32 key in groups of four, as authenticator apps show and accept it. */
export function groupsOfFour(key) {
  return (key.match(/.{1,4}/g) ?? []).join(' ');
}

/** Resolves to false when the browser refuses (no permission, not a secure context). */
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * Saves `text` as a file. The file is made here, from a Blob URL: the codes never travel again,
 * and no inline script or data: URL is needed under the page's CSP.
 */
export function downloadText(filename, text) {
  const url = URL.createObjectURL(new Blob([text], { type: 'text/plain;charset=utf-8' }));
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  // The download has started from the URL by now; a later revoke only frees the memory.
  setTimeout(() => URL.revokeObjectURL(url), 30_000);
}
