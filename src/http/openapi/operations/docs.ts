/** Documentation: this document and its rendered page. */
import type { OperationSpec } from './spec.js';

export const documentationOperations: OperationSpec[] = [
  {
    method: 'get',
    path: '/api/openapi.json',
    operationId: 'openapi',
    tag: 'Documentation',
    summary: 'This OpenAPI 3.1 document',
    access: 'anyone',
    success: [{ status: 200, description: 'The document', content: { type: 'application/json', schema: { type: 'object' } } }],
  },
  {
    method: 'get',
    path: '/api/docs',
    operationId: 'docs',
    tag: 'Documentation',
    summary: 'Rendered API reference (HTML)',
    access: 'anyone',
    success: [{ status: 200, description: 'An HTML page generated from this document', content: { type: 'text/html', schema: { type: 'string' } } }],
  },
  {
    method: 'get',
    path: '/api/docs/docs.css',
    operationId: 'docsStylesheet',
    tag: 'Documentation',
    summary: 'Stylesheet of the reference page',
    access: 'anyone',
    success: [{ status: 200, description: 'CSS', content: { type: 'text/css', schema: { type: 'string' } } }],
  },
];
