/**
 * Lua scripts for the Redis session store. Each runs atomically, which is what keeps the
 * per-user index exact under concurrency: a login racing a "revoke all" lands wholly before
 * it (and is revoked) or wholly after it (and was issued after, or refused by the epoch).
 *
 * Key layout. Every key of a user shares one hash tag, so a Redis Cluster keeps them in one
 * slot; scripts derive key names from <base> = "<prefix>{<tag>}" and so never leave the slot
 * of their first key:
 *   <base><sessionId>     string  the session, packed (below); its TTL is the session's expiry.
 *                                 No separator: with the default prefix the key is 28 bytes,
 *                                 which keeps it in jemalloc's 32-byte class (a 22-character id
 *                                 of before keeps its older key, <base>:s:<sessionId>)
 *   <base>:u:<uidHex>     string  the user's public fields (a JSON array), so `find` is one round trip
 *   <base>:i:<uidHex>     zset    the user's session ids, scored by expiry in whole seconds
 *                                 (rounded up: small integers pack tighter than milliseconds)
 *   <base>:e:<uidHex>     string  the user's credential epoch (DESIGN.md, "Credentials change");
 *                                 absent means 0. A session of an older epoch is dead, and
 *                                 one cannot be inserted.
 *   <base>:g:<uaRefHex>   string  a user agent, shared by the sessions (of any user in the slot)
 *                                 that send the same one
 *
 * A session (format 2) is 63 bytes plus the IP, packed with Lua's struct (big-endian):
 *   1 version | 16 user id | 16 digest of the secret | 6 createdAt ms | 6 lastSeenAt ms |
 *   6 authenticatedAt ms | 1 flags (1 = remember me, 2 = pending) | 6 user-agent reference | 3 epoch |
 *   2 methods (how it was proven, in order: four 4-bit codes, see session-store.ts) | IP
 * so the hot read is one small GET and sliding renewal is a 6-byte SETRANGE. Storing the user
 * agent once instead of in every session is what keeps a session near 300 bytes in Redis.
 * Format 1 (no epoch, no methods; IP at byte 59) is still read, as epoch 0 and a password.
 *
 * Clocks: every decision that compares "now" with a stored expiry inside Redis (pruning the
 * index) uses Redis' own TIME, never the calling instance's clock: instances with skewed
 * clocks must not drop a live session from the index (it would then survive a revoke-all).
 */
import { lua } from './connection.js';

/** The packed layout, as constants only: cheap enough for the hot read to start with. */
const layout = `
-- Byte positions in a packed session (1-based, as Lua's string functions count them).
local UID, DIGEST, TIMES, LAST_SEEN, AUTHENTICATED, FLAGS, UA_REF, EPOCH, METHODS, IP = 2, 18, 34, 40, 46, 52, 53, 59, 62, 64
local IP_FORMAT1 = 59
local PENDING = 2
local FORMAT = 2
local PASSWORD_ONLY = 4096 -- the methods of a format 1 session: the password code in the first nibble
-- Bytes of the session are read as big-endian integers straight into one string.format: no
-- substring first (Lua interns every string it makes, so each costs a hash), and four or two
-- directives instead of one per byte (formatting is most of what the hex costs; hot path).
local HEX16, UNPACK16 = '%08x%08x%08x%08x', '>I4I4I4I4'
local HEX6, UNPACK6 = '%04x%08x', '>I2I4'
`;

