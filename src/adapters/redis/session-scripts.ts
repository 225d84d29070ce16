/**
 * Lua scripts for the Redis session store. Each runs atomically, which is what keeps the
 * per-user index exact under concurrency: a login racing a "revoke all" lands wholly before
 * it (and is revoked) or wholly after it (and was issued after).
 *
 * Key layout. Every key of a user shares one hash tag, so a Redis Cluster keeps them in one
 * slot; scripts derive key names from <base> = "<prefix>{<tag>}" and so never leave the slot
 * of their first key:
 *   <base>:s:<sessionId>  string  the session, packed (below); its TTL is the session's expiry
 *   <base>:u:<uidHex>     string  the user's public fields (a JSON array), so `find` is one round trip
 *   <base>:i:<uidHex>     zset    the user's session ids, scored by expiry in whole seconds
 *                                 (rounded up: small integers pack tighter than milliseconds)
 *   <base>:g:<uaRefHex>   string  a user agent, shared by the sessions (of any user in the slot)
 *                                 that send the same one
 *
 * A session is 59 bytes plus the IP, packed with Lua's struct (big-endian):
 *   1 version | 16 user id | 16 digest of the secret | 6 createdAt ms | 6 lastSeenAt ms |
 *   6 authenticatedAt ms | 1 flags (1 = remember me) | 6 user-agent reference | IP (text)
 * so the hot read is one small GET and sliding renewal is a 6-byte SETRANGE. Storing the user
 * agent once instead of in every session is what keeps a session near 300 bytes in Redis.
 */
import { lua } from './connection.js';

const common = `
local function hex2bin(h) return (h:gsub('..', function(x) return string.char(tonumber(x, 16)) end)) end
-- One string.format over all bytes: far cheaper than a gsub callback per byte (hot path).
local function bin2hex(b) return string.format(string.rep('%02x', #b), string.byte(b, 1, -1)) end
local function extend(key, at)
  local current = redis.call('PEXPIRETIME', key)
  if current < 0 or current < at then redis.call('PEXPIREAT', key, at) end
end
local function uidOf(v) return bin2hex(v:sub(2, 17)) end
local function uaKeyOf(base, v) return base .. ':g:' .. bin2hex(v:sub(53, 58)) end
local function indexScore(ms) return math.ceil(ms / 1000) end
-- An entry scored s expires at or before s*1000 ms: it is surely over once s*1000 <= now.
local function pruneIndex(key, now) redis.call('ZREMRANGEBYSCORE', key, '-inf', math.floor(now / 1000)) end
local function lastSeenOf(v) return (struct.unpack('>I6', v, 40)) end
local function decode(base, key, v)
  local createdAt, lastSeenAt, authenticatedAt, flags = struct.unpack('>I6I6I6B', v, 34)
  local userAgent = redis.call('GET', uaKeyOf(base, v)) or ''
  return { uidOf(v), bin2hex(v:sub(18, 33)), createdAt, lastSeenAt, authenticatedAt, flags,
           redis.call('PEXPIRETIME', key), v:sub(59), userAgent }
end
`;

/**
 * KEYS[1]=session; ARGV: base, sessionId, uidHex, userJson, expiresAt, now, keepAtMost,
 * secretHashHex, createdAt, lastSeenAt, authenticatedAt, flags, uaRefHex, ip, userAgent.
 * Past `keepAtMost` live sessions, the least recently used ones end.
 */
