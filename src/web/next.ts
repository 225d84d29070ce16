/**
 * Where the browser goes after signing in. Only a path on this origin: anything a browser could
 * read as another host (`//evil.example`, `/\evil`, `https:evil`, tabs and newlines it strips)
 * is dropped, so the login page cannot be turned into an open redirect.
 *
 * Parsing changes the value: dot segments are resolved (`/.//evil`, `/%2e//evil` and
 * `/a/..//evil` all become `//evil`) and `\` turns into `/`. So the value returned is checked
 * again after parsing, and it must parse back to itself on this origin (THREATS.md item 4).
 */
const BASE = 'http://latch.invalid';

/** A path a browser resolves against this origin: one `/`, never `//` or `/\` (both mean "another host"). */
function isLocalPath(value: string): boolean {
  return (
    value.startsWith('/') &&
    !value.startsWith('//') &&
    !value.startsWith('/\\') &&
    !/[\u0000-\u001f\u007f]/.test(value)
  );
}

export function safeNext(raw: string | undefined): string | undefined {
  if (raw === undefined || raw.length > 512) return undefined;
  if (!isLocalPath(raw) || raw.includes('\\')) return undefined;
  let url: URL;
  try {
    url = new URL(raw, BASE);
  } catch {
    return undefined;
  }
  const next = url.pathname + url.search + url.hash;
  if (url.origin !== BASE || !isLocalPath(next)) return undefined;
  // What the browser will do with the Location: it must land on the same origin, at this very path.
  return new URL(next, BASE).href === url.href ? next : undefined;
}
