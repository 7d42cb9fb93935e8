/**
 * Redis token storage: one token, and one renewal at a time, for a fleet of
 * processes and machines that share a Redis (or Valkey).
 *
 * A separate entry point, so that `@alf/client` itself stays free of it. It
 * imports no Redis package: the application brings its client (node-redis
 * v4 or later, ioredis, or any object with `sendCommand(args)`).
 *
 * @example A client whose token lives in Redis (a stand-in Redis here)
 * ```ts
 * import { Client } from "@alf/client";
 * import { RedisTokenStorage } from "@alf/client/redis";
 *
 * // In an application: `await createClient({ url }).on("error", log).connect()` (npm:redis)
 * // or `new Redis(url)` (npm:ioredis).
 * const redis = { sendCommand: () => Promise.resolve(null) };
 * await using storage = new RedisTokenStorage(redis, { prefix: "billing:" });
 * await using client = new Client({
 *   tokenEndpoint: "https://auth.example.com/token",
 *   clientId: "id",
 *   clientSecret: "secret",
 *   storage,
 * });
 * ```
 *
 * @module
 */

// The storage contract's types, so that this entry point documents itself.
export type {
  AcquireLeaseOptions,
  DeleteTokenOptions,
  SetTokenOptions,
  Token,
  TokenLease,
  TokenStorage,
  WaitForChangeOptions,
} from "./mod.ts";
export {
  type RedisClient,
  RedisTokenStorage,
  type RedisTokenStorageOptions,
} from "./src/storage/redis.ts";
