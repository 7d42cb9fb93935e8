/**
 * The default storage: tokens in this process's memory.
 *
 * @module
 */

import { checkKnownOptions } from "../_known_options.ts";
import { redactInspect } from "../_redact.ts";
import type { Token } from "../token.ts";
import { CLEANUP_GRACE, cleanupDelay } from "./_cleanup.ts";
import type {
  AcquireLeaseOptions,
  DeleteTokenOptions,
  SetTokenOptions,
  TokenLease,
  TokenStorage,
  WaitForChangeOptions,
} from "./token_storage.ts";

interface HeldLease {
  id: string;
  /** When the lease ends, on this process's monotonic clock (`performance.now()`). */
  endsAt: number;
}

interface Held {
  token: Token;
  /** When the record is of no use any more, on the monotonic clock; absent: kept until replaced. */
  dropAt?: number;
  /** When the record was last read or written, on the monotonic clock. */
  usedAt: number;
}

/** Settings of a {@linkcode MemoryTokenStorage}. */
export interface MemoryTokenStorageOptions {
  /**
   * The most records kept: storing one more drops the least recently used
   * (read or written). A positive integer, or `Infinity`. Default: `Infinity`
   * (`MemoryTokenStorage.shared`: 10 000).
   */
  maxRecords?: number;
  /**
   * How long a record that is neither read nor written is kept, in
   * milliseconds on the monotonic clock, whatever its expiry (a record
   * without one, such as a login's refresh token, is otherwise kept until
   * replaced). A positive number, or `Infinity`. Default: `Infinity`
   * (`MemoryTokenStorage.shared`: 24 hours).
   */
  maxIdle?: number;
}

/**
 * Every name of {@linkcode MemoryTokenStorageOptions}: any other name is
 * refused as a misspelling.
 */
export const MEMORY_TOKEN_STORAGE_OPTION_NAMES = {
  maxRecords: true,
  maxIdle: true,
} as const satisfies Record<keyof MemoryTokenStorageOptions, true>;

/** The bounds of {@linkcode MemoryTokenStorage.shared}. */
const SHARED_OPTIONS = { maxRecords: 10_000, maxIdle: 24 * 60 * 60_000 } as const;

/** The storage of every client created without one; made on first use. */
let shared: MemoryTokenStorage | undefined;

/**
 * Keeps tokens in memory, for the life of the process.
 *
 * Clients that share one instance share their tokens and make one token
 * request per renewal between them (it implements the lease methods of
 * {@linkcode TokenStorage} in memory). Clients of the client credentials
 * grant (or of a grant that names its principal) created without a `storage`
 * use one process-wide instance, {@linkcode MemoryTokenStorage.shared}: a
 * client made per request reuses the token of the previous one. Records are
 * copied in and out (what is not a string, number or boolean by structured
 * clone; strings cannot change, so a copy shares them), so changing a record after `set()`
 * or `get()` changes nothing stored, as with a storage that serializes; a
 * frozen record of strings, numbers and booleans cannot change, so `set()`
 * keeps it as it is.
 * Leases are timed on the monotonic clock (`performance.now()`), and a record
 * with an expiry is dropped a minute after its lifetime (counted from its own
 * `issuedAt` and `expiresAt`). Records without one (no `expires_in`, a
 * login's refresh token) are kept until replaced, unless the storage is
 * bounded: `maxRecords` drops the least recently used record once there are
 * more, and `maxIdle` drops a record neither read nor written for that long.
 * The process-wide instance has both bounds (10 000 records, 24 hours), so
 * it does not grow without bound.
 *
 * @example Two clients sharing one token
 * ```ts
 * import { Client, MemoryTokenStorage } from "@alf/client";
 *
 * const storage = new MemoryTokenStorage();
 * const options = {
 *   tokenEndpoint: "https://auth.example.com/token",
 *   clientId: "id",
 *   clientSecret: "secret",
 *   storage,
 * };
 * await using a = new Client(options);
 * await using b = new Client(options); // uses the token `a` obtains, and vice versa
 * ```
 */
export class MemoryTokenStorage implements TokenStorage {
  readonly #tokens = new Map<string, Held>();
  readonly #leases = new Map<string, HeldLease>();
  readonly #waiters = new Map<string, Set<() => void>>();
  readonly #maxRecords: number;
  readonly #maxIdle: number;
  #sweptAt = performance.now();

