/**
 * RecoveryService with in-memory fakes: forgot-password answers before any lookup, so its
 * timing cannot depend on whether the address has an account (THREATS.md item 5); the work
 * runs after and mails only real accounts, within the budget.
 */
import { dictionary } from '@zxcvbn-ts/language-common';
import { beforeEach, describe, expect, it } from 'vitest';
import { CredentialChanges } from '../../src/domain/credential-change.js';
import { Credentials } from '../../src/domain/credentials.js';
import { MailComposer, type Mail } from '../../src/domain/mails.js';
import type { OneTimeToken, TokenPurpose, TokenStore } from '../../src/domain/one-time-tokens.js';
import { PasswordPolicy } from '../../src/domain/password-policy.js';
import { PasswordProofs } from '../../src/domain/password-proof.js';
import { RecoveryService } from '../../src/domain/recovery-service.js';
import { SessionPolicy } from '../../src/domain/session.js';
import { SessionIssuer } from '../../src/domain/session-issuer.js';
import type { ClientInfo } from '../../src/domain/session-issuer.js';
import {
  cryptoRandom,
  FakePasswordHasher,
  InMemoryRateLimiter,
  InMemorySessionStore,
  InMemoryUserRepository,
  ManualClock,
  RecordingEventSink,
} from '../support/fakes.js';

const HOUR = 3_600_000;
const client: ClientInfo = { ip: '203.0.113.9', userAgent: 'test' };

/** Tokens in memory, with the SQL store's epoch rule; a token's mail goes out with it. */
class InMemoryTokenStore implements TokenStore {
  readonly tokens = new Map<string, OneTimeToken>();
  constructor(
    private readonly users: InMemoryUserRepository,
    private readonly outbox: Mail[],
  ) {}
  async issue(hash: Buffer, token: OneTimeToken, mail?: Mail) {
    for (const [key, t] of this.tokens) if (t.userId === token.userId && t.purpose === token.purpose) this.tokens.delete(key);
    this.tokens.set(hash.toString('hex'), token);
    if (mail) this.outbox.push(mail);
  }
  async peek(hash: Buffer, purpose: TokenPurpose, now: number) {
    const t = this.tokens.get(hash.toString('hex'));
    const owner = t && this.users.stored(t.userId);
    return t && owner && t.purpose === purpose && t.expiresAt > now && t.epoch === owner.credentialEpoch ? t : null;
  }
  async consume(hash: Buffer, purpose: TokenPurpose, now: number) {
    const t = await this.peek(hash, purpose, now);
    if (t) this.tokens.delete(hash.toString('hex'));
    return t;
  }
  async revokeAll(userId: string) {
    for (const [key, t] of this.tokens) if (t.userId === userId) this.tokens.delete(key);
  }
}

let users: InMemoryUserRepository;
let tokens: InMemoryTokenStore;
let sent: Mail[];
let later: Array<() => Promise<void>>;
let service: RecoveryService;

beforeEach(async () => {
  const clock = new ManualClock();
  users = new InMemoryUserRepository();
  const sessions = new InMemorySessionStore(users);
  sent = [];
  tokens = new InMemoryTokenStore(users, sent);
  later = [];
  const hasher = new FakePasswordHasher();
  const credentials = new Credentials(users, hasher);
  const sessionPolicy = new SessionPolicy({ idleTimeoutMs: HOUR, absoluteTimeoutMs: 2 * HOUR, rememberMeTimeoutMs: 3 * HOUR });
  const issuer = new SessionIssuer({ sessions, sessionPolicy, clock, random: cryptoRandom, maxSessionsPerUser: 50 });
  const events = new RecordingEventSink();
  service = new RecoveryService({
    users,
    sessions,
    tokens,
    changes: new CredentialChanges({ users, sessions, tokens, issuer, retry: () => {} }),
    proofs: new PasswordProofs({ users, credentials, attempts: new InMemoryRateLimiter(5, HOUR, clock), events, clock, reauthWindowMs: HOUR, secondFactorOn: async () => false }),
    mailer: { send: async (mail) => void sent.push(mail) },
    mails: new MailComposer('https://latch.example.test'),
    credentials,
    passwordPolicy: new PasswordPolicy({ minLength: 15, maxLength: 256 }, dictionary['passwords-common']),
    events,
    clock,
    random: cryptoRandom,
    mailLimits: { perAccount: new InMemoryRateLimiter(3, HOUR, clock), perIp: new InMemoryRateLimiter(100, HOUR, clock), ipKey: (ip) => ip },
    later: (task) => void later.push(task),
    afterReset: async () => {},
    verifyTokenTtlMs: HOUR,
    resetTokenTtlMs: HOUR,
    requireEmailVerification: false,
  });
  await users.create({
    id: cryptoRandom.uuid(),
    email: 'ada@example.com',
    name: 'Ada <b>Lovelace</b>',
    emailVerified: false,
    createdAt: clock.now(),
    passwordHash: await hasher.hash('violet-harbor-lantern-42'),
    credentialEpoch: 0,
    role: 'user',
    twoFactor: false,
    disabled: null,
  });
});

describe('forgot password', () => {
  it('answers before looking anything up, even when the database hangs', async () => {
    users.findByEmail = () => new Promise(() => {}); // a lookup that never answers
    const answered = await Promise.race([
      Promise.resolve(service.forgotPassword('ada@example.com', client)).then(() => 'answered'),
      new Promise((resolve) => setTimeout(resolve, 200, 'still waiting')),
    ]);
    expect(answered).toBe('answered');
    expect(later).toHaveLength(1); // the lookup runs after the answer
  });

  it('the work after the answer mails a reset link to a real account only, without the name of an unverified one', async () => {
    service.forgotPassword('nobody@example.com', client);
    service.forgotPassword(' ADA@example.com ', client);
    expect(sent).toHaveLength(0);
    for (const task of later) await task();
    expect(sent.map((m) => m.to)).toEqual(['ada@example.com']);
    expect(sent[0]!.text.startsWith('Hello,\n')).toBe(true);
    expect(sent[0]!.text + sent[0]!.html).not.toContain('Lovelace');
    expect(tokens.tokens.size).toBe(1);
  });

  it('past the mail budget the token the user holds is not replaced', async () => {
    for (let i = 0; i < 6; i++) service.forgotPassword('ada@example.com', client);
    for (const task of later) await task();
    expect(sent).toHaveLength(3);
    const held = new URL(sent[2]!.link!).searchParams.get('token')!;
    const reset = await service.resetPassword(held, 'copper-meadow-falcon-77', client);
    expect(reset.email).toBe('ada@example.com');
  });
});
