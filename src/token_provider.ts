/**
 * Freshness, early renewal, single flight, invalidate-on-401 and storage:
 * the one place that decides which token a request carries.
 *
 * @module
 */

import { abortable } from "./_abort.ts";
import type { ClientEvent, TokenReason } from "./client_event.ts";
import type { Grant } from "./grant.ts";
import type { TokenLease, TokenStorage } from "./storage/token_storage.ts";
import { isDueForRenewal, isReusable, isUsable, type Token } from "./token.ts";
import type { TokenEndpoint, TokenResult } from "./token_endpoint.ts";
import { TokenError } from "./token_error.ts";

/** Settings of a {@linkcode TokenProvider}. */
export interface TokenProviderOptions {
  grant: Grant;
  endpoint: TokenEndpoint;
  /** Parameters every token request carries (`scope`, `audience`, ...). */
  params: URLSearchParams;
  storage: TokenStorage;
  /** The token's storage key. */
  key: string;
  /** The clock for token expiry, epoch milliseconds. */
  now: () => number;
  /** How long before `expiresAt` to renew, in milliseconds. */
  renewalMargin: number;
  /** How long one `grant.obtain()` may take, in milliseconds; sizes the lease. */
  timeout: number;
  onEvent?: (event: ClientEvent) => void;
}

/** After a failed background renewal, wait this long before the next one. */
const BACKGROUND_RETRY_DELAY = 5_000;
/** The longest single wait for another holder's renewal before looking again. */
const WAIT_SLICE = 1_000;
/** How much longer than a token request a storage lease lasts. */
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
  /** The last token seen, even expired or rejected: a refresh grant needs it. */
  #lastKnown: Token | undefined;
  #inflight: Promise<TokenResult> | undefined;
  #backgroundRetryAt = -Infinity;

  constructor(options: TokenProviderOptions) {
    this.#o = options;
  }

  /**
   * The token to send now, or the token endpoint's error response.
   *
   * A token inside its renewal window is returned at once while one
   * background renewal runs.
   */
  async token(signal?: AbortSignal): Promise<TokenResult> {
    const now = this.#o.now();
    const cached = this.#cached;
    if (
      cached && isUsable(cached, now) &&
      (this.#inflight !== undefined || !isDueForRenewal(cached, now, this.#o.renewalMargin) ||
        this.#o.grant.needsUser?.(cached))
    ) {
      return { token: cached };
    }
    const current = await this.#read();
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
  async tokenAfterRejection(rejected: Token, signal?: AbortSignal): Promise<TokenResult> {
    if (this.#cached?.accessToken === rejected.accessToken) this.#cached = undefined;
    const current = await this.#read();
    if (current && current.accessToken !== rejected.accessToken) {
      if (isUsable(current, this.#o.now())) return { token: current };
    } else if (current) {
      this.#cached = undefined;
      await this.#delete(rejected.accessToken);
    }
    return await abortable(this.#renew(rejected.accessToken, "rejected"), signal);
  }

  /** Stops background work and the token request in flight, and waits for them. */
  async close(): Promise<void> {
    this.#closed.abort(new DOMException("The client was closed", "AbortError"));
    await this.#inflight?.catch(() => {});
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
    const { storage, key } = this.#o;
    const signal = this.#closed.signal;
    signal.throwIfAborted();
    if (!storage.acquireLease || !storage.waitForChange) return await this.#fetch(reason);
    const ttl = (this.#o.grant.timeout ?? this.#o.timeout) + LEASE_SLACK;
    const deadline = Date.now() + 2 * ttl;
    while (true) {
      let lease: TokenLease | undefined;
      try {
        lease = await storage.acquireLease(key, { ttl, signal });
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
          await lease.release().catch((error) =>
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
        await storage.waitForChange(key, { timeout: Math.min(ttl, WAIT_SLICE), signal });
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

  async #fetch(reason: TokenReason, lease?: TokenLease): Promise<TokenResult> {
    const result = await this.#o.grant.obtain({
      endpoint: this.#o.endpoint,
      params: this.#o.params,
      previous: this.#lastKnown,
      signal: this.#closed.signal,
    });
    if ("token" in result) {
      const { token } = result;
      this.#emit({ type: "token", reason, expiresAt: token.expiresAt });
      this.#lastKnown = token;
      if (isReusable(token)) {
        this.#cached = token;
        try {
          await this.#o.storage.set(this.#o.key, token, { lease });
        } catch (error) {
          this.#emit({ type: "error", phase: "storage", error });
        }
      }
    }
    return result;
  }

  /** Reads the stored token; a failing storage reads as empty (and is reported). */
  async #read(): Promise<Token | undefined> {
    let token: Token | undefined;
    try {
      token = await this.#o.storage.get(this.#o.key);
    } catch (error) {
      this.#emit({ type: "error", phase: "storage", error });
      return this.#cached;
    }
    this.#cached = token;
    if (token) this.#lastKnown = token;
    return token;
  }

  async #delete(accessToken: string): Promise<void> {
    try {
      await this.#o.storage.delete(this.#o.key, { accessToken });
    } catch (error) {
      this.#emit({ type: "error", phase: "storage", error });
    }
  }

  #emit(event: ClientEvent): void {
    try {
      this.#o.onEvent?.(event);
    } catch {
      // A listener's failure is not the request's.
    }
  }
}
