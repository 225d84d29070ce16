/** `npm run migrate`: applies pending migrations to DATABASE_URL and exits. */
import { openDatabase } from './adapters/sql/database.js';
import { migrateToLatest } from './adapters/sql/migrations.js';
import { configFromEnv, resolveConfig } from './config.js';

const config = resolveConfig(configFromEnv(process.env));
const database = openDatabase(config.databaseUrl, { timeoutMs: 10_000 });
try {
  const applied = await migrateToLatest(database.db, database.dialect);
  process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'database is up to date\n');
} catch (error) {
  process.stderr.write(`migration failed: ${(error as Error).message}\n`);
  process.exitCode = 1;
} finally {
  await database.close();
}
