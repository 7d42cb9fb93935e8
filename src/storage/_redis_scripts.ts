// The Redis storage's atomic steps, each one Lua script: a write fenced by
// the lease, a conditional delete, a lease release; each tells waiters by
// PUBLISH. A lease is live while its key exists (Redis's own PX ends it),
// so no machine's clock is compared. The scripts run once per renewal, so
// EVAL, which needs no script cache to survive a restart or a failover,
// costs nothing that matters.

import type { Token } from "../token.ts";
import { cleanupDelay } from "./_cleanup.ts";

/** The Redis keys of one token, in one hash slot (Redis Cluster) by their `{hash}` tag. */
export interface RedisKeys {
  token: string;
  lease: string;
  /** The SHA-256 of the token key: the pub/sub message that names it. */
  hash: string;
}

/** KEYS: token, lease. ARGV: value, cleanup ms or "", fenced "1"/"0", lease id, channel, hash. */
const SET_SCRIPT = `
if ARGV[3] == '1' and redis.call('GET', KEYS[2]) ~= ARGV[4] then return 0 end
if ARGV[2] == '' then redis.call('SET', KEYS[1], ARGV[1])
else redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) end
redis.call('PUBLISH', ARGV[5], ARGV[6])
return 1`;

/** KEYS: token. ARGV: conditional "1"/"0", access token, channel, hash. */
const DELETE_SCRIPT = `
if ARGV[1] == '1' then
  local value = redis.call('GET', KEYS[1])
  if not value then return 0 end
  local ok, record = pcall(cjson.decode, value)
  if not ok or type(record) ~= 'table' or record.accessToken ~= ARGV[2] then return 0 end
end
if redis.call('DEL', KEYS[1]) == 0 then return 0 end
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1`;

/** KEYS: lease. ARGV: lease id, channel, hash. */
const RELEASE_SCRIPT = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1`;

/**
 * Stores `token` as JSON, expiring some time after its own lifetime
 * ({@linkcode cleanupDelay}: `PX` only cleans up); with
 * `leaseId`, only while the lease key holds it. Replies 1 if written.
 */
export function setCommand(
  keys: RedisKeys,
  token: Token,
  leaseId: string | undefined,
  channel: string,
): string[] {
  const cleanUp = cleanupDelay(token);
  return [
    ...evalStart(SET_SCRIPT, [keys.token, keys.lease]),
    JSON.stringify(token),
    cleanUp === undefined ? "" : String(cleanUp),
    leaseId === undefined ? "0" : "1",
    leaseId ?? "",
    channel,
    keys.hash,
  ];
}

/** Deletes the token; with `accessToken`, only if the record has it. Replies 1 if deleted. */
export function deleteCommand(
  keys: RedisKeys,
  accessToken: string | undefined,
  channel: string,
): string[] {
  return [
    ...evalStart(DELETE_SCRIPT, [keys.token]),
    accessToken === undefined ? "0" : "1",
    accessToken ?? "",
    channel,
    keys.hash,
  ];
}

/** Deletes the lease key if it still holds `leaseId`. Replies 1 if released. */
export function releaseCommand(keys: RedisKeys, leaseId: string, channel: string): string[] {
  return [...evalStart(RELEASE_SCRIPT, [keys.lease]), leaseId, channel, keys.hash];
}

function evalStart(source: string, keys: string[]): string[] {
  return ["EVAL", source, String(keys.length), ...keys];
}
