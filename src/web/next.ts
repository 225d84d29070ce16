/**
 * Where the browser goes after signing in. Only a path on this origin: anything a browser could
 * read as another host (`//evil.example`, `/\evil`, `https:evil`, tabs and newlines it strips)
 * is dropped, so the login page cannot be turned into an open redirect.
 */
const BASE = 'http://latch.invalid';

export function safeNext(raw: string | undefined): string | undefined {
  if (raw === undefined || raw.length > 512) return undefined;
  if (!raw.startsWith('/') || raw.startsWith('//') || raw.includes('\\')) return undefined;
  if (/[\u0000-\u001f\u007f]/.test(raw)) return undefined;
  let url: URL;
  try {
    url = new URL(raw, BASE);
  } catch {
    return undefined;
  }
  if (url.origin !== BASE) return undefined;
  return url.pathname + url.search + url.hash;
}
