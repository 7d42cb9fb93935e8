/**
 * Freshness, early renewal, single flight, invalidate-on-401 and storage:
 * the one place that decides which token a request carries.
 *
 * @module
 */

import { abortable, deadline } from "./_abort.ts";
import type { ClientEvent, TokenReason } from "./client_event.ts";
import type { Grant } from "./grant.ts";
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
  /** Computes the token's storage key (a hash: asynchronous, done once, on first use). */
  key: () => Promise<string>;
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
  readonly #o: TokenProviderOptions;
  readonly #closed = new AbortController();
  /** This process's copy of the stored token, so a fresh one costs no storage read. */
  #cached: Token | undefined;
  /** The newest token seen, even expired: a refresh grant needs its refresh token. */
  #lastKnown: Token | undefined;
  /** The last access tokens resources rejected: never adopted again from a storage. */
  readonly #rejected = new Set<string>();
  #inflight: Promise<TokenResult> | undefined;
  #reading: Promise<Token | undefined> | undefined;
  /** The replacements of rejected tokens under way, each shared by the requests it failed. */
  readonly #rejections = new Map<string, Promise<TokenResult>>();
  #backgroundRetryAt = -Infinity;
  #key: Promise<string> | undefined;
  /** Storage calls under way, so that close() can wait for them. */
  readonly #pending = new Set<Promise<unknown>>();

  constructor(options: TokenProviderOptions) {
    this.#o = options;
  }

  /** The longest one `grant.obtain()` may run: a login is longer than a token request. */
  get #grantBound(): number {
    const { grant, timeout } = this.#o;
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
    const now = this.#o.now();
    const cached = this.#cached;
    if (
      cached && isUsable(cached, now) &&
      (this.#inflight !== undefined || !isDueForRenewal(cached, now, this.#o.renewalMargin) ||
        // Backing off after a failed background renewal: no storage read per request.
        now < this.#backgroundRetryAt || this.#o.grant.needsUser?.(cached))
    ) {
      return { token: cached };
    }
    const current = await abortable(this.#readShared(), signal);
    const later = this.#o.now();
    if (current && isUsable(current, later)) {
      if (
        isDueForRenewal(current, later, this.#o.renewalMargin) &&
        !this.#o.grant.needsUser?.(current)
      ) {
        this.#renewInBackground(current);
      }
      return { token: current };
    }
    const reason: TokenReason = current ? "expired" : "missing";
    return await abortable(this.#renew(current?.accessToken, reason), signal);
  }

  /**
   * The token to replay with after a resource rejected `rejected` with 401:
   * the current one if another request already replaced it, else a new one.
   */
  tokenAfterRejection(rejected: Token, signal?: AbortSignal): Promise<TokenResult> {
    this.#checkOpen();
    this.#rejected.delete(rejected.accessToken);
    this.#rejected.add(rejected.accessToken);
    // A handful is enough: only tokens whose 401s may still be on their way matter.
    if (this.#rejected.size > REJECTED_KEPT) {
      this.#rejected.delete(this.#rejected.values().next().value!);
    }
    if (this.#cached?.accessToken === rejected.accessToken) this.#cached = undefined;
    // Every request the same token failed shares one read, delete and renewal:
    // a storm of N 401s costs one storage round trip of each, not N.
    let result = this.#rejections.get(rejected.accessToken);
    if (!result) {
      const replacing = this.#replaceRejected(rejected.accessToken).finally(() => {
        this.#rejections.delete(rejected.accessToken);
      });
      // Handled here too: the callers may all have stopped waiting for it.
      replacing.catch(() => {});
      this.#rejections.set(rejected.accessToken, result = replacing);
    }
    return abortable(result, signal);
  }

  async #replaceRejected(rejected: string): Promise<TokenResult> {
    const current = await this.#read();
    if (current && isUsable(current, this.#o.now())) return { token: current };
    // Drop the rejected token from the storage, unless another holder replaced it.
    await this.#delete(rejected);
    return await this.#renew(rejected, "rejected");
  }

  /** Stops background work and the token request in flight, and waits for them. */
  async close(): Promise<void> {
    this.#closed.abort(new DOMException("The client was closed", "AbortError"));
    await Promise.allSettled([...this.#rejections.values()]);
    await this.#inflight?.catch(() => {});
    // Reads a caller stopped waiting for still finish: close() leaves nothing running.
    await Promise.allSettled([...this.#pending]);
  }

  /** Requests that were under way when the client closed get no token afterwards. */
  #checkOpen(): void {
    if (this.#closed.signal.aborted) {
      throw new Error("Cannot send the request: the client is closed");
    }
  }

  #renew(stale: string | undefined, reason: TokenReason): Promise<TokenResult> {
    if (this.#inflight) return this.#inflight;
    const flight = this.#obtain(stale, reason).finally(() => {
      if (this.#inflight === flight) this.#inflight = undefined;
    });
    this.#inflight = flight;
    return flight;
  }

  #renewInBackground(current: Token): void {
    if (this.#inflight || this.#closed.signal.aborted) return;
    if (this.#o.now() < this.#backgroundRetryAt) return;
    this.#renew(current.accessToken, "expiring").then(
      (result) => {
        if ("errorResponse" in result) this.#failedInBackground(result.errorResponse.error);
      },
      (error) => this.#failedInBackground(error),
    );
  }

  #failedInBackground(error: unknown): void {
    this.#backgroundRetryAt = this.#o.now() + BACKGROUND_RETRY_DELAY;
    if (!this.#closed.signal.aborted) this.#emit({ type: "error", phase: "renewal", error });
  }

  /** One renewal: under the storage's lease when it has one. */
  async #obtain(stale: string | undefined, reason: TokenReason): Promise<TokenResult> {
    const { storage } = this.#o;
    const signal = this.#closed.signal;
    signal.throwIfAborted();
    if (!storage.acquireLease || !storage.waitForChange) return await this.#fetch(reason);
    const ttl = this.#grantBound + LEASE_SLACK;
    const deadline = Date.now() + 2 * ttl;
    while (true) {
      let lease: TokenLease | undefined;
      try {
        lease = await this.#storage((key) => storage.acquireLease!(key, { ttl, signal }));
      } catch (error) {
        signal.throwIfAborted();
        // A storage that cannot coordinate must not stop requests.
        this.#emit({ type: "error", phase: "storage", error });
        return await this.#fetch(reason);
      }
      if (lease) {
        try {
          // Another holder may have renewed while we waited for the lease.
          const current = await this.#read();
          if (this.#replaces(current, stale)) return { token: current! };
          return await this.#fetch(reason, lease);
        } finally {
          await this.#storage(() => lease.release()).catch((error) =>
            this.#emit({ type: "error", phase: "storage", error })
          );
        }
      }
      // The holder may have finished between our read and the failed lease.
      const renewed = await this.#read();
      if (this.#replaces(renewed, stale)) return { token: renewed! };
      if (Date.now() > deadline) {
        throw new TokenError(
          "Cannot obtain a token: the holder of the storage's renewal lease did not finish in time",
        );
      }
      try {
        // A short slice: a change that happened before the wait began is not
        // missed for long, whatever the storage's notifications do.
        const timeout = Math.min(ttl, WAIT_SLICE);
        await this.#storage((key) => storage.waitForChange!(key, { timeout, signal }), timeout);
      } catch (error) {
        signal.throwIfAborted();
        this.#emit({ type: "error", phase: "storage", error });
        return await this.#fetch(reason);
      }
    }
  }

  #replaces(current: Token | undefined, stale: string | undefined): boolean {
    return current !== undefined && current.accessToken !== stale &&
      isUsable(current, this.#o.now());
  }

  /** Runs the grant, bounded in time, and keeps what it returns. */
  async #fetch(reason: TokenReason, lease?: TokenLease): Promise<TokenResult> {
    const bound = this.#grantBound + LEASE_SLACK;
    // The grant sees the client's close and the time bound; only the bound is
    // raced here, so a grant's own close error reaches the caller unchanged.
    // A grant that never settles must not hang every waiter.
    using limit = deadline(this.#closed.signal, bound, "The grant timed out");
    let result: TokenResult;
    try {
      result = await abortable(
        this.#o.grant.obtain({
          endpoint: this.#o.endpoint,
          params: this.#o.params,
          previous: this.#lastKnown,
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
      this.#lastKnown = token;
      if (isReusable(token)) {
        this.#cached = token;
        try {
          await this.#storage((key) => this.#o.storage.set(key, token, { lease }));
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
  #readShared(): Promise<Token | undefined> {
    if (this.#reading) return this.#reading;
    const reading = this.#read().finally(() => {
      if (this.#reading === reading) this.#reading = undefined;
    });
    this.#reading = reading;
    return reading;
  }

  /**
   * The newest usable knowledge of the token: the stored one, unless this
   * process holds a newer one or the stored one was rejected. A failing or
   * hanging storage, or a record that is not a valid token, reads as empty
   * (and is reported).
   */
  async #read(): Promise<Token | undefined> {
    let stored: unknown;
    try {
      stored = await this.#storage((key) => this.#o.storage.get(key));
    } catch (error) {
      this.#emit({ type: "error", phase: "storage", error });
      return this.#cached;
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
    if (token && this.#rejected.has(token.accessToken)) token = undefined;
    // A read that started before a renewal must not bring an older token back.
    const cached = this.#cached;
    if (cached && (!token || token.issuedAt < cached.issuedAt)) token = cached;
    this.#cached = token;
    if (token && (!this.#lastKnown || token.issuedAt >= this.#lastKnown.issuedAt)) {
      this.#lastKnown = token;
    }
    return token;
  }

  async #delete(accessToken: string): Promise<void> {
    try {
      await this.#storage((key) => this.#o.storage.delete(key, { accessToken }));
    } catch (error) {
      this.#emit({ type: "error", phase: "storage", error });
    }
  }

  /**
   * Calls the storage with the token's key, bounded by the token timeout: a
   * storage that hangs fails like one that throws.
   */
  #storage<T>(call: (key: string) => Promise<T>, extra = 0): Promise<T> {
    const pending = this.#bounded(call, extra);
    this.#pending.add(pending);
    const forget = () => this.#pending.delete(pending);
    pending.then(forget, forget);
    return pending;
  }

  async #bounded<T>(call: (key: string) => Promise<T>, extra: number): Promise<T> {
    this.#key ??= this.#o.key().catch((error) => {
      this.#key = undefined; // try again on the next call
      throw error;
    });
    const key = await this.#key;
    const bound = Math.max(this.#o.timeout, MIN_STORAGE_BOUND) + extra;
    using limit = deadline(undefined, bound, `The token storage did not answer within ${bound} ms`);
    return await abortable(call(key), limit.expired);
  }

  #emit(event: ClientEvent): void {
    try {
      this.#o.onEvent?.(event);
    } catch {
      // A listener's failure is not the request's.
    }
  }
}