export const insertSession = lua(`${common}
local base, sid, uid, user = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local expiresAt, now, keepAtMost = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local value = struct.pack('>B', 1) .. hex2bin(uid) .. hex2bin(ARGV[8])
  .. struct.pack('>I6I6I6B', tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11]), tonumber(ARGV[12]))
  .. hex2bin(ARGV[13]) .. ARGV[14]
redis.call('SET', KEYS[1], value, 'PXAT', expiresAt)
local userKey, indexKey, uaKey = base .. ':u:' .. uid, base .. ':i:' .. uid, base .. ':g:' .. ARGV[13]
redis.call('SET', userKey, user, 'KEEPTTL')
extend(userKey, expiresAt)
redis.call('SET', uaKey, ARGV[15], 'KEEPTTL')
extend(uaKey, expiresAt)
pruneIndex(indexKey, now)
redis.call('ZADD', indexKey, indexScore(expiresAt), sid)
extend(indexKey, expiresAt)
if redis.call('ZCARD', indexKey) > keepAtMost then
  local live = {}
  for _, id in ipairs(redis.call('ZRANGE', indexKey, 0, -1)) do
    local v = redis.call('GET', base .. ':s:' .. id)
    if v then live[#live + 1] = { id = id, l = lastSeenOf(v) } else redis.call('ZREM', indexKey, id) end
  end
  table.sort(live, function(a, b) return a.l < b.l end)
  for i = 1, #live - keepAtMost do
    redis.call('DEL', base .. ':s:' .. live[i].id)
    redis.call('ZREM', indexKey, live[i].id)
  end
end
return 1
`);

/** KEYS[1]=session; ARGV: base. Returns {sessionFields, userJson} or nil. */
export const findSession = lua(`${common}
local v = redis.call('GET', KEYS[1])
if not v then return false end
local user = redis.call('GET', ARGV[1] .. ':u:' .. uidOf(v))
if not user then return false end
return { decode(ARGV[1], KEYS[1], v), user }
`);

/** KEYS[1]=session; ARGV: base, sessionId, lastSeenAt, expiresAt. Never recreates a session. */
export const touchSession = lua(`${common}
local v = redis.call('GETRANGE', KEYS[1], 0, 57)
if v == '' then return 0 end
local expiresAt = tonumber(ARGV[4])
redis.call('SETRANGE', KEYS[1], 39, struct.pack('>I6', tonumber(ARGV[3])))
redis.call('PEXPIREAT', KEYS[1], expiresAt)
local uid = uidOf(v)
redis.call('ZADD', ARGV[1] .. ':i:' .. uid, 'XX', indexScore(expiresAt), ARGV[2])
extend(ARGV[1] .. ':i:' .. uid, expiresAt)
extend(ARGV[1] .. ':u:' .. uid, expiresAt)
extend(uaKeyOf(ARGV[1], v), expiresAt)
return 1
`);

/** KEYS[1]=session; ARGV: authenticatedAt. Only an existing session is updated. */
export const recordReauthentication = lua(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('SETRANGE', KEYS[1], 45, struct.pack('>I6', tonumber(ARGV[1])))
return 1
`);

/** KEYS[1]=session; ARGV: base, sessionId. */
export const deleteSession = lua(`${common}
local v = redis.call('GETRANGE', KEYS[1], 0, 16)
if v == '' then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', ARGV[1] .. ':i:' .. uidOf(v), ARGV[2])
return 1
`);

/** KEYS[1]=index; ARGV: base, now. Prunes expired ids; returns {sessionId, fields} pairs. */
export const listSessions = lua(`${common}
pruneIndex(KEYS[1], tonumber(ARGV[2]))
local out = {}
for _, sid in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local key = ARGV[1] .. ':s:' .. sid
  local v = redis.call('GET', key)
  if v then
    out[#out + 1] = sid
    out[#out + 1] = decode(ARGV[1], key, v)
  else
    redis.call('ZREM', KEYS[1], sid)
  end
end
return out
`);

/**
 * KEYS[1]=index; ARGV: base, uidHex, keepSessionId ("" for none). Returns how many sessions
 * ended. Without a session to keep, the user's cached public fields go too.
 */
export const deleteUserSessions = lua(`
local ended = 0
for _, sid in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if sid ~= ARGV[3] then
    ended = ended + redis.call('DEL', ARGV[1] .. ':s:' .. sid)
    redis.call('ZREM', KEYS[1], sid)
  end
end
if ARGV[3] == '' then redis.call('DEL', ARGV[1] .. ':u:' .. ARGV[2]) end
return ended
`);
