/**
 * SECRETS_KEY rotation (README, "Key rotation"): an authenticator-app secret sealed under the
 * old key still works while that key is listed in SECRETS_KEY_PREVIOUS, is re-sealed under the
 * new key when next used, and then works with the new key alone. A server holding neither key
 * cannot use it (the sealed secret is useless without the key). On every backend.
 */
import { randomBytes } from 'node:crypto';
import { expect, it } from 'vitest';
import { totpCode } from '../../src/domain/totp.js';
import { describeOnBackends } from '../support/backends.js';
import { Client, ManualClock, signedUp, startServer, STRONG_PASSWORD } from '../support/server.js';

const clock = new ManualClock();
const STEP = 30_000;
const OLD_KEY = randomBytes(32).toString('base64');
const NEW_KEY = randomBytes(32).toString('base64');

describeOnBackends(
  'rotating SECRETS_KEY',
  ({ server }) => {
    it('old secrets work through SECRETS_KEY_PREVIOUS, are re-sealed on use, then need only the new key', async () => {
      const { client, email } = await signedUp(server().url);
      const setup = await client.post('/api/auth/mfa/totp');
      clock.advance(STEP);
      expect((await client.post('/api/auth/mfa/totp/confirm', { code: totpCode(setup.body.secret, clock.now()) })).status).toBe(200);

      const { databaseUrl, redisUrl, redisKeyPrefix } = server().latch.config;
      const shared = { databaseUrl, redisKeyPrefix, ...(redisUrl ? { redisUrl } : {}), clock };
      const signIn = async (url: string) => {
        const browser = new Client(url);
        expect((await browser.post('/api/auth/login', { email, password: STRONG_PASSWORD })).body.mfaRequired).toBe(true);
        clock.advance(STEP);
        return browser.post('/api/auth/mfa/verify', { method: 'totp', code: totpCode(setup.body.secret, clock.now()) });
      };

      const wrongKeys = await startServer({ ...shared, secretsKey: randomBytes(32).toString('base64') });
      try {
        expect((await signIn(wrongKeys.url)).status).toBe(401); // sealed: useless without its key
      } finally {
        await wrongKeys.close();
      }
      const rotating = await startServer({ ...shared, secretsKey: NEW_KEY, secretsKeyPrevious: OLD_KEY });
      try {
        expect((await signIn(rotating.url)).status).toBe(200); // opened with the previous key, re-sealed
      } finally {
        await rotating.close();
      }
      const rotated = await startServer({ ...shared, secretsKey: NEW_KEY });
      try {
        expect((await signIn(rotated.url)).status).toBe(200); // the new key alone now
      } finally {
        await rotated.close();
      }
    });
  },
  { latch: () => ({ clock, secretsKey: OLD_KEY, loginMaxFailures: 1000 }) },
);
