/** Operations: liveness, readiness, metrics. */
import type { OperationSpec } from './spec.js';

export const opsOperations: OperationSpec[] = [
  {
    method: 'get',
    path: '/healthz',
    operationId: 'health',
    tag: 'Operations',
    summary: 'Liveness',
    access: 'anyone',
    success: [{ status: 200, description: 'The process is up', schema: 'Health' }],
  },
  {
    method: 'get',
    path: '/readyz',
    operationId: 'ready',
    tag: 'Operations',
    summary: 'Readiness',
    description: 'Probes the database and the session store.',
    access: 'anyone',
    success: [
      { status: 200, description: 'Database and session store answer', schema: 'Readiness' },
      { status: 503, description: 'A dependency is down (`status: "unavailable"`, the failing check is false)', schema: 'Readiness' },
    ],
  },
  {
    method: 'get',
    path: '/metrics',
    operationId: 'metrics',
    tag: 'Operations',
    summary: 'Prometheus metrics',
    access: 'metrics',
    success: [
      {
        status: 200,
        description: 'Prometheus text exposition format',
        content: { type: 'text/plain; version=0.0.4; charset=utf-8', schema: { type: 'string' } },
      },
    ],
    errors: { 401: ['unauthorized'], 404: ['not_found'] },
  },
];
