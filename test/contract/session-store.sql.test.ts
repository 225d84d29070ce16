import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../src/adapters/sql/database.js';
import { migrateToLatest } from '../../src/adapters/sql/migrations.js';
import { SqlSessionStore } from '../../src/adapters/sql/session-store.js';
import { SqlUserRepository } from '../../src/adapters/sql/user-repository.js';
import { createPostgresDatabase, hasPostgres } from '../support/services.js';
import { sessionStoreContract, type StoreFixture } from './session-store.contract.js';

async function sqlFixture(url: string, cleanup: () => Promise<void>): Promise<StoreFixture> {
  const database = openDatabase(url, { timeoutMs: 2000 });
  await migrateToLatest(database.db, database.dialect);
  const users = new SqlUserRepository(database.db, database.dialect);
  return {
    store: new SqlSessionStore(database.db, database.dialect),
    async addUser(user) {
      const created = await users.create({ ...user, passwordHash: 'not-a-real-hash', credentialEpoch: 0, disabled: null });
      if (!created.ok) throw new Error('fixture user exists');
    },
    async bumpEpoch(userId) {
      const changed = await users.changeCredentials(userId, {});
      if (!changed.ok) throw new Error(`fixture epoch bump failed: ${changed.reason}`);
      return changed.epoch;
    },
    async verifyUser(user) {
      await users.markEmailVerified(user.id, user.email);
    },
    async close() {
      await database.close();
      await cleanup();
    },
  };
}

sessionStoreContract('SQLite', true, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'latch-contract-'));
  return sqlFixture(`sqlite:${join(dir, 'latch.db')}`, async () => rmSync(dir, { recursive: true, force: true }));
});

sessionStoreContract('PostgreSQL', hasPostgres, async () => {
  const database = await createPostgresDatabase();
  return sqlFixture(database.url, () => database.drop());
});
