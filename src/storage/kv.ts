/**
 * Tokens in Deno KV: one token, and one renewal at a time, for every process
 * and isolate that opens the same database.
 *
 * @module
 */

import { checkKnownOptions } from "../_known_options.ts";
import { redactInspect } from "../_redact.ts";
import { isValidToken, type Token } from "../token.ts";
import { CLEANUP_GRACE, cleanupDelay } from "./_cleanup.ts";
import {
  isKeyPart,
  isLeaseRecord,
  type KvKeys,
  kvKeys,
  LeaseObserver,
  type LeaseRecord,
} from "./_kv_records.ts";
import { retryTransient } from "./_kv_retry.ts";
import {
  checkPositiveMs,
  hashedKeys,
  KeyCache,
  pollForChange,
  rampedInterval,
  type Seen,
} from "./_shared_storage.ts";
import type {
  AcquireLeaseOptions,
  DeleteTokenOptions,
  SetTokenOptions,
  TokenLease,
  TokenStorage,
  WaitForChangeOptions,
} from "./token_storage.ts";

/**
 * Options of {@linkcode KvTokenStorage}.
 *
 * @example Two applications on one database, kept apart by prefix
 * ```ts
 * import { KvTokenStorage, type KvTokenStorageOptions } from "@alf/client";
 *
 * using kv = await Deno.openKv(":memory:");
 * const options: KvTokenStorageOptions = { prefix: ["billing", "tokens"], pollInterval: 100 };
 * const storage = new KvTokenStorage(kv, options);
 * ```
 */
export interface KvTokenStorageOptions {
  /**
   * The KV key prefix of every record this storage writes. Default:
   * `["@alf/client"]`. Storages with different prefixes share nothing.
   */
  prefix?: Deno.KvKey;
  /**
   * While another holder renews a token, how often to look for the new one,
   * in milliseconds (each look is one KV read; the actual interval varies by
   * ±50 % so that waiting processes spread out). The first looks come sooner,
   * since a renewal mostly takes tens of milliseconds: each wait is a quarter
   * of the time the renewal has been under way, at least 1 ms, until that
   * reaches this interval (at the default, after 100 ms; about 18 looks in
   * that time instead of 4). `kv.watch()` wakes waiters
   * at once where KV reports changes (the same process, Deno Deploy); on a
   * local KV file written by another process only the polls see them.
   * Default: 25.
   */
  pollInterval?: number;
}

/**
 * Every name of {@linkcode KvTokenStorageOptions}: any other name is refused
 * as a misspelling (a misspelled `prefix` would share the default one).
 */
export const KV_TOKEN_STORAGE_OPTION_NAMES = {
  prefix: true,
  pollInterval: true,
} as const satisfies Record<keyof KvTokenStorageOptions, true>;

/** The token and lease entries of one key, in that order. */
type Entries = [Deno.KvEntryMaybe<unknown>, Deno.KvEntryMaybe<unknown>];

const DEFAULT_PREFIX: Deno.KvKey = ["@alf/client"];
const DEFAULT_POLL_INTERVAL = 25;

/**
 * Keeps tokens in Deno KV, shared by every process and isolate that opens the
 * same database (a local file, or Deno KV on Deno Deploy).
 *
 * The application opens the database and passes it in; this module never
 * opens KV itself. Clients with the same token endpoint, client id, grant,
 * scope and token parameters share one token. When it must be renewed, one
 * holder takes a lease (an atomic check-and-set on a lease key) and asks the
 * token endpoint; the others wait for the token it writes. The token is
 * written only while the lease still holds, so a holder that took too long
 * cannot overwrite a newer token, and a holder that died is replaced once its
 * lease ends: its ttl after a process first saw it, on that process's
 * monotonic clock (a holder's wall clock, ten minutes fast, decides nothing).
 *
 * Records are stored under the prefix and the SHA-256 hash of the client's
 * token key, so keys hold neither credentials nor scopes in clear; the values
 * hold the tokens themselves, so protect the database like a secret. Records
 * keep their absolute `expiresAt`: this storage returns what it finds, and the
 * client, which owns the clock, never uses a token past its `expiresAt`.
 * "database is locked" and other transient KV errors are retried briefly.
 *
 * @example Two clients sharing one token through KV
 * ```ts
 * import assert from "node:assert/strict";
 * import { Client, KvTokenStorage } from "@alf/client";
 * import { startAuthServer } from "@alf/client/testing";
 *
 * await using server = await startAuthServer();
 * using kv = await Deno.openKv(":memory:"); // usually a file, or Deno KV on Deno Deploy
 * const options = {
 *   tokenEndpoint: server.tokenEndpoint,
 *   clientId: "id",
 *   clientSecret: "secret",
 *   storage: new KvTokenStorage(kv),
 * };
 * await using a = new Client(options);
 * await using b = new Client(options);
 * const responses = await Promise.all([a.fetch(server.resourceUrl), b.fetch(server.resourceUrl)]);
 * await Promise.all(responses.map((response) => response.body?.cancel()));
 * assert(server.tokenRequests.length === 1);
 * ```
 */
