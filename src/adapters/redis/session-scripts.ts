/**
 * Lua scripts for the Redis session store. Each runs atomically, which is what keeps the
 * per-user index exact under concurrency: a login racing a "revoke all" lands wholly before
 * it (and is revoked) or wholly after it (and was issued after).
 *
 * Key layout, all sharing one hash tag per user so a Redis Cluster keeps them in one slot:
 *   <base>s:<sessionId>  hash   the session (u=userId, h=secret hash, c, l, e, r, a, i, g)
 *   <base>u:<userId>     string the user's public fields, so `find` needs one round trip
 *   <base>i:<userId>     zset   the user's session ids, scored by expiry
 * where <base> = "<prefix>{<tag>}:". Scripts build the user's key names from <base>; these
 * always share KEYS[1]'s slot, because the tag is in <base>.
 */
import { lua } from './connection.js';

const extendTtl = `
local function extend(key, at)
  local current = redis.call('PEXPIRETIME', key)
  if current < 0 or current < at then redis.call('PEXPIREAT', key, at) end
end
`;

/**
 * KEYS[1]=session; ARGV: base, sessionId, userId, userJson, expiresAt, now, keepAtMost, then
 * field/value pairs. Past `keepAtMost` live sessions, the least recently used ones end.
 */
export const insertSession = lua(`${extendTtl}
local base, sid, uid, user = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local expiresAt, now, keepAtMost = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local fields = {}
for i = 8, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('PEXPIREAT', KEYS[1], expiresAt)
local userKey, indexKey = base .. 'u:' .. uid, base .. 'i:' .. uid
redis.call('SET', userKey, user, 'KEEPTTL')
extend(userKey, expiresAt)
redis.call('ZREMRANGEBYSCORE', indexKey, '-inf', now)
redis.call('ZADD', indexKey, expiresAt, sid)
extend(indexKey, expiresAt)
if redis.call('ZCARD', indexKey) > keepAtMost then
  local live = {}
  for _, id in ipairs(redis.call('ZRANGE', indexKey, 0, -1)) do
    local lastSeen = redis.call('HGET', base .. 's:' .. id, 'l')
    if lastSeen then live[#live + 1] = { id = id, l = tonumber(lastSeen) } else redis.call('ZREM', indexKey, id) end
  end
  table.sort(live, function(a, b) return a.l < b.l end)
  for i = 1, #live - keepAtMost do
    redis.call('DEL', base .. 's:' .. live[i].id)
    redis.call('ZREM', indexKey, live[i].id)
  end
end
return 1
`);

/** KEYS[1]=session; ARGV: authenticatedAt. Only an existing session is updated. */
export const recordReauthentication = lua(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'a', ARGV[1])
return 1
`);

/** KEYS[1]=session; ARGV: base. Returns {sessionFields, userJson} or nil. */
export const findSession = lua(`
local fields = redis.call('HGETALL', KEYS[1])
if #fields == 0 then return false end
local uid
for i = 1, #fields, 2 do if fields[i] == 'u' then uid = fields[i + 1] end end
local user = redis.call('GET', ARGV[1] .. 'u:' .. uid)
if not user then return false end
return {fields, user}
`);

/** KEYS[1]=session; ARGV: base, sessionId, lastSeenAt, expiresAt. */
export const touchSession = lua(`${extendTtl}
local uid = redis.call('HGET', KEYS[1], 'u')
if not uid then return 0 end
local expiresAt = tonumber(ARGV[4])
redis.call('HSET', KEYS[1], 'l', ARGV[3], 'e', ARGV[4])
redis.call('PEXPIREAT', KEYS[1], expiresAt)
local indexKey = ARGV[1] .. 'i:' .. uid
redis.call('ZADD', indexKey, 'XX', expiresAt, ARGV[2])
extend(indexKey, expiresAt)
extend(ARGV[1] .. 'u:' .. uid, expiresAt)
return 1
`);

/** KEYS[1]=session; ARGV: base, sessionId. */
export const deleteSession = lua(`
local uid = redis.call('HGET', KEYS[1], 'u')
if not uid then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', ARGV[1] .. 'i:' .. uid, ARGV[2])
return 1
`);

/** KEYS[1]=index; ARGV: base, now. Prunes expired ids; returns {sessionId, fields} pairs. */
export const listSessions = lua(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
local ids = redis.call('ZRANGE', KEYS[1], 0, -1)
local out = {}
for _, sid in ipairs(ids) do
  local fields = redis.call('HGETALL', ARGV[1] .. 's:' .. sid)
  if #fields == 0 then
    redis.call('ZREM', KEYS[1], sid)
  else
    out[#out + 1] = sid
    out[#out + 1] = fields
  end
end
return out
`);

/** KEYS[1]=index; ARGV: base, keepSessionId ("" for none). Returns how many sessions ended. */
export const deleteUserSessions = lua(`
local ids = redis.call('ZRANGE', KEYS[1], 0, -1)
local ended = 0
for _, sid in ipairs(ids) do
  if sid ~= ARGV[2] then
    ended = ended + redis.call('DEL', ARGV[1] .. 's:' .. sid)
    redis.call('ZREM', KEYS[1], sid)
  end
end
return ended
`);
