/**
 * Freshness, early renewal, single flight, the 401 path, storage and the
 * token endpoint's etiquette: the one place that decides which token a
 * request carries and when the token endpoint is asked.
 *
 * @module
 */

import { abortable, deadline } from "./_abort.ts";
import { RenewalLimits } from "./_renewal_limits.ts";
import { TokenRecords } from "./_token_records.ts";
import type { ClientEvent, TokenReason } from "./client_event.ts";
import type { Grant } from "./grant.ts";
import type { TokenLease, TokenStorage } from "./storage/token_storage.ts";
import {
  isDueForRenewal,
  isReusable,
  isUsable,
  sendableTokenType,
  type Token,
  tokenDefect,
} from "./token.ts";
import type { TokenEndpoint, TokenResult } from "./token_endpoint.ts";
import { TokenError } from "./token_error.ts";

/** Settings of a {@linkcode TokenProvider}. */
export interface TokenProviderOptions {
  grant: Grant;
  endpoint: TokenEndpoint;
  /** Parameters every token request carries (`scope`, `audience`, ...). */
  params: URLSearchParams;
  storage: TokenStorage;
  /** The client's secret, if any: only its fingerprint goes into the storage keys. */
  credential?: string;
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
/** The longest single wait for another holder's renewal before looking again. */
const WAIT_SLICE = 1_000;
/** How much longer than a grant's longest run a storage lease lasts. */
const LEASE_SLACK = 5_000;

/**
 * Hands out the token a request should carry, obtaining and renewing it
 * through its grant at most once at a time.
 *
 * - Records: the access token under the access key (endpoint, client,
 *   credential fingerprint, grant, parameters); a login's refresh token in
 *   its own login record under the login key (the same without the
 *   parameters), read before every renewal, so a rotation by any client or
 *   process is seen by all. A 401 erases nothing stored; only the token
 *   endpoint's `invalid_grant` to a refresh ends a login record
 *   ([RFC 6749 §6](https://www.rfc-editor.org/rfc/rfc6749#section-6)).
 * - Single flight: one renewal at a time in this provider, and with a storage
 *   that has leases, one per login across clients and processes (the lease
 *   is taken on the login key; waiters then read their access record again).
 * - No clock comparisons: a storage read begun before this process adopted a
 *   token it obtained is ignored (a generation count), and a token this
 *   process retired (rejected, or replaced) is never adopted again.
 * - Etiquette: while a `Retry-After` of a 429 or 503 runs (at most 300 s),
 *   calls that need a new token get a copy of that answer, and background
 *   renewals wait; a token obtained for a rejection and rejected again within
 *   30 s is not replaced (the 401 is returned), so a resource that rejects
 *   everything costs at most one token request per 30 s.
 * - Storage: every call is bounded; one that times out marks the storage down
 *   (skipped, probed at most every 5 s): one request pays at most one bound.
 */
export class TokenProvider {
  readonly #options: TokenProviderOptions;
  readonly #closed = new AbortController();
  readonly #records: TokenRecords;
  readonly #limits = new RenewalLimits();
  /** The renewal under way, shared by every caller that needs a new token meanwhile. */
  #sharedRenewal: Promise<TokenResult> | undefined;
  /** The replacements of rejected tokens under way, each shared by the requests it failed. */
  readonly #replacements = new Map<string, Promise<TokenResult>>();
  #backgroundRetryAt = -Infinity;

