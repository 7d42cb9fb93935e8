/**
 * The storage interface: where tokens live between requests, and how holders
 * of one storage agree on who renews a token.
 *
 * @module
 */

import type { Token } from "../token.ts";

/**
 * The right to renew one token, held by one holder at a time.
 *
 * Returned by {@linkcode TokenStorage.acquireLease}; passed back to
 * {@linkcode TokenStorage.set} so that a holder whose lease ran out cannot
 * overwrite a newer token (fencing).
 *
 * @example Renewing under a lease
 * ```ts
 * import { MemoryTokenStorage } from "@alf/client";
 *
 * const storage = new MemoryTokenStorage();
 * const lease = await storage.acquireLease("key", { ttl: 35_000 });
 * if (lease) {
 *   try {
 *     const token = { accessToken: "new", tokenType: "Bearer", issuedAt: Date.now() };
 *     await storage.set("key", token, { lease }); // skipped if the lease ran out
 *   } finally {
 *     await lease.release();
 *   }
 * }
 * ```
 */
export interface TokenLease {
  /** Identifies this lease; unique per acquisition. */
  readonly id: string;
  /** Gives the lease up, so that another holder may renew at once. */
  release(): Promise<void>;
}

/**
 * Options of {@linkcode TokenStorage.acquireLease}.
 *
 * @example A lease that lasts 35 seconds at most
 * ```ts
 * import type { AcquireLeaseOptions } from "@alf/client";
 *
 * const options: AcquireLeaseOptions = { ttl: 35_000, signal: AbortSignal.timeout(1_000) };
 * ```
 */
export interface AcquireLeaseOptions {
  /** How long the lease lasts if its holder never releases it, in milliseconds. */
  ttl: number;
  /** Aborts the acquisition. */
  signal?: AbortSignal;
}

/**
 * Options of {@linkcode TokenStorage.waitForChange}.
 *
 * @example Waiting up to a second for another holder's renewal
 * ```ts
 * import { MemoryTokenStorage, type WaitForChangeOptions } from "@alf/client";
 *
 * const storage = new MemoryTokenStorage();
 * const options: WaitForChangeOptions = { timeout: 1_000 };
 * const waiting = storage.waitForChange("key", options);
 * await storage.set("key", { accessToken: "a", tokenType: "Bearer", issuedAt: Date.now() });
 * await waiting; // resolved by the set
 * ```
 */
export interface WaitForChangeOptions {
  /** Resolve after this many milliseconds even if nothing changed. */
  timeout: number;
  /** Aborts the wait (the promise rejects with the signal's reason). */
  signal?: AbortSignal;
}

/**
 * Options of {@linkcode TokenStorage.set}.
 *
 * @example A fenced write
 * ```ts
 * import type { SetTokenOptions, TokenLease } from "@alf/client";
 *
 * function fenced(lease: TokenLease): SetTokenOptions {
 *   return { lease };
 * }
 * ```
 */
export interface SetTokenOptions {
  /** The lease under which the token was obtained: write only while it holds. */
  lease?: TokenLease;
}

/**
 * Options of {@linkcode TokenStorage.delete}.
 *
 * @example Deleting a rejected token unless it was already replaced
 * ```ts
 * import { MemoryTokenStorage } from "@alf/client";
 *
 * const storage = new MemoryTokenStorage();
 * await storage.set("key", { accessToken: "new", tokenType: "Bearer", issuedAt: Date.now() });
 * await storage.delete("key", { accessToken: "old" }); // keeps "new"
 * if (storage.size !== 1) throw new Error("the newer token was deleted");
 * ```
 */
export interface DeleteTokenOptions {
  /** Delete only if the stored token still has this access token. */
  accessToken?: string;
}

/**
 * Where tokens are kept, by string key.
 *
 * Keys are opaque strings derived from everything that identifies a token
 * (endpoint, client id, grant, scope, extra parameters); they hold no secret.
 * Values are {@linkcode Token} records: plain data, with absolute
 * `expiresAt` and `issuedAt` times in epoch milliseconds. A storage returns a
 * copy of what it was given (changing a record after `set()` or `get()`
 * changes nothing stored) and never decides freshness: the client checks
 * `expiresAt` on every read.
 *
 * `acquireLease` and `waitForChange` are optional. When a storage has both,
 * every client sharing it (in this process or others) makes one token request
 * per renewal: the lease holder renews, the others wait for the change.
 *
 * `testTokenStorage()` from `@alf/client/testing` registers the tests of
 * this contract for a storage.
 *
 * @example A storage in a few lines
 * ```ts
 * import { Client, type Token, type TokenStorage } from "@alf/client";
 *
 * class MapStorage implements TokenStorage {
 *   #map = new Map<string, Token>();
 *   get(key: string) {
 *     const token = this.#map.get(key);
 *     return Promise.resolve(token && structuredClone(token));
 *   }
 *   set(key: string, token: Token) {
 *     this.#map.set(key, structuredClone(token));
 *     return Promise.resolve();
 *   }
 *   delete(key: string, options: { accessToken?: string } = {}) {
 *     const current = this.#map.get(key);
 *     if (options.accessToken === undefined || current?.accessToken === options.accessToken) {
 *       this.#map.delete(key);
 *     }
 *     return Promise.resolve();
 *   }
 * }
 *
 * await using client = new Client({
 *   tokenEndpoint: "https://auth.example.com/token",
 *   clientId: "id",
 *   clientSecret: "secret",
 *   storage: new MapStorage(),
 * });
 * ```
 */
export interface TokenStorage {
  /**
   * Returns the token stored under `key`, or `undefined`.
   *
   * @param key The token's key.
   */
  get(key: string): Promise<Token | undefined>;
  /**
   * Stores `token` under `key`, replacing what was there.
   *
   * @param key The token's key.
   * @param token The token record.
   * @param options The lease the token was obtained under, for fencing.
   */
  set(key: string, token: Token, options?: SetTokenOptions): Promise<void>;
  /**
   * Removes the token stored under `key`.
   *
   * @param key The token's key.
   * @param options Delete only if the stored access token is this one.
   */
  delete(key: string, options?: DeleteTokenOptions): Promise<void>;
  /**
   * Tries to take the lease to renew the token under `key`.
   *
   * @param key The token's key.
   * @param options The lease's time to live and an abort signal.
   * @returns The lease, or `undefined` when another holder has it.
   */
  acquireLease?(key: string, options: AcquireLeaseOptions): Promise<TokenLease | undefined>;
  /**
   * Resolves when the token or the lease under `key` may have changed, or
   * after `options.timeout` milliseconds.
   *
   * @param key The token's key.
   * @param options The longest wait and an abort signal.
   */
  waitForChange?(key: string, options: WaitForChangeOptions): Promise<void>;
}

/**
 * Checks that a value can serve as a {@linkcode TokenStorage}: it has
 * `get`, `set` and `delete` methods.
 *
 * @param storage The value given as a storage.
 * @param context What is being created, for the message: `the client`, ...
 * @throws {TypeError} naming the first missing method.
 */
export function checkTokenStorage(storage: unknown, context: string): TokenStorage {
  for (const method of ["get", "set", "delete"] as const) {
    if (typeof (storage as Partial<TokenStorage> | null)?.[method] !== "function") {
      throw new TypeError(`Cannot ${context}: "storage" has no ${method}() method`);
    }
  }
  return storage as TokenStorage;
}
