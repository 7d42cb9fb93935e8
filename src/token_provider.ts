/**
 * Freshness, early renewal, single flight, invalidate-on-401 and storage:
 * the one place that decides which token a request carries.
 *
 * @module
 */

import { abortable, deadline } from "./_abort.ts";
import type { ClientEvent, TokenReason } from "./client_event.ts";
import type { Grant } from "./grant.ts";
import { storageKey } from "./storage/storage_key.ts";
import type { TokenLease, TokenStorage } from "./storage/token_storage.ts";
import { isDueForRenewal, isReusable, isUsable, isValidToken, type Token } from "./token.ts";
import type { TokenEndpoint, TokenResult } from "./token_endpoint.ts";
import { TokenError } from "./token_error.ts";

/** Settings of a {@linkcode TokenProvider}. */
export interface TokenProviderOptions {
  grant: Grant;
  endpoint: TokenEndpoint;
  /** Parameters every token request carries (`scope`, `audience`, ...). */
  params: URLSearchParams;
  storage: TokenStorage;
  /** The clock for token expiry, epoch milliseconds. */
  now: () => number;
  /** How long before `expiresAt` to renew, in milliseconds. */
  renewalMargin: number;
  /** How long one token request may take, in milliseconds; also bounds storage calls. */
  timeout: number;
  onEvent?: (event: ClientEvent) => void;
}

/** After a failed background renewal, wait this long before the next one. */
const BACKGROUND_RETRY_DELAY = 5_000;
/** How many rejected access tokens are remembered. */
const REJECTED_KEPT = 8;
/** The longest single wait for another holder's renewal before looking again. */
const WAIT_SLICE = 1_000;
/** The shortest bound on one storage call: KV retries a locked database for about 1.3 s. */
const MIN_STORAGE_BOUND = 5_000;
/** How much longer than a grant's longest run a storage lease lasts. */
const LEASE_SLACK = 5_000;

/**
 * Hands out the token a request should carry, obtaining and renewing it
 * through its grant at most once at a time.
 */
export class TokenProvider {
  readonly #options: TokenProviderOptions;
  readonly #closed = new AbortController();
  /** This process's copy of the stored token, so a fresh one costs no storage read. */
  #current: Token | undefined;
  /** The newest token seen, even expired: a refresh grant needs its refresh token. */
  #newestSeen: Token | undefined;
  /** The last access tokens resources rejected: never adopted again from a storage. */
  readonly #rejectedTokens = new Set<string>();
  /** The renewal under way, shared by every caller that needs a new token meanwhile. */
  #sharedRenewal: Promise<TokenResult> | undefined;
  /** The storage read under way, shared by every caller that asks meanwhile. */
  #sharedRead: Promise<Token | undefined> | undefined;
  /** The replacements of rejected tokens under way, each shared by the requests it failed. */
  readonly #replacements = new Map<string, Promise<TokenResult>>();
  #backgroundRetryAt = -Infinity;
  /** The token's key in the storage: a hash, so computed once, on first use. */
  #storageKey: Promise<string> | undefined;
  /** Storage calls under way, so that close() can wait for them. */
  readonly #storageCalls = new Set<Promise<unknown>>();

  constructor(options: TokenProviderOptions) {
    this.#options = options;
  }