/** The layout and the helpers every other script shares. */
const common = `${layout}
local function isPending(v) return math.floor(v:byte(FLAGS) / PENDING) % 2 == 1 end
local function isFormat1(v) return v:byte(1) == 1 end
local function ipOf(v) if isFormat1(v) then return v:sub(IP_FORMAT1) end return v:sub(IP) end
local function epochOf(v) if isFormat1(v) then return 0 end return (struct.unpack('>I3', v, EPOCH)) end
local function methodsOf(v) if isFormat1(v) then return PASSWORD_ONLY end return (struct.unpack('>I2', v, METHODS)) end
local function hex2bin(h) return (h:gsub('..', function(x) return string.char(tonumber(x, 16)) end)) end
local function redisNow()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function extend(key, at)
  local current = redis.call('PEXPIRETIME', key)
  if current < 0 or current < at then redis.call('PEXPIREAT', key, at) end
end
local function sessionKey(base, sid) if #sid == 22 then return base .. ':s:' .. sid end return base .. sid end
local function uidOf(v) return string.format(HEX16, struct.unpack(UNPACK16, v, UID)) end
local function uaKeyOf(base, v) return base .. ':g:' .. string.format(HEX6, struct.unpack(UNPACK6, v, UA_REF)) end
local function epochKeyOf(base, uid) return base .. ':e:' .. uid end
local function userEpoch(base, uid) return tonumber(redis.call('GET', epochKeyOf(base, uid)) or '0') end
local function indexScore(ms) return math.ceil(ms / 1000) end
-- An entry scored s expires at or before s*1000 ms: it is surely over once s*1000 <= now.
local function pruneIndex(key) redis.call('ZREMRANGEBYSCORE', key, '-inf', math.floor(redisNow() / 1000)) end
local function lastSeenOf(v) return (struct.unpack('>I6', v, LAST_SEEN)) end
-- uas: user agents already read by this script (a list of a user's sessions mostly shares one).
-- Returns the fields session-store.ts reads as PackedFields, in that order.
local function decode(base, key, v, uid, uas)
  local createdAt, lastSeenAt, authenticatedAt, flags = struct.unpack('>I6I6I6B', v, TIMES)
  local uaKey = uaKeyOf(base, v)
  local userAgent = uas and uas[uaKey]
  if not userAgent then
    userAgent = redis.call('GET', uaKey) or ''
    if uas then uas[uaKey] = userAgent end
  end
  return { uid, string.format(HEX16, struct.unpack(UNPACK16, v, DIGEST)), createdAt, lastSeenAt, authenticatedAt, flags,
           redis.call('PEXPIRETIME', key), ipOf(v), userAgent, epochOf(v), methodsOf(v) }
end
`;

/**
 * KEYS[1]=session; ARGV: base, sessionId, uidHex, userJson, expiresAt, keepAtMost,
 * secretHashHex, createdAt, lastSeenAt, authenticatedAt, flags, uaRefHex, ip, userAgent, epoch,
 * methods.
 * Returns 0 (nothing stored) when the user's epoch is past the session's. Past `keepAtMost`
 * live sessions, the least recently used ones end.
 */
export const insertSession = lua(`${common}
local base, sid, uid, user = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local expiresAt, keepAtMost, epoch = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[15])
local epochKey = epochKeyOf(base, uid)
local current = userEpoch(base, uid)
if epoch < current then return 0 end
-- A session of a newer epoch than Redis knows (the change's own revoke has not run yet, or
-- failed): record it, so sessions of the older epoch die now.
if epoch > current then redis.call('SET', epochKey, epoch, 'KEEPTTL') end
extend(epochKey, expiresAt)
local value = struct.pack('>B', FORMAT) .. hex2bin(uid) .. hex2bin(ARGV[7])
  .. struct.pack('>I6I6I6B', tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11]))
  .. hex2bin(ARGV[12]) .. struct.pack('>I3I2', epoch, tonumber(ARGV[16])) .. ARGV[13]
redis.call('SET', KEYS[1], value, 'PXAT', expiresAt)
local userKey, indexKey, uaKey = base .. ':u:' .. uid, base .. ':i:' .. uid, base .. ':g:' .. ARGV[12]
redis.call('SET', userKey, user, 'KEEPTTL')
extend(userKey, expiresAt)
redis.call('SET', uaKey, ARGV[14], 'KEEPTTL')
extend(uaKey, expiresAt)
pruneIndex(indexKey)
redis.call('ZADD', indexKey, indexScore(expiresAt), sid)
extend(indexKey, expiresAt)
if redis.call('ZCARD', indexKey) > keepAtMost then
  local live = {}
  for _, id in ipairs(redis.call('ZRANGE', indexKey, 0, -1)) do
    -- Only the bytes up to the flags: this runs for every session of the user at each sign-in
    -- past the cap.
    local v = redis.call('GETRANGE', sessionKey(base, id), 0, FLAGS - 1)
    -- A pending session (second step still to come) neither counts nor ends: someone with the
    -- password but not the second factor must not sign the owner out by starting sign-ins.
    if v == '' then redis.call('ZREM', indexKey, id) elseif not isPending(v) then live[#live + 1] = { id = id, l = lastSeenOf(v) } end
  end
  table.sort(live, function(a, b) return a.l < b.l end)
  for i = 1, #live - keepAtMost do
    redis.call('DEL', sessionKey(base, live[i].id))
    redis.call('ZREM', indexKey, live[i].id)
  end
end
return 1
`);

/**
 * KEYS[1]=session; ARGV: base. Returns the session's fields (as `decode` above) followed by the
 * user's JSON, in one flat array, or nil (none, or of an older epoch).
 *
 * The read behind every authenticated request, so it is written out in line on the layout
 * alone: the helpers above cost a closure each per run, and their substrings a hash each; and
 * the three keys the session points to are read with one MGET. Each of these showed in INFO
 * commandstats (Redis' time per call). The contract suite reads every field through both this
 * and listSessions.
 */
