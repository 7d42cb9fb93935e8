/**
 * Tokens in Redis: one token, and one renewal at a time, for every process on
 * every machine that uses the same Redis (or Valkey).
 *
 * @module
 */

import { MAX_TIMER_DELAY } from "../_duration.ts";
import { checkKnownOptions } from "../_known_options.ts";
import { redactInspect } from "../_redact.ts";
import { isValidToken, type Token } from "../token.ts";
import type {
  AcquireLeaseOptions,
  DeleteTokenOptions,
  SetTokenOptions,
  TokenLease,
  TokenStorage,
  WaitForChangeOptions,
} from "./token_storage.ts";
import { RedisConnection, stringReply } from "./_redis_client.ts";
import { deleteCommand, type RedisKeys, releaseCommand, setCommand } from "./_redis_scripts.ts";
import {
  checkPositiveMs,
  hashedKeys,
  KeyCache,
  pollForChange,
  type Seen,
} from "./_shared_storage.ts";

/**
 * A Redis client that {@linkcode RedisTokenStorage} can use: an ioredis
 * client (its `call()` is used), a node-redis client, v4 or later (its
 * `sendCommand()`), or any object with either method.
 *
 * `sendCommand()` gets a second argument, `{ abortSignal }`, which node-redis
 * (v5 and later) uses to drop a command that timed out before it was sent;
 * other implementations may ignore it. Replies are expected as node-redis and
 * ioredis give them: strings, numbers, arrays and `null`.
 *
 * @example A stand-in client for tests: an empty Redis
 * ```ts
 * import type { RedisClient } from "@alf/client/redis";
 *
 * const redis: RedisClient = {
 *   sendCommand: (args: string[]) => Promise.resolve(args[0] === "MGET" ? [null, null] : null),
 * };
 * ```
 */
export type RedisClient =
  | { sendCommand(args: string[], options?: { abortSignal?: AbortSignal }): Promise<unknown> }
  | { call(command: string, ...args: string[]): Promise<unknown> };

/**
 * Options of {@linkcode RedisTokenStorage}.
 *
 * @example Two applications on one Redis, kept apart by prefix
 * ```ts
 * import type { RedisTokenStorageOptions } from "@alf/client/redis";
 *
 * const options: RedisTokenStorageOptions = { prefix: "billing:", pollInterval: 50 };
 * ```
 */
export interface RedisTokenStorageOptions {
  /**
   * The start of every Redis key (and of the pub/sub channel) this storage
   * uses. Default: `"@alf/client:"`. Storages with different prefixes share
   * nothing.
   */
  prefix?: string;
  /**
   * While another holder renews a token, how often to look for the new one,
   * in milliseconds (one `MGET` each; the actual interval varies by ±50 % so
   * that waiting processes spread out). While a pub/sub subscription is up,
   * the looks are ten times rarer: they only catch what a notification
   * missed, and a lease whose holder died. Default: 25.
   */
  pollInterval?: number;
  /**
   * How long one Redis command may take, in milliseconds, before the call
   * rejects: a Redis that is down or unreachable must not hold requests up
   * (node-redis and ioredis queue commands while they reconnect). Default:
   * 1,000.
   */
  commandTimeout?: number;
}

/**
 * Every name of {@linkcode RedisTokenStorageOptions}: any other name is
 * refused as a misspelling (a misspelled `prefix` would share the default one).
 */
export const REDIS_TOKEN_STORAGE_OPTION_NAMES = {
  prefix: true,
  pollInterval: true,
  commandTimeout: true,
} as const satisfies Record<keyof RedisTokenStorageOptions, true>;

const DEFAULT_PREFIX = "@alf/client:";
const DEFAULT_POLL_INTERVAL = 25;
const DEFAULT_COMMAND_TIMEOUT = 1_000;
/** With a live subscription, polls are this many times rarer. */
const SUBSCRIBED_POLL_FACTOR = 10;