  /**
   * Makes an empty storage.
   *
   * @param options Bounds on the records kept; none by default.
   * @throws {TypeError} when an option is unknown.
   * @throws {RangeError} when a bound is not a positive number.
   *
   * @example A storage of at most 1 000 records, each kept at most an hour unused
   * ```ts
   * import { MemoryTokenStorage } from "@alf/client";
   *
   * const storage = new MemoryTokenStorage({ maxRecords: 1_000, maxIdle: 60 * 60_000 });
   * ```
   */
  constructor(options: MemoryTokenStorageOptions = {}) {
    checkKnownOptions(options, MEMORY_TOKEN_STORAGE_OPTION_NAMES, "MemoryTokenStorage");
    const { maxRecords = Infinity, maxIdle = Infinity } = options;
    if (maxRecords !== Infinity && !(Number.isSafeInteger(maxRecords) && maxRecords > 0)) {
      throw new RangeError(
        'Cannot create the MemoryTokenStorage: "maxRecords" must be a positive integer (or Infinity)',
      );
    }
    if (typeof maxIdle !== "number" || !(maxIdle > 0)) {
      throw new RangeError(
        'Cannot create the MemoryTokenStorage: "maxIdle" must be a positive number of milliseconds (or Infinity)',
      );
    }
    this.#maxRecords = maxRecords;
    this.#maxIdle = maxIdle;
  }

  /**
   * The process-wide storage of every client created without a `storage`
   * option (and without an installed browser login flow) whose grant is the
   * client credentials grant or names its principal (`Grant.identity()`); a
   * client of another grant, such as a browser login, gets a storage of its
   * own. The keys name the endpoint, client, credential, grant, identity and
   * parameters, so clients share only what they would ask for alike. At most
   * 10 000 records, the least recently used dropped first, and none kept
   * 24 hours unused.
   *
   * @example A client per request, one token between them
   * ```ts
   * import assert from "node:assert/strict";
   * import { Client, MemoryTokenStorage } from "@alf/client";
   * import { startAuthServer } from "@alf/client/testing";
   *
   * await using server = await startAuthServer();
   * for (let i = 0; i < 3; i++) {
   *   await using client = new Client({ tokenEndpoint: server.tokenEndpoint, clientId: "id" });
   *   await (await client.fetch(server.resourceUrl)).body?.cancel();
   * }
   * assert.equal(server.tokenRequests.length, 1);
   * assert(MemoryTokenStorage.shared.size >= 1);
   * ```
   */
  static get shared(): MemoryTokenStorage {
    return shared ??= new MemoryTokenStorage(SHARED_OPTIONS);
  }

  /** The number of records held. */
  get size(): number {
    return this.#tokens.size;
  }

