/** Devices in the SQL database; one row per (account, browser), found by the cookie's SHA-256. */
import type { Kysely, Selectable } from 'kysely';
import type { DeviceRecord, DeviceStore } from '../../domain/devices.js';
import type { ClientInfo } from '../../domain/session-issuer.js';
import type { Database, DevicesTable } from './schema.js';
import { guarded, isForeignKeyViolation } from './errors.js';

const USER_AGENT_MAX = 512;

export class SqlDeviceStore implements DeviceStore {
  constructor(private readonly db: Kysely<Database>) {}

  recordSignIn(userId: string, deviceHash: Buffer, id: string, at: number, client: ClientInfo): Promise<{ isNew: boolean }> {
    return guarded(async () => {
      const seen = { last_seen_at: at, user_agent: client.userAgent.slice(0, USER_AGENT_MAX), ip: client.ip };
      try {
        // One statement: a browser seen before keeps its row (and id), a new one gets `id`. Two
        // sign-ins from one new browser at once: the unique index makes one of them the insert.
        const row = await this.db
          .insertInto('devices')
          .values({ id, user_id: userId, device_hash: deviceHash, first_seen_at: at, ...seen })
          .onConflict((conflict) => conflict.columns(['user_id', 'device_hash']).doUpdateSet(seen))
          .returning('id')
          .executeTakeFirstOrThrow();
        return { isNew: row.id === id };
      } catch (error) {
        // The account was deleted while it was signing in: its session went with it, and so
        // there is no device to record.
        if (isForeignKeyViolation(error)) return { isNew: false };
        throw error;
      }
    });
  }

  find(userId: string, deviceHash: Buffer): Promise<DeviceRecord | null> {
    return guarded(async () => {
      const row = await this.db.selectFrom('devices').selectAll().where('user_id', '=', userId).where('device_hash', '=', deviceHash).executeTakeFirst();
      return row ? toDevice(row) : null;
    });
  }

  trust(userId: string, deviceHash: Buffer, newHash: Buffer, until: number, epoch: number): Promise<void> {
    return guarded(async () => {
      await this.db
        .updateTable('devices')
        .set({ device_hash: newHash, trusted_until: until, trust_epoch: epoch })
        .where('user_id', '=', userId)
        .where('device_hash', '=', deviceHash)
        .execute();
    });
  }

  listByUser(userId: string): Promise<DeviceRecord[]> {
    return guarded(async () => {
      const rows = await this.db.selectFrom('devices').selectAll().where('user_id', '=', userId).orderBy('last_seen_at', 'desc').execute();
      return rows.map(toDevice);
    });
  }

  untrustAll(userId: string): Promise<void> {
    return guarded(async () => {
      await this.db.updateTable('devices').set({ trusted_until: null, trust_epoch: null }).where('user_id', '=', userId).execute();
    });
  }

  forget(userId: string, id: string): Promise<boolean> {
    return guarded(async () => {
      const result = await this.db.deleteFrom('devices').where('user_id', '=', userId).where('id', '=', id).executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    });
  }
}

function toDevice(row: Selectable<DevicesTable>): DeviceRecord {
  return {
    id: row.id,
    userId: row.user_id,
    firstSeenAt: Number(row.first_seen_at),
    lastSeenAt: Number(row.last_seen_at),
    userAgent: row.user_agent,
    ip: row.ip,
    trustedUntil: row.trusted_until === null ? null : Number(row.trusted_until),
    trustEpoch: row.trust_epoch === null ? null : Number(row.trust_epoch),
  };
}