/**
 * Keeps tokens in Redis, shared by every process, on every machine, that
 * uses the same Redis (or Valkey) and prefix.
 *
 * The application creates and connects the client and passes it in; this
 * module imports no Redis package. Clients with the same token endpoint,
 * client id, grant, scope and token parameters share one token. When it must
 * be renewed, one holder takes a lease (`SET … NX PX ttl`) and asks the token
 * endpoint; the others wait for the token it writes. The write is a Lua
 * script that stores the token only while the lease key still holds the
 * holder's id, so a holder that took too long cannot overwrite a newer token;
 * a holder that died is replaced once Redis expires its lease key (Redis's
 * clock alone decides, never another machine's).
 *
 * Waiters learn of a change by pub/sub where the client can make a
 * subscriber connection (node-redis and ioredis: `duplicate()`, then
 * `subscribe()`; call {@linkcode RedisTokenStorage.close} to close it), and
 * by polling with jitter in any case. Keys are the prefix and the SHA-256
 * hash of the client's token key, so they hold neither credentials nor
 * scopes; the values are the token records as JSON, so protect Redis like a
 * secret (`AUTH`, TLS). A record keeps its absolute `expiresAt`: Redis's
 * expiry only cleans up, and the client never uses a token past `expiresAt`.
 *
 * A Redis that is down or slow makes calls reject within `commandTimeout`
 * (at once while the client says it is reconnecting); the client then goes
 * on without the storage and reports it, and uses Redis again once it is
 * back. With node-redis, listen for `"error"` on the client: without a
 * listener, node-redis ends the process when the connection drops.
 *
 * @example A storage on a client (a stand-in here; see below for node-redis and ioredis)
 * ```ts
 * import assert from "node:assert/strict";
 * import { RedisTokenStorage } from "@alf/client/redis";
 *
 * const emptyRedis = { sendCommand: () => Promise.resolve(null) };
 * await using storage = new RedisTokenStorage(emptyRedis, { prefix: "billing:" });
 * assert.equal(await storage.get("key"), undefined);
 * ```
 *
 * @example With node-redis or ioredis
 * ```ts ignore
 * import { Client } from "@alf/client";
 * import { RedisTokenStorage } from "@alf/client/redis";
 * import { createClient } from "npm:redis";
 * // or: import Redis from "npm:ioredis"; const redis = new Redis(Deno.env.get("REDIS_URL"));
 *
 * const redis = await createClient({ url: Deno.env.get("REDIS_URL") })
 *   .on("error", (error) => console.warn("Redis:", error.message))
 *   .connect();
 * await using storage = new RedisTokenStorage(redis);
 * await using client = new Client({ tokenEndpoint, clientId, clientSecret, storage });
 * ```
 */