  constructor(options: TokenProviderOptions) {
    this.#options = options;
    const { endpoint: { url, clientId }, credential, grant, params } = options;
    this.#records = new TokenRecords({
      storage: options.storage,
      keyParts: { url, clientId, credential, grant, params },
      now: options.now,
      timeout: options.timeout,
      closed: this.#closed.signal,
      emit: (event) => this.#emit(event),
    });
  }

  /** How long before `expiresAt` a token is renewed, in milliseconds. */
  get renewalMargin(): number {
    return this.#options.renewalMargin;
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
   * background renewal runs, unless the caller needs it for longer than it
   * has left (`minValidity`, in milliseconds): then it is renewed first.
   */
  async token(signal?: AbortSignal, minValidity?: number): Promise<TokenResult> {
    this.#checkOpen();
    const { now, renewalMargin } = this.#options;
    let current = this.#records.current;
    let at = now();
    if (!current || !isUsable(current, at) || this.#renewsEarly(current, at)) {
      current = await abortable(this.#records.readShared(), signal);
      at = now();
    }
    if (!current || !isUsable(current, at)) {
      const reason: TokenReason = current ? "expired" : "missing";
      return await abortable(this.#renewShared(current?.accessToken, reason), signal);
    }
    const dueForCaller = minValidity !== undefined && isDueForRenewal(current, at, minValidity);
    const due = dueForCaller || isDueForRenewal(current, at, renewalMargin);
    // A token read from the storage lacks its login's refresh token, which
    // tells a login grant that renewing needs no user: read the login once.
    if (due && this.#options.grant.needsUser && !this.#records.loginKnown) {
      await abortable(this.#records.readLogin(), signal);
      current = this.#records.current ?? current;
    }
    if (!due || this.#needsUser(current)) return { token: current };
    if (dueForCaller) {
      return await abortable(this.#renewShared(current.accessToken, "expiring", false), signal);
    }
    this.#renewInBackground(current);
    return { token: current };
  }

  /**
   * Whether a resource's 401 to `rejected` should lead to a new token (and a
   * replay): not when `rejected` was itself obtained for a rejection less
   * than 30 s ago. Then the 401 is the caller's answer, and `rejected` stays
   * in use.
   */
  willRenewAfterRejection(rejected: Token): boolean {
    return this.#limits.mayReplace(rejected.accessToken, this.#options.now());
  }

  /**
   * The token to replay with after a resource rejected `rejected` with 401:
   * the current one if another request already replaced it, else a new one.
   */
  tokenAfterRejection(rejected: Token, signal?: AbortSignal): Promise<TokenResult> {
    this.#checkOpen();
    this.#records.reject(rejected.accessToken);
    // Every request the same token failed shares one read and one renewal:
    // a storm of N 401s costs one storage round trip, not N.
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
    const current = await this.#records.read();
    if (current && isUsable(current, this.#options.now())) return { token: current };
    return await this.#renewShared(rejected, "rejected");
  }

  /** Stops background work and the token request in flight, and waits for them. */
  async close(): Promise<void> {
    this.#closed.abort(new DOMException("The client was closed", "AbortError"));
    await Promise.allSettled([...this.#replacements.values()]);
    await this.#sharedRenewal?.catch(() => {});
    // Reads a caller stopped waiting for still finish: close() leaves nothing running.
    await Promise.allSettled(this.#records.pending);
  }

  /** Requests that were under way when the client closed get no token afterwards. */
  #checkOpen(): void {
    if (this.#closed.signal.aborted) {
      throw new Error("Cannot send the request: the client is closed");
    }
  }

  #needsUser(token: Token): boolean {
    return this.#options.grant.needsUser?.(token) ?? false;
  }

  /** Whether `token` is due, and a background renewal of it would start now. */
  #renewsEarly(token: Token, at: number): boolean {
    return isDueForRenewal(token, at, this.#options.renewalMargin) && !this.#sharedRenewal &&
      !this.#backingOff(at) && !this.#needsUser(token);
  }

  /** Whether background renewals wait: after a failure, or while the endpoint asked to. */
  #backingOff(at: number): boolean {
    return at < this.#backgroundRetryAt || this.#limits.throttled(at) !== undefined;
  }

  /**
   * Single flight: one renewal at a time, whose result every caller meanwhile
   * shares. While the token endpoint's `Retry-After` runs, its answer again.
   */
  #renewShared(
    stale: string | undefined,
    reason: TokenReason,
    background = reason === "expiring",
  ): Promise<TokenResult> {
    if (this.#sharedRenewal) return this.#sharedRenewal;
    const throttled = this.#limits.throttled(this.#options.now());
    if (throttled) return Promise.resolve({ errorResponse: throttled });
    const flight = this.#renewUnderLease(stale, reason, background).then(
      (result) => {
        if (!background && "errorResponse" in result) this.#failed(result.errorResponse.error);
        return result;
      },
      (error) => {
        if (!background) this.#failed(error);
        throw error;
      },
    ).finally(() => {
      if (this.#sharedRenewal === flight) this.#sharedRenewal = undefined;
    });
    this.#sharedRenewal = flight;
    return flight;
  }

  #renewInBackground(current: Token): void {
    if (this.#sharedRenewal || this.#closed.signal.aborted) return;
    if (this.#backingOff(this.#options.now())) return;
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

  /** Reports a renewal a caller waited for that ended without a token. */
  #failed(error: unknown): void {
    if (error instanceof TokenError && !this.#closed.signal.aborted) {
      this.#emit({ type: "error", phase: "token", error });
    }
  }

  /** One renewal: under the storage's lease on the login when it has one. */
  async #renewUnderLease(
    stale: string | undefined,
    reason: TokenReason,
    background: boolean,
  ): Promise<TokenResult> {
    const signal = this.#closed.signal;
    signal.throwIfAborted();
    if (!this.#records.leasing) return await this.#runGrant(reason, background);
    const ttl = this.#grantBound + LEASE_SLACK;
    // Judged on this process's monotonic clock, like the lease itself.
    const giveUpAt = performance.now() + 2 * ttl;
    while (true) {
      let lease: TokenLease | undefined;
      try {
        lease = await this.#records.acquireLease(ttl, signal);
      } catch {
        signal.throwIfAborted();
        // A storage that cannot coordinate must not stop requests (the guard reported it).
        return await this.#runGrant(reason, background);
      }
      if (lease) {
        try {
          // Another holder may have renewed while we waited for the lease.
          const current = await this.#records.read();
          if (this.#replacesStale(current, stale)) return { token: current };
          return await this.#runGrant(reason, background, lease);
        } finally {
          await this.#records.release(lease);
        }
      }
      // The holder may have finished between our read and the failed lease.
      const renewed = await this.#records.read();
      if (this.#replacesStale(renewed, stale)) return { token: renewed };
      if (performance.now() > giveUpAt) {
        throw new TokenError(
          "Cannot obtain a token: the holder of the storage's renewal lease did not finish in time",
          { code: "lease_timeout" },
        );
      }
      try {
        // A short slice: a change that happened before the wait began is not
        // missed for long, whatever the storage's notifications do.
        await this.#records.waitForChange(Math.min(ttl, WAIT_SLICE), signal);
      } catch {
        signal.throwIfAborted();
        return await this.#runGrant(reason, background);
      }
    }
  }

  /** Whether `current` is a usable token other than `stale`: another holder's renewal. */
  #replacesStale(current: Token | undefined, stale: string | undefined): current is Token {
    return current !== undefined && current.accessToken !== stale &&
      isUsable(current, this.#options.now());
  }

  /** Runs the grant from the login's latest refresh token, bounded in time, and keeps what it returns. */
  async #runGrant(
    reason: TokenReason,
    background: boolean,
    lease?: TokenLease,
  ): Promise<TokenResult> {
    const previous = await this.#records.readLogin();
    const { grant, endpoint, params } = this.#options;
    const bound = this.#grantBound + LEASE_SLACK;
    // The grant sees the client's close and the time bound; only the bound is
    // raced here, so a grant's own close error reaches the caller unchanged.
    // A grant that never settles must not hang every waiter.
    using limit = deadline(this.#closed.signal, bound, "The grant timed out");
    let result: TokenResult;
    try {
      result = await abortable(
        grant.obtain({ endpoint, params, previous, signal: limit.signal, background }),
        limit.expired,
      );
    } catch (error) {
      if (limit.expired.aborted) {
        throw new TokenError(`Cannot obtain a token: the grant did not finish within ${bound} ms`, {
          code: "timeout",
          cause: error,
        });
      }
      throw error;
    }
    if ("token" in result) {
      return { token: await this.#adopt(checkedToken(result.token, grant.name), reason, lease) };
    }
    const { errorResponse } = result;
    this.#limits.answered(errorResponse, this.#options.now());
    // Only the token endpoint ends a login: its refresh token was refused (RFC 6749 §5.2).
    if (errorResponse.error.error === "invalid_grant" && previous?.refreshToken !== undefined) {
      await this.#records.endLogin(previous.refreshToken);
    }
    return result;
  }

  /** Keeps a token this process obtained, and reports it. */
  #adopt(obtained: Token, reason: TokenReason, lease?: TokenLease): Promise<Token> {
    this.#emit({ type: "token", reason, expiresAt: obtained.expiresAt });
    if (reason === "rejected") {
      this.#limits.replacedRejected(obtained.accessToken, this.#options.now());
    }
    return this.#records.adopt(obtained, isReusable(obtained), lease);
  }

  #emit(event: ClientEvent): void {
    try {
      this.#options.onEvent?.(event);
    } catch {
      // A listener's failure is not the request's.
    }
  }
}

/**
 * A grant's token, checked like a token endpoint's
 * ([RFC 6750 §2.1](https://www.rfc-editor.org/rfc/rfc6750#section-2.1)): a custom grant's
 * `mac` type, `Bearer a b` or empty token is refused before a request carries it, and the
 * message never quotes it. The type's case is normalized, as a token response's is.
 */
function checkedToken(token: Token, grant: string): Token {
  const type = sendableTokenType((token as Partial<Token> | null)?.tokenType);
  const normalized = type !== undefined && type !== token.tokenType
    ? { ...token, tokenType: type }
    : token;
  const defect = tokenDefect(normalized);
  if (defect !== undefined) {
    throw new TokenError(`Cannot use the token of the grant "${grant}": ${defect}`, {
      code: "invalid_response",
    });
  }
  return normalized;
}