export class KvTokenStorage implements TokenStorage {
  readonly #kv: Deno.Kv;
  readonly #prefix: Deno.KvKey;
  readonly #pollInterval: number;
  readonly #kvKeys = hashedKeys((hash) => kvKeys(this.#prefix, hash));
  /** Per token key, what this storage last saw (versionstamps), so a wait notices changes it missed. */
  readonly #seen = new KeyCache<Seen>();
  /** How long this process has seen each lease record: the one judge of its end. */
  readonly #leases = new LeaseObserver();

  /**
   * Creates a storage on an open KV database.
   *
   * @param kv The database, opened by the application (`await Deno.openKv()`).
   * @param options The key prefix and the poll interval.
   * @throws {TypeError} when `kv` is not a `Deno.Kv`, the prefix is not a KV
   * key, or an option is unknown.
   * @throws {RangeError} when `pollInterval` is not a positive number.
   */
  constructor(kv: Deno.Kv, options: KvTokenStorageOptions = {}) {
    checkKnownOptions(options, KV_TOKEN_STORAGE_OPTION_NAMES, "KV token storage");
    const methods = ["get", "getMany", "set", "delete", "atomic", "watch"] as const;
    if (typeof kv !== "object" || kv === null || methods.some((m) => typeof kv[m] !== "function")) {
      throw new TypeError('Cannot create the KV token storage: "kv" must be a Deno.Kv');
    }
    const prefix = options.prefix ?? DEFAULT_PREFIX;
    if (!Array.isArray(prefix) || !prefix.every(isKeyPart)) {
      throw new TypeError('Cannot create the KV token storage: "prefix" must be a KV key');
    }
    this.#pollInterval = checkPositiveMs(
      options.pollInterval ?? DEFAULT_POLL_INTERVAL,
      "create the KV token storage",
      "pollInterval",
    );
    this.#kv = kv;
    this.#prefix = [...prefix];
  }

  /** The KV key prefix of this storage's records. */
  get prefix(): Deno.KvKey {
    return [...this.#prefix];
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
    const keys = await this.#kvKeys(key);
    const entry = await retryTransient(() => this.#kv.get<unknown>(keys.token));
    this.#see(key).token = entry.versionstamp;
    if (entry.value === null) return undefined;
    if (!isValidToken(entry.value)) {
      throw new TypeError("Cannot read the stored token: the KV value is not a token record");
    }
    return entry.value;
  }

  /**
   * Stores a token; with a lease, only while KV still holds that lease
   * (atomically, so a holder whose lease ran out writes nothing).
   *
   * @param key The client's token key.
   * @param token The token record.
   * @param options The lease the token was obtained under.
   */
  async set(key: string, token: Token, options: SetTokenOptions = {}): Promise<void> {
    const keys = await this.#kvKeys(key);
    const cleanUp = cleanupDelay(token);
    const settings = cleanUp === undefined ? undefined : { expireIn: cleanUp };
    const { lease } = options;
    if (!lease) {
      await retryTransient(() => this.#kv.set(keys.token, token, settings));
      return;
    }
    await retryTransient(async () => {
      const held = await this.#kv.get<unknown>(keys.lease);
      if (!this.#leases.isLive(keys, held) || (held.value as LeaseRecord).id !== lease.id) return;
      // A failed check means the lease changed hands since the read: fenced out.
      await this.#kv.atomic().check(held).set(keys.token, token, settings).commit();
    });
  }

  /**
   * Removes a token; with `accessToken`, only if it is still the stored one.
   *
   * @param key The client's token key.
   * @param options The access token that must still be stored.
   */
  async delete(key: string, options: DeleteTokenOptions = {}): Promise<void> {
    const keys = await this.#kvKeys(key);
    const { accessToken } = options;
    if (accessToken === undefined) {
      await retryTransient(() => this.#kv.delete(keys.token));
      return;
    }
    await retryTransient(async () => {
      const stored = await this.#kv.get<unknown>(keys.token);
      if (!isValidToken(stored.value) || stored.value.accessToken !== accessToken) return;
      // A failed check means a new token was written meanwhile: keep it.
      const result = await this.#kv.atomic().check(stored).delete(keys.token).commit();
      if (result.ok) this.#see(key).token = null;
    });
  }

  /**
   * Takes the renewal lease for `key` unless another holder has a live one.
   *
   * The lease is a KV record holding its id and its `ttl`; another process
   * takes it as ended once it has seen the same record for `ttl`
   * milliseconds of its own monotonic clock (the wall-clock `expiresAt` it
   * also holds is only for earlier versions of this module). KV's `expireIn`
   * only removes it later. Taking it is an atomic check-and-set, so of
   * several processes exactly one wins.
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
    const keys = await this.#kvKeys(key);
    const id = crypto.randomUUID();
    return await retryTransient(async () => {
      const held = await this.#kv.get<unknown>(keys.lease);
      const live = this.#leases.isLive(keys, held);
      // Ours already: an earlier attempt committed, but its answer was lost.
      if (live && (held.value as LeaseRecord).id === id) return this.#lease(keys, id);
      if (live) {
        this.#see(key).lease = held.versionstamp;
        return undefined;
      }
      const record: LeaseRecord = { id, expiresAt: Date.now() + ttl, ttl };
      const since = performance.now();
      const result = await this.#kv.atomic()
        .check(held)
        .set(keys.lease, record, { expireIn: Math.ceil(ttl) + CLEANUP_GRACE })
        .commit();
      if (!result.ok) {
        // Another holder won the race; the wait will see its lease as new.
        delete this.#see(key).lease;
        return undefined;
      }
      this.#leases.wrote(keys, result.versionstamp, since);
      return this.#lease(keys, record.id);
    }, signal);
  }

  /**
   * Resolves when the token or the lease under `key` changed since this
   * storage last read them, when the lease has ended (its holder finished or
   * died), or after `options.timeout` milliseconds.
   *
   * Changes are seen through `kv.watch()` and through polls every
   * `pollInterval` (with jitter). The watch and the timers are stopped before
   * the promise settles.
   *
   * @param key The client's token key.
   * @param options The longest wait and an abort signal (the promise then
   * rejects with the signal's reason).
   */
  async waitForChange(key: string, options: WaitForChangeOptions): Promise<void> {
    const { signal } = options;
    signal?.throwIfAborted();
    const keys = await this.#kvKeys(key);
    const seen: Seen = { ...this.#seen.get(key) };
    await pollForChange(options, {
      poll: async () => {
        const read = () => this.#kv.getMany<[unknown, unknown]>([keys.token, keys.lease]);
        return this.#changed(keys, await retryTransient(read, signal), seen);
      },
      // Sooner while the renewal is young (it mostly ends within tens of ms).
      interval: () => rampedInterval(this.#leases.seenFor(keys), this.#pollInterval),
      listen: (wake) => {
        const stop = new AbortController();
        const watching = this.#watch(keys, seen, wake, stop.signal);
        return () => {
          stop.abort();
          return watching;
        };
      },
    });
  }

  /** Calls `wake` when a watch of the keys reports a change; ends when `stop` aborts. */
  async #watch(keys: KvKeys, seen: Seen, wake: () => void, stop: AbortSignal): Promise<void> {
    let reader: ReadableStreamDefaultReader<Entries>;
    try {
      reader = this.#kv.watch<[unknown, unknown]>([keys.token, keys.lease]).getReader();
    } catch {
      return; // The polls see changes without it.
    }
    const cancel = () => void reader.cancel().catch(() => {});
    stop.addEventListener("abort", cancel, { once: true });
    try {
      while (!stop.aborted) {
        const { done, value } = await reader.read();
        if (done) return;
        if (this.#changed(keys, value, seen)) {
          wake();
          return;
        }
      }
    } catch {
      // A failed watch leaves the polls to see changes.
    } finally {
      stop.removeEventListener("abort", cancel);
      await reader.cancel().catch(() => {});
    }
  }

  #lease(keys: KvKeys, id: string): TokenLease {
    return {
      id,
      release: () =>
        retryTransient(async () => {
          const held = await this.#kv.get<unknown>(keys.lease);
          if (!isLeaseRecord(held.value) || held.value.id !== id) return;
          await this.#kv.atomic().check(held).delete(keys.lease).commit();
        }),
    };
  }

  /**
   * Whether the token and lease entries differ from what a waiter saw, or the
   * lease has ended. What the waiter had not seen yet is taken as its baseline.
   */
  #changed(keys: KvKeys, entries: Readonly<Entries>, seen: Seen): boolean {
    const [token, lease] = entries;
    if (!this.#leases.isLive(keys, lease)) return true;
    if (seen.token !== undefined && seen.token !== token.versionstamp) return true;
    if (seen.lease !== undefined && seen.lease !== lease.versionstamp) return true;
    seen.token = token.versionstamp;
    seen.lease = lease.versionstamp;
    return false;
  }

  #see(key: string): Seen {
    return this.#seen.ensure(key, () => ({}));
  }
}

redactInspect(KvTokenStorage, (storage) => ({ prefix: storage.prefix }));
