/**
 * argon2id in PHC string format (node-argon2). Hashing runs on libuv's thread pool, never on
 * the event loop. `needsRehash` compares a stored hash's parameters with the configured ones,
 * so raising the cost upgrades every account at its next successful login.
 */
import argon2 from 'argon2';
import { randomBytes } from 'node:crypto';
import type { PasswordHasher, VerifyResult } from '../domain/ports.js';

export interface Argon2Params {
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

export class Argon2Hasher implements PasswordHasher {
  private dummyHash: Promise<string> | undefined;

  constructor(private readonly params: Argon2Params) {}

  hash(password: string): Promise<string> {
    return argon2.hash(password, { type: argon2.argon2id, ...this.params });
  }

  async verify(hash: string, password: string): Promise<VerifyResult> {
    let ok: boolean;
    try {
      ok = await argon2.verify(hash, password);
    } catch {
      // A corrupt or foreign hash in the database must not turn into a 500 or a login.
      return { ok: false };
    }
    if (!ok) return { ok: false };
    return { ok: true, needsRehash: argon2.needsRehash(hash, this.params) };
  }

  async verifyDummy(password: string): Promise<void> {
    // A real hash made with the live parameters, so the work matches a true verify.
    this.dummyHash ??= this.hash(randomBytes(32).toString('base64url'));
    await argon2.verify(await this.dummyHash, password);
  }
}