export class RedisTokenStorage implements TokenStorage, AsyncDisposable {
  readonly #redis: RedisConnection;
  readonly #prefix: string;
  readonly #channel: string;
  readonly #pollInterval: number;
  readonly #redisKeys = hashedKeys((hash): RedisKeys => ({
    token: `${this.#prefix}{${hash}}:token`,
    lease: `${this.#prefix}{${hash}}:lease`,
    hash,
  }));
  /** Per token key, what this storage last saw (raw values), so a wait notices changes it missed. */
  readonly #seen = new KeyCache<Seen>();

  /**
   * Creates a storage on a Redis client.
   *
   * @param redis The client, created and connected by the application.
   * @param options The key prefix, the poll interval and the command timeout.
   * @throws {TypeError} when `redis` has neither `call()` nor `sendCommand()`,
   * the prefix is not a string, or an option is unknown.
   * @throws {RangeError} when `pollInterval` or `commandTimeout` is not a
   * positive number of milliseconds.
   */
  constructor(redis: RedisClient, options: RedisTokenStorageOptions = {}) {
    checkKnownOptions(options, REDIS_TOKEN_STORAGE_OPTION_NAMES, "Redis token storage");
    const prefix = options.prefix ?? DEFAULT_PREFIX;
    if (typeof prefix !== "string") {
      throw new TypeError('Cannot create the Redis token storage: "prefix" must be a string');
    }
    const timeout = duration("commandTimeout", options.commandTimeout, DEFAULT_COMMAND_TIMEOUT);
    this.#prefix = prefix;
    this.#channel = `${prefix}changes`;
    this.#redis = new RedisConnection(redis, timeout, this.#channel);
    this.#pollInterval = duration("pollInterval", options.pollInterval, DEFAULT_POLL_INTERVAL);
  }

  /** The start of this storage's Redis keys. */
  get prefix(): string {
    return this.#prefix;
  }

  /**
   * Returns the token stored under `key`, even one past its `expiresAt`
   * (the client decides with its own clock, and an expired token may still
   * carry a refresh token).
   *
   * @param key The client's token key.
   * @returns The token record, or `undefined`.
   * @throws {TypeError} when the stored value is not a token record.
   */
  async get(key: string): Promise<Token | undefined> {
    const keys = await this.#redisKeys(key);
    const value = stringReply(await this.#redis.command("read the token", ["GET", keys.token]));
    this.#see(key).token = value;
    if (value === null) return undefined;
    let record: unknown;
    try {
      record = JSON.parse(value);
    } catch {
      // The value itself stays out of the message: it may hold a token.
    }
    if (!isValidToken(record)) {
      throw new TypeError("Cannot read the stored token: the Redis value is not a token record");
    }
    return record;
  }

  /**
   * Stores a token; with a lease, only while Redis still holds that lease
   * (atomically, so a holder whose lease ran out writes nothing).
   *
   * @param key The client's token key.
   * @param token The token record.
   * @param options The lease the token was obtained under.
   */
  async set(key: string, token: Token, options: SetTokenOptions = {}): Promise<void> {
    const keys = await this.#redisKeys(key);
    const command = setCommand(keys, token, options.lease?.id, this.#channel);
    await this.#redis.command("store the token", command);
  }

  /**
   * Removes a token; with `accessToken`, only if it is still the stored one.
   *
   * @param key The client's token key.
   * @param options The access token that must still be stored.
   */
  async delete(key: string, options: DeleteTokenOptions = {}): Promise<void> {
    const keys = await this.#redisKeys(key);
    const { accessToken } = options;
    const command = deleteCommand(keys, accessToken, this.#channel);
    const deleted = await this.#redis.command("delete the token", command);
    if (deleted === 1) this.#see(key).token = null;
  }

  /**
   * Takes the renewal lease for `key` unless another holder has it: one
   * `SET lease id NX PX ttl`, so of several processes exactly one wins, and
   * Redis ends the lease after `ttl` milliseconds if its holder never
   * releases it.
   *
   * @param key The client's token key.
   * @param options The lease's time to live and an abort signal.
   * @returns The lease, or `undefined` when another holder has it.
   * @throws {RangeError} when `ttl` is not a positive number.
   */
  async acquireLease(key: string, options: AcquireLeaseOptions): Promise<TokenLease | undefined> {
    const { signal } = options;
    const ttl = checkPositiveMs(options.ttl, "take the lease", "ttl");
    signal?.throwIfAborted();
    const keys = await this.#redisKeys(key);
    const id = crypto.randomUUID();
    const px = String(Math.ceil(ttl));
    const reply = await this.#redis.command(
      "take the lease",
      ["SET", keys.lease, id, "NX", "PX", px],
      signal,
    );
    if (reply === null || reply === undefined) {
      // Held by another: the wait takes that holder's id as its baseline.
      delete this.#see(key).lease;
      return undefined;
    }
    return {
      id,
      release: async () => {
        await this.#redis.command("release the lease", releaseCommand(keys, id, this.#channel));
      },
    };
  }

  /**
   * Resolves when the token or the lease under `key` changed since this
   * storage last read them, when the lease has ended (its holder finished, or
   * died and Redis expired it), or after `options.timeout` milliseconds.
   *
   * Changes are seen through pub/sub notifications (where the client can
   * subscribe) and through polls every `pollInterval` (with jitter), so a
   * missed notification costs one poll, never a hang.
   *
   * @param key The client's token key.
   * @param options The longest wait and an abort signal (the promise then
   * rejects with the signal's reason).
   */
  async waitForChange(key: string, options: WaitForChangeOptions): Promise<void> {
    const { signal } = options;
    signal?.throwIfAborted();
    const keys = await this.#redisKeys(key);
    const seen: Seen = { ...this.#seen.get(key) };
    await pollForChange(options, {
      poll: async () => {
        const mget = ["MGET", keys.token, keys.lease];
        const reply = await this.#redis.command("wait for a change", mget, signal);
        if (changed(reply, seen)) return true;
        this.#redis.subscribe(); // Redis answers: a subscriber connection may be had
        return false;
      },
      interval: () =>
        this.#redis.subscribed ? this.#pollInterval * SUBSCRIBED_POLL_FACTOR : this.#pollInterval,
      listen: (wake) => this.#redis.listen(keys.hash, wake),
    });
  }

  /**
   * Closes the subscriber connection this storage opened for pub/sub, if
   * any. The client passed in stays open: it is the application's.
   */
  close(): Promise<void> {
    return this.#redis.close();
  }

  /** Same as {@linkcode RedisTokenStorage.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #see(key: string): Seen {
    return this.#seen.ensure(key, () => ({}));
  }
}

redactInspect(RedisTokenStorage, (storage) => ({ prefix: storage.prefix }));

/**
 * Whether the token and lease values differ from what a waiter saw, or the
 * lease has ended. What the waiter had not seen yet is taken as its baseline.
 */
function changed(reply: unknown, seen: Seen): boolean {
  if (!Array.isArray(reply) || reply.length !== 2) {
    throw new TypeError("Cannot wait for a change: Redis gave a reply to MGET that is not a pair");
  }
  const token = stringReply(reply[0]);
  const lease = stringReply(reply[1]);
  if (lease === null) return true;
  if (seen.token !== undefined && seen.token !== token) return true;
  if (seen.lease !== undefined && seen.lease !== lease) return true;
  seen.token = token;
  seen.lease = lease;
  return false;
}

function duration(name: string, value: number | undefined, fallback: number): number {
  return checkPositiveMs(
    value ?? fallback,
    "create the Redis token storage",
    name,
    MAX_TIMER_DELAY,
  );
}
