/**
 * FactorLifecycle's edges, driven directly: a write refused because the session was ended
 * meanwhile, a factor already gone, a change that landed while the factor was written, and a
 * parallel removal that turned two-step off first. Recovery codes' typing rules too.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hashRecoveryCode, newRecoveryCodes, normalizeRecoveryCode } from '../../src/domain/recovery-codes.js';
import { client, refusal, world, type World } from '../support/domain-world.js';
import { cryptoRandom } from '../support/fakes.js';

let w: World;
beforeEach(async () => {
  w = await world();
});
afterEach(() => w.close());

const written = async () => 'written' as const;
/** Records that the factor was taken back (the tests' writes store nothing themselves). */
function unwriter() {
  const calls: number[] = [];
  return { calls, unwrite: async () => void calls.push(1) };
}
const nothingToUnwrite = async () => {};

describe('adding a factor', () => {
  it('writes under the session’s epoch, and a stale write changes nothing', async () => {
    const ada = await w.member();
    const epochs: number[] = [];
    const taken = unwriter();
    const error = await refusal(w.lifecycle.add(ada, 'totp', client, async (ifEpoch) => (epochs.push(ifEpoch), 'stale'), taken.unwrite));
    expect(error.code).toBe('unauthorized');
    expect(epochs).toEqual([ada.session.epoch]);
    expect(taken.calls).toEqual([]); // nothing was written, nothing to take back
    expect((await w.users.findById(ada.user.id))?.twoFactor).toBe(false);
    expect(w.mailer.sent).toEqual([]);
  });

  it('the first one, from a session revoked meanwhile (that session only), is taken back with the flip, and what the flip began ends', async () => {
    const ada = await w.member();
    const other = await w.signIn(ada.user.email);
    const epoch = (await w.users.findById(ada.user.id))!.credentialEpoch;
    const taken = unwriter();
    const error = await refusal(
      w.lifecycle.add(
        ada,
        'passkey',
        client,
        async () => {
          await w.sessions.delete(ada.session.id);
          return 'written';
        },
        taken.unwrite,
      ),
    );
    expect(error.code).toBe('unauthorized');
    expect(taken.calls).toEqual([1]);
    const after = (await w.users.findById(ada.user.id))!;
    expect(after.twoFactor).toBe(false); // no lockout behind a factor nobody kept
    expect(after.credentialEpoch).toBe(epoch + 2); // on, then off again
    expect(await w.sessions.find(other.session.id)).toBeNull();
    expect(await w.factors.recoveryCodesLeft(ada.user.id)).toBe(0);
    expect(w.mailer.subjects()).toEqual([]);
  });

  it('a first app, after another change ended the session meanwhile, is taken back and changes nothing else', async () => {
    const ada = await w.member();
    const taken = unwriter();
    let epoch = -1;
    let later: Awaited<ReturnType<typeof w.signIn>> | undefined;
    const error = await refusal(
      w.lifecycle.add(
        ada,
        'totp',
        client,
        async () => {
          await w.changes.apply(ada.user.id, {}); // the owner signs out everywhere
          epoch = (await w.users.findById(ada.user.id))!.credentialEpoch;
          later = await w.signIn(ada.user.email); // and signs in again
          return 'written';
        },
        taken.unwrite,
      ),
    );
    expect(error.code).toBe('unauthorized');
    expect(taken.calls).toEqual([1]);
    expect((await w.users.findById(ada.user.id))).toMatchObject({ twoFactor: false, credentialEpoch: epoch });
    expect(await w.sessions.find(later!.session.id)).not.toBeNull(); // the owner's new session stands
    expect(w.mailer.subjects()).not.toContain('Two-step sign-in is on');
  });

  it('a passkey, after another change ended the session meanwhile, is taken back, and a sign-in it may have made ends', async () => {
    const ada = await w.member();
    const taken = unwriter();
    let epoch = -1;
    let meanwhile: Awaited<ReturnType<typeof w.signIn>> | undefined;
    const error = await refusal(
      w.lifecycle.add(
        ada,
        'passkey',
        client,
        async () => {
          await w.changes.apply(ada.user.id, {});
          epoch = (await w.users.findById(ada.user.id))!.credentialEpoch;
          meanwhile = await w.signIn(ada.user.email); // stands for a sign-in with the new passkey
          return 'written';
        },
        taken.unwrite,
      ),
    );
    expect(error.code).toBe('unauthorized');
    expect(taken.calls).toEqual([1]);
    expect((await w.users.findById(ada.user.id))).toMatchObject({ twoFactor: false, credentialEpoch: epoch + 1 });
    expect(await w.sessions.find(meanwhile!.session.id)).toBeNull();
  });

  it('a further one keeps two-step on: the session goes on under a new id with the factor, others stay', async () => {
    const ada = await w.member();
    const { auth } = await w.withApp(ada);
    const other = await w.signIn(ada.user.email); // pending: the password alone is not enough now
    const before = (await w.users.findById(ada.user.id))!.credentialEpoch;
    const added = await w.lifecycle.add(auth, 'passkey', client, written, nothingToUnwrite);
    expect(added.recoveryCodes).toBeUndefined();
    expect(added.issued.session.id).not.toBe(auth.session.id);
    expect(added.issued.session.methods).toEqual(['password', 'totp', 'passkey']);
    expect(await w.sessions.find(auth.session.id)).toBeNull();
    expect((await w.users.findById(ada.user.id))!.credentialEpoch).toBe(before);
    expect(await w.sessions.find(other.session.id)).not.toBeNull();
    expect(w.mailer.subjects().at(-1)).toBe('A second factor was added');
    expect(w.mailer.sent.at(-1)!.text).toContain('A passkey was just added to your account');
  });

  it('a factor the session has proven already is not listed twice', async () => {
    const ada = await w.member();
    const { auth } = await w.withPasskey(ada);
    const added = await w.lifecycle.add(auth, 'passkey', client, written, nothingToUnwrite);
    expect(added.issued.session.methods).toEqual(['password', 'passkey']);
  });

  it('a further passkey from a session ended meanwhile is taken back: two-step stays on with the app, and a sign-in the passkey made ends', async () => {
    const ada = await w.member();
    const { auth } = await w.withApp(ada);
    const epoch = (await w.users.findById(ada.user.id))!.credentialEpoch;
    await w.sessions.delete(auth.session.id);
    const taken = unwriter();
    expect((await refusal(w.lifecycle.add(auth, 'passkey', client, written, taken.unwrite))).code).toBe('unauthorized');
    expect(taken.calls).toEqual([1]);
    expect((await w.users.findById(ada.user.id))).toMatchObject({ twoFactor: true, credentialEpoch: epoch + 1 });
    expect(await w.factors.recoveryCodesLeft(ada.user.id)).toBe(10);
  });

  it('a further app from a session ended meanwhile is taken back without ending anything', async () => {
    const ada = await w.member();
    const { auth } = await w.withPasskey(ada);
    const epoch = (await w.users.findById(ada.user.id))!.credentialEpoch;
    await w.sessions.delete(auth.session.id);
    const taken = unwriter();
    expect((await refusal(w.lifecycle.add(auth, 'totp', client, written, taken.unwrite))).code).toBe('unauthorized');
    expect(taken.calls).toEqual([1]);
    expect((await w.users.findById(ada.user.id))).toMatchObject({ twoFactor: true, credentialEpoch: epoch });
  });
});

