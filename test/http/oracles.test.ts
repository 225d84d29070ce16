/**
 * THREATS.md item 5: with REQUIRE_EMAIL_VERIFICATION=true, no answer may tell whether an
 * address has an account. Asking to move an account to a taken address answers exactly like a
 * free one (status, headers, body byte for byte), moves /metrics the same way, and tells the
 * holder of the taken address by mail instead; registering a taken address and a new one move
 * /metrics the same way too. On every backend, with a real SMTP server.
 */
import { expect, it } from 'vitest';
import { describeOnBackends } from '../support/backends.js';
import { smtpForFile, SUBJECT } from '../support/mailbox.js';
import { Client, STRONG_PASSWORD, uniqueEmail, type Reply } from '../support/server.js';

const box = smtpForFile();

/** The parts of an answer a client sees, minus the clock. */
function observable(res: Reply) {
  const headers = [...res.headers].filter(([name]) => name !== 'date');
  return { status: res.status, headers, text: res.text };
}

/** Every counter and gauge sample of /metrics that counts things (not durations or process stats). */
async function counters(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!/^latch_(http_requests_total|logins_total|sessions_created_total|sessions_revoked_total|dependency_errors_total)\b/.test(line)) continue;
    const at = line.lastIndexOf(' ');
    samples.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return samples;
}

function delta(before: Map<string, number>, after: Map<string, number>): Record<string, number> {
  const moved: Record<string, number> = {};
  for (const [key, value] of after) if (value !== (before.get(key) ?? 0)) moved[key] = value - (before.get(key) ?? 0);
  return moved;
}

describeOnBackends(
  'no answer tells whether an address has an account (REQUIRE_EMAIL_VERIFICATION)',
  ({ server }) => {
    const url = () => server().url;

    /** Registers, verifies from the mail, signs in. */
    async function verifiedUser() {
      const email = uniqueEmail('oracle');
      const token = await box.tokenFrom(email, SUBJECT.verify, () =>
        new Client(url()).post('/api/auth/register', { email, password: STRONG_PASSWORD, name: 'Oracle' }),
      );
      expect((await new Client(url()).post('/api/auth/email/verify', { token })).status).toBe(200);
      const client = new Client(url());
      expect((await client.post('/api/auth/login', { email, password: STRONG_PASSWORD })).status).toBe(200);
      return { email, client };
    }

    it('an email change to a taken address answers and counts exactly like one to a free address; the holder is told', async () => {
      const asker = await verifiedUser();
      const holder = await verifiedUser();
      const free = uniqueEmail('free');

      const m0 = await counters(url());
      const toFree = await asker.client.post('/api/auth/email', { newEmail: free, password: STRONG_PASSWORD });
      const m1 = await counters(url());
      const notice = box.upcoming(holder.email, SUBJECT.changeAttempt);
      const toTaken = await asker.client.post('/api/auth/email', { newEmail: holder.email.toUpperCase(), password: STRONG_PASSWORD });
      const m2 = await counters(url());

      expect(toFree.status).toBe(202);
      expect(observable(toTaken)).toEqual(observable(toFree));
      expect(delta(m1, m2)).toEqual(delta(m0, m1));
      // The asker's own mailbox cannot tell them apart either: one "being changed" notice each.
      await box.sentinel(url());
      expect(box.to(asker.email, SUBJECT.changing).map((m) => m.text.includes(free) || m.text.includes(holder.email))).toEqual([true, true]);
      const mail = await notice();
      expect(mail.text).toContain('already has an account');
      expect(box.to(free, SUBJECT.confirmNew)).toHaveLength(1);
      // The holder's account did not move, and the asker's address did not change.
      expect((await holder.client.get('/api/auth/me')).body.user.email).toBe(holder.email);
      expect((await asker.client.get('/api/auth/me')).body.user.email).toBe(asker.email);
    });

    it("a taken address voids the asker's pending change link exactly as a free one does", async () => {
      for (const taken of [false, true]) {
        const asker = await verifiedUser();
        const holder = await verifiedUser();
        const first = uniqueEmail('first');
        const pending = await box.tokenFrom(first, SUBJECT.confirmNew, () =>
          asker.client.post('/api/auth/email', { newEmail: first, password: STRONG_PASSWORD }),
        );
        const second = taken ? holder.email : uniqueEmail('second');
        expect((await asker.client.post('/api/auth/email', { newEmail: second, password: STRONG_PASSWORD })).status).toBe(202);
        const res = await new Client(url()).post('/api/auth/email/verify', { token: pending });
        expect(res.status, `taken=${taken}`).toBe(400); // a newer request replaced it, either way
      }
    });

    it('registering a taken address and a new one move the counters alike', async () => {
      const { email: taken } = await verifiedUser();
      const m0 = await counters(url());
      const fresh = await new Client(url()).post('/api/auth/register', { email: uniqueEmail('new'), password: STRONG_PASSWORD, name: 'New' });
      const m1 = await counters(url());
      const again = await new Client(url()).post('/api/auth/register', { email: taken, password: STRONG_PASSWORD, name: 'New' });
      const m2 = await counters(url());
      expect(fresh.status).toBe(202);
      expect(observable(again)).toEqual(observable(fresh));
      expect(delta(m1, m2)).toEqual(delta(m0, m1));
    });
  },
  {
    latch: () => ({
      smtpUrl: box.smtp.url,
      requireEmailVerification: true,
      // The asker's mailbox is compared: no mail budget may run out in these tests.
      mailAccountMax: 1000,
      mailIpMax: 1_000_000,
      mailRetryDelays: [100, 200],
    }),
  },
);

describeOnBackends(
  'forgot-password spends the per-IP mail budget alike for real and unknown addresses',
  ({ server }) => {
    const url = () => server().url;
    let ip = 0;
    const nextIp = () => `198.51.100.${++ip}`;

    it("running out of the IP's budget on an address says nothing about whether it has an account", async () => {
      const probe = async (target: string) => {
        const from = { 'x-forwarded-for': nextIp() };
        for (let i = 0; i < 3; i++) expect((await new Client(url()).post('/api/auth/password/forgot', { email: target }, from)).status).toBe(202);
        // Then one for an address the prober owns: does its reset mail still arrive?
        const own = uniqueEmail('prober');
        const next = box.upcoming(own, SUBJECT.verify);
        await new Client(url()).post('/api/auth/register', { email: own, password: STRONG_PASSWORD, name: 'Prober' }, { 'x-forwarded-for': nextIp() });
        await next();
        await new Client(url()).post('/api/auth/password/forgot', { email: own }, from);
        await box.sentinel(url(), { 'x-forwarded-for': nextIp() });
        return box.to(own, SUBJECT.reset).length;
      };
      const real = uniqueEmail('real');
      await box.tokenFrom(real, SUBJECT.verify, () =>
        new Client(url()).post('/api/auth/register', { email: real, password: STRONG_PASSWORD, name: 'Real' }, { 'x-forwarded-for': nextIp() }),
      );
      expect(await probe(uniqueEmail('nobody'))).toBe(await probe(real));
    });
  },
  // 3 mails per IP: three requests for the target use it up, whoever the target is.
  { latch: () => ({ smtpUrl: box.smtp.url, trustProxy: 'loopback', mailIpMax: 3, mailAccountMax: 1000, mailRetryDelays: [100, 200] }) },
);
