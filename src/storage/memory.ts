/**
 * The default storage: tokens in this process's memory.
 *
 * @module
 */

import { redactInspect } from "../_redact.ts";
import type { Token } from "../token.ts";
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
  expiresAt: number;
}

/**
 * Keeps tokens in memory, for the life of the process.
 *
 * Clients that share one instance share their tokens and make one token
 * request per renewal between them (it implements the lease methods of
 * {@linkcode TokenStorage} in memory). Records are copied in and out (a
 * structured clone), so changing a record after `set()` or `get()` changes
 * nothing stored, as with a storage that serializes.
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
  readonly #tokens = new Map<string, Token>();
  readonly #leases = new Map<string, HeldLease>();
  readonly #waiters = new Map<string, Set<() => void>>();

  /** The number of tokens held. */
  get size(): number {
    return this.#tokens.size;
  }

  /**
   * Returns the token stored under `key`.
   *
   * @param key The token's key.
   */
  get(key: string): Promise<Token | undefined> {
    const token = this.#tokens.get(key);
    return Promise.resolve(token && structuredClone(token));
  }

  /**
   * Stores a copy of a token; with a lease, only while that lease still holds.
   *
   * @param key The token's key.
   * @param token The token record.
   * @param options The lease the token was obtained under.
   * @returns A promise that rejects with a `DataCloneError` when the record
   * cannot be cloned (a function in `extra`, say).
   */
  set(key: string, token: Token, options: SetTokenOptions = {}): Promise<void> {
    if (options.lease && !this.#holds(key, options.lease.id)) return Promise.resolve();
    try {
      this.#tokens.set(key, structuredClone(token));
    } catch (error) {
      return Promise.reject(error);
    }
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
    const current = this.#tokens.get(key);
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
    if (held && held.expiresAt > Date.now()) return Promise.resolve(undefined);
    const id = crypto.randomUUID();
    this.#leases.set(key, { id, expiresAt: Date.now() + options.ttl });
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
    return held !== undefined && held.id === id && held.expiresAt > Date.now();
  }

  #notify(key: string): void {
    for (const wake of [...(this.#waiters.get(key) ?? [])]) wake();
  }
}

redactInspect(MemoryTokenStorage, (storage) => ({ size: storage.size }));