describe('removing a factor', () => {
  it('refuses a stale write and reports a factor already gone', async () => {
    const ada = await w.member();
    const { auth } = await w.withApp(ada);
    expect((await refusal(w.lifecycle.remove(auth, 'totp', client, async () => 'stale'))).code).toBe('unauthorized');
    expect(await w.lifecycle.remove(auth, 'totp', client, async () => 'none')).toEqual({ removed: false });
    expect(await w.lifecycle.isOn(ada.user.id)).toBe(true);
    expect(await w.factors.recoveryCodesLeft(ada.user.id)).toBe(10);
  });

  it('when a parallel removal already turned two-step off, only reports the removal', async () => {
    const ada = await w.member();
    const { auth } = await w.withApp(ada);
    const mails = w.mailer.sent.length;
    const result = await w.lifecycle.remove(auth, 'totp', client, async () => {
      await w.factors.removeTotp(ada.user.id);
      await w.changes.apply(ada.user.id, { twoFactor: false });
      return 'removed';
    });
    expect(result).toEqual({ removed: true });
    expect(w.mailer.sent.length).toBe(mails);
  });

  it('the last one from a session ended meanwhile still turns two-step off and ends everything', async () => {
    const ada = await w.member();
    const { auth } = await w.withApp(ada);
    const result = await w.lifecycle.remove(auth, 'totp', client, async (ifEpoch) => {
      const removed = await w.factors.removeTotp(ada.user.id, ifEpoch);
      await w.sessions.delete(auth.session.id);
      return removed;
    });
    expect(result).toEqual({ removed: true });
    expect((await w.users.findById(ada.user.id))?.twoFactor).toBe(false);
    expect(await w.factors.recoveryCodesLeft(ada.user.id)).toBe(0);
    expect(w.mailer.subjects().at(-1)).toBe('Two-step sign-in is off');
  });
});