  /** The longest one `grant.obtain()` may run: a login is longer than a token request. */
  get #grantBound(): number {
    const { grant, timeout } = this.#options;
    // A login grant may refresh, log in and exchange the code: two token requests around it.
    return grant.timeout === undefined ? timeout : grant.timeout + 2 * timeout;
  }

  /**
   * The token to send now, or the token endpoint's error response.
   *
   * A token inside its renewal window is returned at once while one
   * background renewal runs.
   */
  async token(signal?: AbortSignal): Promise<TokenResult> {
    this.#checkOpen();
    const now = this.#options.now();
    const cached = this.#current;
    if (
      cached && isUsable(cached, now) &&
      (this.#sharedRenewal !== undefined ||
        !isDueForRenewal(cached, now, this.#options.renewalMargin) ||
        // Backing off after a failed background renewal: no storage read per request.
        now < this.#backgroundRetryAt || this.#options.grant.needsUser?.(cached))
    ) {
      return { token: cached };
    }
    const current = await abortable(this.#readStorageShared(), signal);
    const later = this.#options.now();
    if (current && isUsable(current, later)) {
      if (
        isDueForRenewal(current, later, this.#options.renewalMargin) &&
        !this.#options.grant.needsUser?.(current)
      ) {
        this.#renewInBackground(current);
      }
      return { token: current };
    }
    const reason: TokenReason = current ? "expired" : "missing";
    return await abortable(this.#renewShared(current?.accessToken, reason), signal);
  }

  /**
   * The token to replay with after a resource rejected `rejected` with 401:
   * the current one if another request already replaced it, else a new one.
   */
  tokenAfterRejection(rejected: Token, signal?: AbortSignal): Promise<TokenResult> {
    this.#checkOpen();
    this.#rejectedTokens.delete(rejected.accessToken);
    this.#rejectedTokens.add(rejected.accessToken);
    // A handful is enough: only tokens whose 401s may still be on their way matter.
    if (this.#rejectedTokens.size > REJECTED_KEPT) {
      const oldest = this.#rejectedTokens.values().next();
      if (!oldest.done) this.#rejectedTokens.delete(oldest.value);
    }
    if (this.#current?.accessToken === rejected.accessToken) this.#current = undefined;
    // Every request the same token failed shares one read, delete and renewal:
    // a storm of N 401s costs one storage round trip of each, not N.
    let result = this.#replacements.get(rejected.accessToken);
    if (!result) {
      const replacing = this.#replaceRejected(rejected.accessToken).finally(() => {
        this.#replacements.delete(rejected.accessToken);
      });
      // Handled here too: the callers may all have stopped waiting for it.
      replacing.catch(() => {});
      this.#replacements.set(rejected.accessToken, result = replacing);
    }
    return abortable(result, signal);
  }

  async #replaceRejected(rejected: string): Promise<TokenResult> {
    const current = await this.#readStorage();
    if (current && isUsable(current, this.#options.now())) return { token: current };
    // Drop the rejected token from the storage, unless another holder replaced it.
    await this.#deleteFromStorage(rejected);
    return await this.#renewShared(rejected, "rejected");
  }

  /** Stops background work and the token request in flight, and waits for them. */
  async close(): Promise<void> {
    this.#closed.abort(new DOMException("The client was closed", "AbortError"));
    await Promise.allSettled([...this.#replacements.values()]);
    await this.#sharedRenewal?.catch(() => {});
    // Reads a caller stopped waiting for still finish: close() leaves nothing running.
    await Promise.allSettled([...this.#storageCalls]);
  }

  /** Requests that were under way when the client closed get no token afterwards. */
  #checkOpen(): void {
    if (this.#closed.signal.aborted) {
      throw new Error("Cannot send the request: the client is closed");
    }
  }

  /** Single flight: one renewal at a time, whose result every caller meanwhile shares. */
  #renewShared(stale: string | undefined, reason: TokenReason): Promise<TokenResult> {
    if (this.#sharedRenewal) return this.#sharedRenewal;
    const flight = this.#renewUnderLease(stale, reason).finally(() => {
      if (this.#sharedRenewal === flight) this.#sharedRenewal = undefined;
    });
    this.#sharedRenewal = flight;
    return flight;
  }

  #renewInBackground(current: Token): void {
    if (this.#sharedRenewal || this.#closed.signal.aborted) return;
    if (this.#options.now() < this.#backgroundRetryAt) return;
    this.#renewShared(current.accessToken, "expiring").then(
      (result) => {
        if ("errorResponse" in result) this.#failedInBackground(result.errorResponse.error);
      },
      (error) => this.#failedInBackground(error),
    );
  }

  #failedInBackground(error: unknown): void {
    this.#backgroundRetryAt = this.#options.now() + BACKGROUND_RETRY_DELAY;
    if (!this.#closed.signal.aborted) this.#emit({ type: "error", phase: "renewal", error });
  }

  /** One renewal: under the storage's lease when it has one. */
  async #renewUnderLease(stale: string | undefined, reason: TokenReason): Promise<TokenResult> {
    const { storage } = this.#options;
    const signal = this.#closed.signal;
    signal.throwIfAborted();
    if (!canLease(storage)) return await this.#runGrant(reason);
    const ttl = this.#grantBound + LEASE_SLACK;
    const deadline = Date.now() + 2 * ttl;
    while (true) {
      let lease: TokenLease | undefined;
      try {
        lease = await this.#callStorage((key) => storage.acquireLease(key, { ttl, signal }));
      } catch (error) {
        signal.throwIfAborted();
        // A storage that cannot coordinate must not stop requests.
        this.#emit({ type: "error", phase: "storage", error });
        return await this.#runGrant(reason);
      }
      if (lease) {
        try {
          // Another holder may have renewed while we waited for the lease.
          const current = await this.#readStorage();
          if (this.#replacesStale(current, stale)) return { token: current };
          return await this.#runGrant(reason, lease);
        } finally {
          await this.#callStorage(() => lease.release()).catch((error) =>
            this.#emit({ type: "error", phase: "storage", error })
          );
        }
      }
      // The holder may have finished between our read and the failed lease.
      const renewed = await this.#readStorage();
      if (this.#replacesStale(renewed, stale)) return { token: renewed };
      if (Date.now() > deadline) {
        throw new TokenError(
          "Cannot obtain a token: the holder of the storage's renewal lease did not finish in time",
        );
      }
      try {
        // A short slice: a change that happened before the wait began is not
        // missed for long, whatever the storage's notifications do.
        const timeout = Math.min(ttl, WAIT_SLICE);
        await this.#callStorage((key) => storage.waitForChange(key, { timeout, signal }), timeout);
      } catch (error) {
        signal.throwIfAborted();
        this.#emit({ type: "error", phase: "storage", error });
        return await this.#runGrant(reason);
      }
    }
  }

  /** Whether `current` is a usable token other than `stale`: another holder's renewal. */
  #replacesStale(current: Token | undefined, stale: string | undefined): current is Token {
    return current !== undefined && current.accessToken !== stale &&
      isUsable(current, this.#options.now());
  }

  /** Runs the grant, bounded in time, and keeps what it returns. */
  async #runGrant(reason: TokenReason, lease?: TokenLease): Promise<TokenResult> {
    const bound = this.#grantBound + LEASE_SLACK;
    // The grant sees the client's close and the time bound; only the bound is
    // raced here, so a grant's own close error reaches the caller unchanged.
    // A grant that never settles must not hang every waiter.
    using limit = deadline(this.#closed.signal, bound, "The grant timed out");
    let result: TokenResult;
    try {
      result = await abortable(
        this.#options.grant.obtain({
          endpoint: this.#options.endpoint,
          params: this.#options.params,
          previous: this.#newestSeen,
          signal: limit.signal,
          background: reason === "expiring",
        }),
        limit.expired,
      );
    } catch (error) {
      if (limit.expired.aborted) {
        throw new TokenError(`Cannot obtain a token: the grant did not finish within ${bound} ms`, {
          cause: error,
        });
      }
      throw error;
    }
    if ("token" in result) {
      const { token } = result;
      this.#emit({ type: "token", reason, expiresAt: token.expiresAt });
      this.#newestSeen = token;
      if (isReusable(token)) {
        this.#current = token;
        try {
          await this.#callStorage((key) => this.#options.storage.set(key, token, { lease }));
        } catch (error) {
          this.#emit({ type: "error", phase: "storage", error });
        }
      }
    }
    return result;
  }

  /**
   * One storage read for all the requests that ask for a token while it is
   * under way: a cold burst of N requests reads the storage once, not N times.
   */
  #readStorageShared(): Promise<Token | undefined> {
    if (this.#sharedRead) return this.#sharedRead;
    const reading = this.#readStorage().finally(() => {
      if (this.#sharedRead === reading) this.#sharedRead = undefined;
    });
    this.#sharedRead = reading;
    return reading;
  }

  /**
   * The newest usable knowledge of the token: the stored one, unless this
   * process holds a newer one or the stored one was rejected. A failing or
   * hanging storage, or a record that is not a valid token, reads as empty
   * (and is reported).
   */
  async #readStorage(): Promise<Token | undefined> {
    let stored: unknown;
    try {
      stored = await this.#callStorage((key) => this.#options.storage.get(key));
    } catch (error) {
      this.#emit({ type: "error", phase: "storage", error });
      return this.#current;
    }
    if (stored !== undefined && !isValidToken(stored)) {
      this.#emit({
        type: "error",
        phase: "storage",
        error: new TypeError("Cannot use the stored token: the record is not a valid token"),
      });
      stored = undefined;
    }
    let token = stored as Token | undefined;
    if (token && this.#rejectedTokens.has(token.accessToken)) token = undefined;
    // A read that started before a renewal must not bring an older token back.
    const cached = this.#current;
    if (cached && (!token || token.issuedAt < cached.issuedAt)) token = cached;
    this.#current = token;
    if (token && (!this.#newestSeen || token.issuedAt >= this.#newestSeen.issuedAt)) {
      this.#newestSeen = token;
    }
    return token;
  }

  async #deleteFromStorage(accessToken: string): Promise<void> {
    try {
      await this.#callStorage((key) => this.#options.storage.delete(key, { accessToken }));
    } catch (error) {
      this.#emit({ type: "error", phase: "storage", error });
    }
  }

  /**
   * Calls the storage with the token's key, bounded by the token timeout: a
   * storage that hangs fails like one that throws.
   */
  #callStorage<T>(call: (key: string) => Promise<T>, extra = 0): Promise<T> {
    const pending = this.#boundedStorageCall(call, extra);
    this.#storageCalls.add(pending);
    const forget = () => this.#storageCalls.delete(pending);
    pending.then(forget, forget);
    return pending;
  }

  async #boundedStorageCall<T>(call: (key: string) => Promise<T>, extra: number): Promise<T> {
    const { endpoint: { url, clientId }, grant, params } = this.#options;
    this.#storageKey ??= storageKey({ url, clientId, grant, params }).catch((error) => {
      this.#storageKey = undefined; // try again on the next call
      throw error;
    });
    const key = await this.#storageKey;
    const bound = Math.max(this.#options.timeout, MIN_STORAGE_BOUND) + extra;
    using limit = deadline(undefined, bound, `The token storage did not answer within ${bound} ms`);
    return await abortable(call(key), limit.expired);
  }

  #emit(event: ClientEvent): void {
    try {
      this.#options.onEvent?.(event);
    } catch {
      // A listener's failure is not the request's.
    }
  }
}

/** A storage through which holders agree on who renews (it has a renewal lease). */
type LeasingStorage = TokenStorage & Required<Pick<TokenStorage, "acquireLease" | "waitForChange">>;

function canLease(storage: TokenStorage): storage is LeasingStorage {
  return !!storage.acquireLease && !!storage.waitForChange;
}
