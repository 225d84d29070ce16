// Helpers of the two-step pages: codes as people type them, and codes handed back to them.

/** The 6 digits of an authenticator-app code as typed ("123 456" too), or undefined. */
export function readCode(typed) {
  const code = String(typed ?? '').replace(/\s/g, '');
  return /^\d{6}$/.test(code) ? code : undefined;
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