describe('which second steps a sign-in offers', () => {
  it('lists the app, passkeys, then recovery codes; nothing without a factor', async () => {
    const ada = await w.member();
    expect(await w.lifecycle.methodsFor(ada.user.id)).toEqual([]);
    expect(await w.lifecycle.isOn(ada.user.id)).toBe(false);
    await w.twoStep.startTotp(ada);
    expect(await w.lifecycle.methodsFor(ada.user.id)).toEqual([]);
    const { auth } = await w.withPasskey(ada);
    expect(await w.lifecycle.methodsFor(ada.user.id)).toEqual(['passkey', 'recovery_code']);
    const { secret } = { secret: (await w.twoStep.startTotp(auth).catch(() => null))?.secret };
    expect(secret).toBeDefined();
    await w.twoStep.confirmTotp(auth, w.nextCode(secret!), client);
    expect(await w.lifecycle.methodsFor(ada.user.id)).toEqual(['totp', 'passkey', 'recovery_code']);
    expect(await w.lifecycle.isOn(ada.user.id)).toBe(true);
  });
});

describe('recovery codes as typed', () => {
  const [code] = newRecoveryCodes(cryptoRandom);
  const canonical = code!.replace(/-/g, '');

  it('ignore case, spaces and dashes', () => {
    expect(normalizeRecoveryCode(code!)).toBe(canonical);
    expect(normalizeRecoveryCode(` ${code!.toLowerCase().replace(/-/g, ' ')} `)).toBe(canonical);
  });

  it('read O as 0 and I or L as 1', () => {
    expect(normalizeRecoveryCode('O0O0-I1L1-ilo0-ABCD')).toBe('00001111110' + '0ABCD');
  });

  it('refuse any other length and letters outside the alphabet (U)', () => {
    expect(normalizeRecoveryCode(canonical.slice(1))).toBeNull();
    expect(normalizeRecoveryCode(canonical + '0')).toBeNull();
    expect(normalizeRecoveryCode('U' + canonical.slice(1))).toBeNull();
    expect(normalizeRecoveryCode('!' + canonical.slice(1))).toBeNull();
  });

  it('hash to SHA-256 of the canonical form', () => {
    expect(hashRecoveryCode(canonical)).toHaveLength(32);
    expect(hashRecoveryCode(canonical)).toEqual(hashRecoveryCode(normalizeRecoveryCode(code!.toLowerCase())!));
    expect(hashRecoveryCode(canonical)).not.toEqual(hashRecoveryCode(canonical.slice(1) + '0'));
  });
});
