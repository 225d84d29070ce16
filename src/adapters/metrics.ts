/**
 * Prometheus metrics (prom-client), in a registry of this Latch instance's own: two instances
 * in one process never share or clash over counters.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { AuthEvent, AuthEventSink } from '../domain/auth-events.js';

export class LatchMetrics {
  readonly registry = new Registry();

  readonly httpRequests = new Counter({
    name: 'latch_http_requests_total',
    help: 'HTTP requests by route, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [this.registry],
  });
  readonly httpDuration = new Histogram({
    name: 'latch_http_request_duration_seconds',
    help: 'HTTP request latency by route and method',
    labelNames: ['route', 'method'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly logins = new Counter({
    name: 'latch_logins_total',
    help: 'Login attempts by outcome (ok, failed, throttled)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly sessionsCreated = new Counter({
    name: 'latch_sessions_created_total',
    help: 'Sessions issued (registration, login, rotation)',
    registers: [this.registry],
  });
  readonly sessionsRevoked = new Counter({
    name: 'latch_sessions_revoked_total',
    help: 'Sessions ended before their expiry (logout, revocation, password change)',
    registers: [this.registry],
  });
  readonly hashDuration = new Histogram({
    name: 'latch_password_hash_duration_seconds',
    help: 'argon2id work per operation (hash, verify), excluding time queued',
    labelNames: ['operation'] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2],
    registers: [this.registry],
  });
  readonly hashRest = new Counter({
    name: 'latch_password_hash_rest_seconds_total',
    help: 'Seconds hashing threads were held idle to leave the CPU to busy request handling',
    registers: [this.registry],
  });
  private hashQueueSource: () => number = () => 0;
  readonly hashQueueDepth: Gauge = new Gauge({
    name: 'latch_password_hash_queue_depth',
    help: 'Password hashing operations waiting for a thread',
    registers: [this.registry],
    collect: (): void => this.hashQueueDepth.set(this.hashQueueSource()),
  });
  readonly dependencyErrors = new Counter({
    name: 'latch_dependency_errors_total',
    help: 'Requests answered 503 because a dependency (database, session store, rate limiter, hashing) failed',
    labelNames: ['dependency'] as const,
    registers: [this.registry],
  });

  readonly mailDeliveries = new Counter({
    name: 'latch_mail_deliveries_total',
    help: 'Mail delivery attempts by this instance: sent, retried later, or failed for good (after the last retry)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  private outboxSource: () => Promise<{ pending: number; failed: number }> = async () => ({ pending: 0, failed: 0 });
  readonly mailOutbox: Gauge = new Gauge({
    name: 'latch_mail_outbox',
    help: 'Mails in the outbox shared by all instances: pending (waiting or being retried) and failed (given up on)',
    labelNames: ['state'] as const,
    registers: [this.registry],
    collect: async (): Promise<void> => {
      // A scrape while the database is down keeps the last figures rather than failing /metrics.
      const counts = await this.outboxSource().catch(() => undefined);
      if (!counts) return;
      this.mailOutbox.set({ state: 'pending' }, counts.pending);
      this.mailOutbox.set({ state: 'failed' }, counts.failed);
    },
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'latch_' });
  }

  /** Where the outbox's counts are read at each scrape. */
  watchMailOutbox(counts: () => Promise<{ pending: number; failed: number }>): void {
    this.outboxSource = counts;
  }

  /** Where the hashing queue depth is read at each scrape. */
  watchHashQueue(depth: () => number): void {
    this.hashQueueSource = depth;
  }

  /** Wraps the audit sink so every recorded auth event also moves the counters. */
  observe(sink: AuthEventSink): AuthEventSink {
    return {
      record: async (event: AuthEvent) => {
        this.count(event);
        await sink.record(event);
      },
    };
  }

  private count(event: AuthEvent): void {
    switch (event.type) {
      case 'login_succeeded':
        this.logins.inc({ outcome: 'ok' });
        this.sessionsCreated.inc();
        break;
      case 'mfa_succeeded': // a second step finished: the pending session gave way to a full one
        this.sessionsCreated.inc();
        break;
      case 'login_failed':
        this.logins.inc({ outcome: 'failed' });
        break;
      case 'login_throttled':
        this.logins.inc({ outcome: 'throttled' });
        break;
      case 'registered':
        // Only a sign-up that signed in made a session: with REQUIRE_EMAIL_VERIFICATION none
        // does, and a taken address records nothing, so the counters cannot tell them apart.
        if (event.sessionId !== undefined) this.sessionsCreated.inc();
        break;
      case 'logout':
      case 'session_revoked':
        this.sessionsRevoked.inc();
        break;
      case 'sessions_revoked':
        this.sessionsRevoked.inc(event.count ?? 0);
        break;
      case 'password_changed':
        this.sessionsCreated.inc();
        this.sessionsRevoked.inc((event.count ?? 0) + 1); // the others, and the rotated one
        break;
      default:
        break;
    }
  }
}
