/**
 * The API reference page (`GET /api/docs`), rendered on the server from the OpenAPI document.
 * Plain HTML with one same-origin stylesheet: no script, no inline style, no CDN, so the app's
 * Content-Security-Policy needs no 'unsafe-inline'.
 */

type Json = Record<string, any>;

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

function escape(value: unknown): string {
  return String(value)
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

/** `code` spans for backticks, everything else escaped. */
function prose(text: string | undefined): string {
  if (!text) return '';
  return escape(text).replace(/`([^`]+)`/g, '<code>$1</code>');
}

function paragraphs(text: string | undefined): string {
  if (!text) return '';
  return text
    .split(/\n\n+/)
    .map((block) => {
      const lines = block.split('\n');
      const items = lines.filter((l) => l.startsWith('- '));
      if (items.length && items.length === lines.length - 1 && !lines[0]!.startsWith('- ')) {
        return `<p>${prose(lines[0])}</p><ul>${items.map((l) => `<li>${prose(l.slice(2))}</li>`).join('')}</ul>`;
      }
      return `<p>${prose(block)}</p>`;
    })
    .join('\n');
}

function resolve(doc: Json, schema: Json | undefined): Json {
  let current = schema ?? {};
  for (let i = 0; i < 10 && typeof current.$ref === 'string'; i++) {
    const name = current.$ref.replace('#/components/schemas/', '');
    current = doc.components?.schemas?.[name] ?? {};
  }
  return current;
}

function refName(schema: Json | undefined): string | undefined {
  return typeof schema?.$ref === 'string' ? schema.$ref.replace('#/components/schemas/', '') : undefined;
}

function typeOf(schema: Json): string {
  if (schema.$ref) return refName(schema)!;
  if (schema.enum) return schema.enum.map((v: unknown) => JSON.stringify(v)).join(' | ');
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  if (schema.type === 'array') return `${typeOf(schema.items ?? {})}[]`;
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (Array.isArray(alternatives)) return alternatives.map(typeOf).join(' | ');
  if (Array.isArray(schema.allOf) && schema.allOf.length === 1) return typeOf(schema.allOf[0]);
  return String(schema.type ?? 'any');
}

function constraints(schema: Json): string {
  const parts: string[] = [];
  if (schema.minLength !== undefined) parts.push(`min length ${schema.minLength}`);
  if (schema.maxLength !== undefined) parts.push(`max length ${schema.maxLength}`);
  if (schema.minimum !== undefined) parts.push(`≥ ${schema.minimum}`);
  if (schema.maximum !== undefined) parts.push(`≤ ${schema.maximum}`);
  if (schema.pattern !== undefined) parts.push(`pattern <code>${escape(schema.pattern)}</code>`);
  if (schema.format !== undefined) parts.push(`format ${escape(schema.format)}`);
  if (schema.default !== undefined) parts.push(`default <code>${escape(JSON.stringify(schema.default))}</code>`);
  return parts.join(', ');
}

function fieldTable(doc: Json, schema: Json): string {
  const object = resolve(doc, schema);
  if (Array.isArray(object.oneOf)) {
    return object.oneOf.map((alternative: Json, i: number) => `<p>${i === 0 ? 'Either' : 'or'}:</p>${fieldTable(doc, alternative)}`).join('');
  }
  const properties: Record<string, Json> = object.properties ?? {};
  const required = new Set<string>(object.required ?? []);
  const rows = Object.entries(properties).map(
    ([name, property]) =>
      `<tr><td><code>${escape(name)}</code></td><td>${escape(typeOf(property))}</td><td>${required.has(name) ? 'yes' : 'no'}</td>` +
      `<td>${[prose(property.description), constraints(property)].filter(Boolean).join('<br>')}</td></tr>`,
  );
  if (!rows.length) return '';
  return `<table class="fields"><thead><tr><th>Field</th><th>Type</th><th>Required</th><th>Notes</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function responseBody(doc: Json, response: Json): string {
  const content: Record<string, Json> = response.content ?? {};
  return Object.entries(content)
    .map(([type, media]) => {
      const schema: Json = media.schema ?? {};
      const codes: unknown[] | undefined = schema.properties?.code?.enum;
      const ref = refName(schema) ?? refName(schema.allOf?.[0]);
      const codesText = codes ? ` — codes: ${codes.map((c) => `<code>${escape(c)}</code>`).join(', ')}` : '';
      const shape = ref && !codes ? fieldTable(doc, { $ref: `#/components/schemas/${ref}` }) : '';
      return `<div class="media"><code>${escape(type)}</code>${ref ? ` <a href="#schema-${escape(ref)}">${escape(ref)}</a>` : ''}${codesText}${shape}</div>`;
    })
    .join('');
}

function headerList(response: Json): string {
  const headers: Record<string, Json> = response.headers ?? {};
  const items = Object.entries(headers).map(([name, header]) => `<li><code>${escape(name)}</code>: ${prose(header.description)}</li>`);
  return items.length ? `<ul class="headers">${items.join('')}</ul>` : '';
}

function operationHtml(doc: Json, path: string, method: string, op: Json): string {
  const anchor = `${method}-${path}`.replace(/[^A-Za-z0-9]+/g, '-');
  const parameters: Json[] = op.parameters ?? [];
  const paramRows = parameters.map(
    (p) =>
      `<tr><td><code>${escape(p.name)}</code></td><td>${escape(p.in)}</td><td>${escape(typeOf(p.schema ?? {}))}</td><td>${p.required ? 'yes' : 'no'}</td>` +
      `<td>${[prose(p.description), constraints(p.schema ?? {})].filter(Boolean).join('<br>')}</td></tr>`,
  );
  const body = op.requestBody?.content?.['application/json']?.schema;
  const responses = Object.entries(op.responses ?? {}).map(
    ([status, response]) =>
      `<tr><td class="status">${escape(status)}</td><td>${prose((response as Json).description)}${headerList(response as Json)}${responseBody(doc, response as Json)}</td></tr>`,
  );
  return `<section class="operation" id="${escape(anchor)}">
<h3><span class="method method-${escape(method)}">${escape(method.toUpperCase())}</span> <code class="path">${escape(path)}</code></h3>
<p class="summary">${prose(op.summary)}</p>
${paragraphs(op.description)}
${paramRows.length ? `<h4>Parameters</h4><table class="fields"><thead><tr><th>Name</th><th>In</th><th>Type</th><th>Required</th><th>Notes</th></tr></thead><tbody>${paramRows.join('')}</tbody></table>` : ''}
${body ? `<h4>Request body <small>(application/json, <a href="#schema-${escape(refName(body) ?? '')}">${escape(refName(body) ?? '')}</a>${op.requestBody.required === false ? ', optional' : ''})</small></h4>${fieldTable(doc, body)}` : ''}
<h4>Responses</h4>
<table class="responses"><tbody>${responses.join('')}</tbody></table>
</section>`;
}

export function renderDocsPage(doc: Json, stylesheet: string): string {
  const operations: Array<{ path: string; method: string; op: Json }> = [];
  for (const [path, item] of Object.entries<Json>(doc.paths ?? {})) {
    for (const method of METHODS) if (item[method]) operations.push({ path, method, op: item[method] });
  }
  const tags: string[] = (doc.tags ?? []).map((t: Json) => t.name);
  const byTag = (tag: string) => operations.filter((o) => (o.op.tags ?? [])[0] === tag);
  const index = operations
    .map(({ path, method, op }) => {
      const anchor = `${method}-${path}`.replace(/[^A-Za-z0-9]+/g, '-');
      return `<li><a href="#${escape(anchor)}"><span class="method method-${escape(method)}">${escape(method.toUpperCase())}</span> <code>${escape(path)}</code></a> — ${prose(op.summary)}</li>`;
    })
    .join('\n');
  const sections = tags
    .map((tag) => {
      const ops = byTag(tag);
      return ops.length ? `<h2>${escape(tag)}</h2>\n${ops.map((o) => operationHtml(doc, o.path, o.method, o.op)).join('\n')}` : '';
    })
    .join('\n');
  const schemas = Object.entries<Json>(doc.components?.schemas ?? {})
    .map(
      ([name, schema]) =>
        `<section class="schema" id="schema-${escape(name)}"><h3>${escape(name)}</h3>${paragraphs(schema.description)}${fieldTable(doc, schema)}</section>`,
    )
    .join('\n');
  const security = Object.entries<Json>(doc.components?.securitySchemes ?? {})
    .map(([name, s]) => `<li><code>${escape(name)}</code>: ${escape(s.type)}${s.in ? ` in ${escape(s.in)} <code>${escape(s.name)}</code>` : ''}${s.scheme ? ` (${escape(s.scheme)})` : ''} — ${prose(s.description)}</li>`)
    .join('');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(doc.info?.title)} API reference</title>
<link rel="stylesheet" href="${escape(stylesheet)}">
</head>
<body>
<header>
<h1>${escape(doc.info?.title)} API reference <small>v${escape(doc.info?.version)} · OpenAPI ${escape(doc.openapi)}</small></h1>
<p>Machine-readable: <a href="/api/openapi.json">/api/openapi.json</a></p>
</header>
<main>
${paragraphs(doc.info?.description)}
<h2>Authentication</h2>
<ul>${security}</ul>
<h2>Endpoints</h2>
<ul class="index">
${index}
</ul>
${sections}
<h2>Schemas</h2>
${schemas}
</main>
</body>
</html>
`;
}

export const DOCS_CSS = `body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d2433;background:#fafbfc;line-height:1.5}
header{background:#1d2433;color:#fff;padding:1rem 2rem}
header a{color:#9cc3ff}
main{max-width:60rem;margin:0 auto;padding:1rem 2rem 4rem}
h1 small{font-weight:normal;font-size:.55em;opacity:.8}
h2{border-bottom:2px solid #d8dee8;padding-bottom:.25rem;margin-top:2.5rem}
code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.92em;background:#eef1f6;padding:0 .2em;border-radius:3px}
.operation,.schema{background:#fff;border:1px solid #d8dee8;border-radius:6px;padding:.5rem 1rem;margin:1rem 0}
.method{display:inline-block;min-width:4.2em;text-align:center;font-weight:bold;font-size:.8em;border-radius:3px;padding:.1em .4em;color:#fff;background:#555}
.method-get{background:#2f7d32}.method-post{background:#1f5fbf}.method-patch{background:#8a5a00}.method-delete{background:#b3261e}
.index{list-style:none;padding-left:0}.index a{text-decoration:none;color:inherit}
table{border-collapse:collapse;width:100%;margin:.5rem 0}
th,td{text-align:left;vertical-align:top;border-top:1px solid #e4e8ef;padding:.3rem .5rem}
td.status{font-weight:bold;width:4em}
.media{margin:.25rem 0}
ul.headers{margin:.25rem 0;padding-left:1.2rem;font-size:.95em}
`;
