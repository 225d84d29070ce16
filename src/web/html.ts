/**
 * A tiny HTML toolkit for the server-rendered pages: an escaping template tag and the page
 * layout. Every interpolated value is escaped unless it is already `Html`, so a user's name or
 * a query parameter can never become markup. Pages carry no inline script or style (the CSP
 * forbids both); behaviour comes from the static modules under /assets.
 */
import { escapeHtml } from '../domain/escape-html.js';

export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

export { escapeHtml };

function render(value: unknown): string {
  if (value instanceof Html) return value.value;
  if (Array.isArray(value)) return value.map(render).join('');
  if (value === undefined || value === null || value === false) return '';
  return escapeHtml(String(value));
}

export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0] ?? '';
  values.forEach((value, i) => {
    out += render(value) + (strings[i + 1] ?? '');
  });
  return new Html(out);
}

export interface FieldOptions {
  name: string;
  label: string;
  type?: 'text' | 'email' | 'password' | 'hidden' | 'search';
  autocomplete?: string;
  value?: string;
  hint?: string;
  /** Shows a live strength hint under a new-password field. */
  strength?: { minLength: number; maxLength: number };
  /** Prefix for the element ids, so two forms on one page can share field names. */
  idPrefix?: string;
  /** May be left empty (fields are required unless they say so). */
  optional?: boolean;
  /** Further input attributes (inputmode, pattern, …); names and values are escaped like any other. */
  attributes?: Record<string, string>;
}

/** A labelled input with its hint and the slot where the API's `issues[].path` errors go. */
export function field(o: FieldOptions): Html {
  const id = `${o.idPrefix ?? ''}${o.name}`;
  const described = [o.hint || o.strength ? `${id}-hint` : '', `${id}-error`].filter(Boolean).join(' ');
  const extra = Object.entries(o.attributes ?? {}).map(([name, value]) => html` ${name}="${value}"`);
  const strength = o.strength
    ? html` data-strength data-min-length="${o.strength.minLength}" data-max-length="${o.strength.maxLength}"`
    : '';
  return html`<div class="field">
  <label for="${id}">${o.label}</label>
  <input id="${id}" name="${o.name}" type="${o.type ?? 'text'}"${o.autocomplete ? html` autocomplete="${o.autocomplete}"` : ''}${o.value !== undefined ? html` value="${o.value}"` : ''}${o.optional ? '' : html` required`} aria-describedby="${described}"${extra}${strength}>
  ${o.strength ? html`<div class="strength" id="${id}-hint" aria-live="polite"><meter min="0" max="4" low="2" high="3" optimum="4" value="0"></meter><p class="hint"></p></div>` : ''}
  ${o.hint && !o.strength ? html`<p class="hint" id="${id}-hint">${o.hint}</p>` : ''}
  <p class="error" id="${id}-error" data-error-for="${o.name}" hidden></p>
</div>`;
}

/** The form-level message slot (errors without a field, and success notices). */
export const formAlert = html`<div class="alert" role="alert" data-form-alert hidden></div>`;

export interface PageOptions {
  title: string;
  /** Extra modules for this page, besides the shared ones. */
  scripts?: string[];
  signedIn?: boolean;
  /** The header links to the administration pages: for a signed-in administrator only. */
  admin?: boolean;
  body: Html;
}

export function page(o: PageOptions): string {
  const scripts = ['/assets/pages.js', ...(o.scripts ?? [])];
  const nav = o.signedIn
    ? html`${o.admin ? html`<a href="/admin">Admin</a>` : ''}<a href="/account">Account</a>
      <form id="logout-form" class="inline"><button type="submit" class="link">Sign out</button></form>`
    : html`<a href="/login">Sign in</a><a href="/register">Create account</a>`;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${o.title} · Latch</title>
<link rel="stylesheet" href="/assets/latch.css">
${scripts.map((src) => html`<script type="module" src="${src}"></script>\n`)}</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="site">
  <a class="brand" href="/">Latch</a>
  <nav aria-label="Main">${nav}</nav>
</header>
<main id="main" tabindex="-1">
${o.body}
</main>
</body>
</html>
`.value;
}