export const findSession = lua(`${layout}
local v = redis.call('GET', KEYS[1])
if not v then return false end
local base = ARGV[1]
local uid = string.format(HEX16, struct.unpack(UNPACK16, v, UID))
local epoch, methods, ip = 0, PASSWORD_ONLY, nil
if v:byte(1) == 1 then ip = v:sub(IP_FORMAT1) else epoch, methods = struct.unpack('>I3I2', v, EPOCH); ip = v:sub(IP) end
-- One call for the user's epoch, fields and the session's user agent (one slot: one hash tag).
local got = redis.call('MGET', base .. ':e:' .. uid, base .. ':u:' .. uid, base .. ':g:' .. string.format(HEX6, struct.unpack(UNPACK6, v, UA_REF)))
if epoch < tonumber(got[1] or '0') then return false end
local user = got[2]
if not user then return false end
local createdAt, lastSeenAt, authenticatedAt, flags = struct.unpack('>I6I6I6B', v, TIMES)
return { uid, string.format(HEX16, struct.unpack(UNPACK16, v, DIGEST)), createdAt, lastSeenAt, authenticatedAt, flags,
         redis.call('PEXPIRETIME', KEYS[1]), ip, got[3] or '', epoch, methods, user }
`);

/**
 * KEYS[1]=session; ARGV: base, sessionId, lastSeenAt, expiresAt. Never recreates a session.
 * The index entry is (re)added, not only updated: an entry pruned early must come back while
 * the session lives, or a revoke-all, which walks the index, would miss it.
 */
export const touchSession = lua(`${common}
local v = redis.call('GETRANGE', KEYS[1], 0, EPOCH - 2)
if v == '' then return 0 end
local expiresAt = tonumber(ARGV[4])
redis.call('SETRANGE', KEYS[1], LAST_SEEN - 1, struct.pack('>I6', tonumber(ARGV[3])))
redis.call('PEXPIREAT', KEYS[1], expiresAt)
local uid = uidOf(v)
redis.call('ZADD', ARGV[1] .. ':i:' .. uid, indexScore(expiresAt), ARGV[2])
extend(ARGV[1] .. ':i:' .. uid, expiresAt)
extend(ARGV[1] .. ':u:' .. uid, expiresAt)
extend(uaKeyOf(ARGV[1], v), expiresAt)
return 1
`);

/** KEYS[1]=session; ARGV: authenticatedAt. Only an existing session is updated. */
export const recordReauthentication = lua(`${common}
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('SETRANGE', KEYS[1], AUTHENTICATED - 1, struct.pack('>I6', tonumber(ARGV[1])))
return 1
`);

/** KEYS[1]=session; ARGV: base, sessionId. */
export const deleteSession = lua(`${common}
local v = redis.call('GETRANGE', KEYS[1], 0, DIGEST - 2)
if v == '' then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', ARGV[1] .. ':i:' .. uidOf(v), ARGV[2])
return 1
`);

/**
 * KEYS[1]=index; ARGV: base, uidHex. Prunes expired ids and removes sessions of an older
 * epoch; returns {sessionId, fields} pairs.
 */
export const listSessions = lua(`${common}
pruneIndex(KEYS[1])
local epoch = userEpoch(ARGV[1], ARGV[2])
local out, uas = {}, {}
for _, sid in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local key = sessionKey(ARGV[1], sid)
  local v = redis.call('GET', key)
  if v and epochOf(v) >= epoch then
    out[#out + 1] = sid
    out[#out + 1] = decode(ARGV[1], key, v, uidOf(v), uas)
  else
    if v then redis.call('DEL', key) end
    redis.call('ZREM', KEYS[1], sid)
  end
end
return out
`);

/**
 * KEYS[1]=index; ARGV: base, uidHex, keepSessionId ("" for none), epoch. Raises the user's
 * epoch to `epoch` (a login still in flight with an older one is then refused at insert),
 * ends every other session; returns how many ended. Without a session to keep, the user's
 * cached public fields go too.
 */
export const deleteUserSessions = lua(`${common}
local base, uid, keep, epoch = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local epochKey = epochKeyOf(base, uid)
if epoch > userEpoch(base, uid) then redis.call('SET', epochKey, epoch, 'KEEPTTL') end
-- Kept while a session might still carry an older epoch, and a day for logins in flight.
extend(epochKey, math.max(redisNow() + 86400000, redis.call('PEXPIRETIME', KEYS[1])))
local ended = 0
for _, sid in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if sid ~= keep then
    ended = ended + redis.call('DEL', sessionKey(base, sid))
    redis.call('ZREM', KEYS[1], sid)
  end
end
if keep == '' then redis.call('DEL', base .. ':u:' .. uid) end
return ended
`);