  /**
   * Returns the token stored under `key`.
   *
   * @param key The token's key.
   */
  get(key: string): Promise<Token | undefined> {
    const held = this.#tokens.get(key);
    if (!held) return Promise.resolve(undefined);
    const now = performance.now();
    this.#tokens.delete(key);
    if (this.#isOver(held, now)) return Promise.resolve(undefined);
    held.usedAt = now;
    this.#tokens.set(key, held); // the most recently used, last
    return Promise.resolve(copyOf(held.token));
  }

  /**
   * Stores a copy of a token (a frozen record of strings, numbers and
   * booleans as it is: it cannot change); with a lease, only while that
   * lease still holds.
   *
   * @param key The token's key.
   * @param token The token record.
   * @param options The lease the token was obtained under.
   * @returns A promise that rejects with a `DataCloneError` when the record
   * cannot be cloned (a function in `extra`, say).
   */
  set(key: string, token: Token, options: SetTokenOptions = {}): Promise<void> {
    if (options.lease && !this.#holds(key, options.lease.id)) return Promise.resolve();
    const now = performance.now();
    const keep = cleanupDelay(token);
    try {
      // One shape, `dropAt` included: a property added later costs each record a property array.
      const held: Held = {
        token: isImmutable(token) ? token : copyOf(token),
        dropAt: keep === undefined ? undefined : now + keep,
        usedAt: now,
      };
      this.#tokens.delete(key);
      this.#tokens.set(key, held); // the most recently used, last
    } catch (error) {
      return Promise.reject(error);
    }
    // Map order is use order: the first records are the least recently used.
    for (const oldest of this.#tokens.keys()) {
      if (this.#tokens.size <= this.#maxRecords) break;
      this.#tokens.delete(oldest);
    }
    if (now - this.#sweptAt >= CLEANUP_GRACE) this.#sweep(now);
    this.#notify(key);
    return Promise.resolve();
  }

  /**
   * Removes a token; with `accessToken`, only if it is still the stored one.
   *
   * @param key The token's key.
   * @param options The access token that must still be stored.
   */
  delete(key: string, options: DeleteTokenOptions = {}): Promise<void> {
    const current = this.#tokens.get(key)?.token;
    if (options.accessToken !== undefined && current?.accessToken !== options.accessToken) {
      return Promise.resolve();
    }
    if (this.#tokens.delete(key)) this.#notify(key);
    return Promise.resolve();
  }

  /**
   * Takes the renewal lease for `key` unless another holder has it.
   *
   * @param key The token's key.
   * @param options The lease's time to live.
   */
  acquireLease(key: string, options: AcquireLeaseOptions): Promise<TokenLease | undefined> {
    const held = this.#leases.get(key);
    if (held && held.endsAt > performance.now()) return Promise.resolve(undefined);
    const id = crypto.randomUUID();
    this.#leases.set(key, { id, endsAt: performance.now() + options.ttl });
    return Promise.resolve({
      id,
      release: () => {
        if (this.#holds(key, id)) {
          this.#leases.delete(key);
          this.#notify(key);
        }
        return Promise.resolve();
      },
    });
  }

  /**
   * Resolves when the token or lease under `key` changes, or on timeout.
   *
   * @param key The token's key.
   * @param options The longest wait and an abort signal.
   */
  waitForChange(key: string, options: WaitForChangeOptions): Promise<void> {
    const { signal, timeout } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      let waiters = this.#waiters.get(key);
      if (!waiters) this.#waiters.set(key, waiters = new Set());
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        waiters.delete(wake);
        if (waiters.size === 0 && this.#waiters.get(key) === waiters) this.#waiters.delete(key);
      };
      const onAbort = () => {
        done();
        reject(signal?.reason);
      };
      const wake = () => {
        done();
        resolve();
      };
      const timer = setTimeout(wake, timeout);
      signal?.addEventListener("abort", onAbort, { once: true });
      waiters.add(wake);
    });
  }

  #holds(key: string, id: string): boolean {
    const held = this.#leases.get(key);
    return held !== undefined && held.id === id && held.endsAt > performance.now();
  }

  /** Drops the records past their use, and leases long over. */
  #sweep(now: number): void {
    this.#sweptAt = now;
    for (const [key, held] of this.#tokens) {
      if (this.#isOver(held, now)) this.#tokens.delete(key);
    }
    for (const [key, lease] of this.#leases) {
      if (now >= lease.endsAt) this.#leases.delete(key);
    }
  }

  /** Whether a record is past its use, or has been idle too long. */
  #isOver(held: Held, now: number): boolean {
    return (held.dropAt !== undefined && now >= held.dropAt) || now - held.usedAt >= this.#maxIdle;
  }

  #notify(key: string): void {
    for (const wake of [...(this.#waiters.get(key) ?? [])]) wake();
  }
}

/**
 * A copy of `token` that changes to it (or to the copy) do not reach: its
 * members that are objects (`extra`) by structured clone, which throws a
 * `DataCloneError` for a function or symbol as `structuredClone(token)`
 * would; its strings shared, since no one can change a string: a record held
 * here costs no second copy of its tokens.
 */
function copyOf(token: Token): Token {
  // Filled member by member: an empty literal holds its first four in place,
  // where a spread copy would also copy an out-of-object property array.
  const copy: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(token)) {
    copy[name] = isPrimitive(value) ? value : structuredClone(value);
  }
  return copy as unknown as Token;
}

/**
 * Whether no one can change `token`: frozen (the client freezes the records
 * it stores), each member a value (no getter) that is a string, number or
 * boolean. Such a record is as good as a copy of itself, so it is kept as it
 * is: the client's token and the stored one are one object.
 */
function isImmutable(token: Token): boolean {
  if (!Object.isFrozen(token)) return false;
  for (const member of Object.values(Object.getOwnPropertyDescriptors(token))) {
    if (!("value" in member) || !isPrimitive(member.value)) return false;
  }
  return true;
}

/** Whether a member is copied as it is: no one can change a string, number or boolean. */
function isPrimitive(value: unknown): boolean {
  const type = typeof value;
  return value === null || type === "string" || type === "number" || type === "boolean" ||
    type === "undefined";
}

redactInspect(MemoryTokenStorage, (storage) => ({ size: storage.size }));
