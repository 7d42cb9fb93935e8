/**
 * Freshness, early renewal, single flight, the 401 path, storage and the
 * token endpoint's etiquette: the one place that decides which token a
 * request carries and when the token endpoint is asked.
 *
 * @module
 */

import { abortable } from "./_abort.ts";
import { runGrant } from "./_grant_run.ts";
import {
  accessRecordOf,
  type LoginScope,
  loginScopeOf,
  loginUse,
  requestedScope,
  type RevocableToken,
  type RevokeLogin,
} from "./_login_record.ts";
import { notedLimitsOf, RenewalLimits, renewalLimitsOf } from "./_renewal_limits.ts";
import { renewInTurn } from "./_renewal_turn.ts";
import { emitEvent, TokenRecords } from "./_token_records.ts";
import type { ClientEvent, TokenReason } from "./client_event.ts";
import type { Grant } from "./grant.ts";
import type { TokenLease, TokenStorage } from "./storage/token_storage.ts";
import { isDueForRenewal, isReusable, isUsable, type Token } from "./token.ts";
import type { TokenEndpoint, TokenResult } from "./token_endpoint.ts";
import { TokenError } from "./token_error.ts";

/** Settings of a {@linkcode TokenProvider}. */
export interface TokenProviderOptions {
  grant: Grant;
  /** Parameters every token request carries (`scope`, `audience`, ...). */
  params: URLSearchParams;
  storage: TokenStorage;
  /** The client's secret, if any: only its fingerprint goes into the storage keys. */
  credential?: string;
  /** The thumbprint of the DPoP key the tokens are bound to, for a client with DPoP. */
  boundTo?: () => Promise<string>;
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
 *   process is seen by all. A 401 erases nothing stored; a login record ends
 *   at the token endpoint's `invalid_grant` to a refresh
 *   ([RFC 6749 §6](https://www.rfc-editor.org/rfc/rfc6749#section-6)) or
 *   when `revoke` revoked it.
 * - Single flight: one renewal at a time in this provider, and with a storage
 *   that has leases, one per login across clients and processes (the lease
 *   is taken on the login key; waiters then read their access record again).
 * - No clock comparisons: a storage read begun before this process adopted a
 *   token it obtained is ignored (a generation count), and a token this
 *   process retired (rejected, replaced, or revoked) is never adopted again.
 * - Etiquette: while a `Retry-After` of a 429 or 503 runs (at most 300 s;
 *   5 s for a 429 without one), calls that need a new token get a copy of
 *   that answer, and background renewals wait; a token obtained for a
 *   rejection and rejected again within 30 s is not replaced (the 401 is
 *   returned), so a resource that rejects everything costs at most one token
 *   request per 30 s. Both limits belong to the token (its storage key), for
 *   every client of the process: a client per request is held to them too.
 * - Scope: a login's refresh token serves the clients whose scope it covers,
 *   narrowed to theirs; any other client logs in anew (see `runGrant`).
 * - Storage: every call is bounded; one that times out marks the storage down
 *   (skipped, probed at most every 5 s): one request pays at most one bound.
 */
export class TokenProvider {
  // Tenants keep thousands of providers: what an idle one holds is made on
  // first use, and what only a renewal needs lives as long as the renewal.
  readonly #options: TokenProviderOptions;
  readonly #endpoint: TokenEndpoint;
  #closed = false;
  readonly #records: TokenRecords;
  /** The limits while the key is not known (its hash failed); made on first use. */
  #ownLimits: RenewalLimits | undefined;
  /** The renewal under way (at most one), shared by every caller meanwhile; close() aborts it. */
  #renewal: { flight: Promise<TokenResult>; abort: AbortController } | undefined;
  /** The replacements of rejected tokens under way, each shared by the requests it failed. */
  #replacements: Map<string, Promise<TokenResult>> | undefined;
  /** Until when background renewals wait after one failed; `undefined`: none failed. */
  #backgroundRetryAt: number | undefined;

  /** The grant obtains tokens at `endpoint`; `options` are kept, not copied (the client's). */
  constructor(endpoint: TokenEndpoint, options: TokenProviderOptions) {
    this.#options = options;
    this.#endpoint = endpoint;
    // The key's endpoint and client as they are now: discovery changes them later.
    this.#records = new TokenRecords(options, endpoint);
  }

  /** Whether `close()` was called: the provider hands out no more tokens. */
  get closed(): boolean {
    return this.#closed;
  }

  /** How long before `expiresAt` a token is renewed, in milliseconds. */
  get renewalMargin(): number {
    return this.#options.renewalMargin;
  }

  /** The limits on this token's requests, shared by the clients of the process that share its storage. */
  get #limits(): RenewalLimits {
    const key = this.#records.knownAccessKey; // the token's storage key names its limits
    return key === undefined
      ? this.#ownLimits ??= new RenewalLimits()
      : renewalLimitsOf(this.#options.storage, key);
  }

  /** The limits noted so far, if any: reading them makes none (`undefined`: no limit). */
  get #notedLimits(): RenewalLimits | undefined {
    const key = this.#records.knownAccessKey;
    return key === undefined ? this.#ownLimits : notedLimitsOf(this.#options.storage, key);
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
    if (this.#records.knownAccessKey === undefined) await abortable(this.#findLimits(), signal);
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
   * The token to send now, when this client holds one that needs nothing
   * (usable, and not due for renewal): the common case, answered without a
   * promise. `undefined` otherwise: then {@linkcode TokenProvider.token}
   * decides, reading the storage or renewing.
   */
  cachedToken(): Token | undefined {
    const current = this.#records.current;
    if (!current || this.#records.knownAccessKey === undefined || this.#closed) return undefined;
    const at = this.#options.now();
    if (!isUsable(current, at) || isDueForRenewal(current, at, this.#options.renewalMargin)) {
      return undefined;
    }
    return current;
  }

  /**
   * Whether a resource's 401 to `rejected` should lead to a new token (and a
   * replay): not when `rejected` was itself obtained for a rejection less
   * than 30 s ago. Then the 401 is the caller's answer, and `rejected` stays
   * in use.
   */
  willRenewAfterRejection(rejected: Token): boolean {
    return this.#notedLimits?.mayReplace(rejected.accessToken, this.#options.now()) ?? true;
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
    const { accessToken } = rejected;
    const replacements = this.#replacements ??= new Map();
    let result = replacements.get(accessToken);
    if (!result) {
      const replacing = this.#replaceRejected(accessToken).finally(() => {
        const current = this.#replacements;
        if (current?.get(accessToken) !== replacing) return;
        current.delete(accessToken);
        if (current.size === 0) this.#replacements = undefined;
      });
      // Handled here too: the callers may all have stopped waiting for it.
      replacing.catch(() => {});
      replacements.set(accessToken, result = replacing);
    }
    return abortable(result, signal);
  }

  async #replaceRejected(rejected: string): Promise<TokenResult> {
    const current = await this.#records.read();
    if (current && isUsable(current, this.#options.now())) return { token: current };
    return await this.#renewShared(rejected, "rejected");
  }

  /** Ends the login through `revoke` once the renewal under way is done: see `TokenRecords`. */
  async revoke(revoke: RevokeLogin, signal?: AbortSignal): Promise<RevocableToken | undefined> {
    this.#checkOpen();
    if (this.#renewal) await abortable(this.#renewal.flight.catch(() => {}), signal);
    return await this.#records.revoke(revoke, signal);
  }

  /** Stops background work and the token request in flight, and waits for them. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#records.close();
    this.#renewal?.abort.abort(closedReason());
    await Promise.allSettled([...this.#replacements?.values() ?? []]);
    await this.#renewal?.flight.catch(() => {});
    // Reads a caller stopped waiting for still finish: close() leaves nothing running.
    await Promise.allSettled(this.#records.pending);
  }

  /** Finds the token's shared limits by its storage key (a hash, so computed once). */
  async #findLimits(): Promise<void> {
    try {
      await this.#records.accessKey();
    } catch {
      // The storage calls report it; meanwhile the limits are this client's own.
    }
  }

  /** Requests that were under way when the client closed get no token afterwards. */
  #checkOpen(): void {
    if (this.#closed) throw new Error("Cannot send the request: the client is closed");
  }

  /** Whether the grant would need the user, from `token`'s login when it covers the client's scope. */
  #needsUser(token: Token): boolean {
    const { grant, params } = this.#options;
    if (!grant.needsUser) return false;
    const login = this.#records.login;
    const covered = !login || loginUse(loginScopeOf(login), requestedScope(params)).use;
    return grant.needsUser(covered ? token : accessRecordOf(token)) ?? false;
  }

  /** Whether `token` is due, and a background renewal of it would start now. */
  #renewsEarly(token: Token, at: number): boolean {
    return isDueForRenewal(token, at, this.#options.renewalMargin) && !this.#renewal &&
      !this.#backingOff(at) && !this.#needsUser(token);
  }

  /** Whether background renewals wait: after a failure, or while the endpoint asked to. */
  #backingOff(at: number): boolean {
    const retryAt = this.#backgroundRetryAt;
    return (retryAt !== undefined && at < retryAt) ||
      this.#notedLimits?.throttled(at) !== undefined;
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
    if (this.#renewal) return this.#renewal.flight;
    const throttled = this.#notedLimits?.throttled(this.#options.now());
    if (throttled) return Promise.resolve({ errorResponse: throttled });
    const abort = new AbortController();
    // A caller that was under way when the client closed starts no renewal.
    if (this.#closed) abort.abort(closedReason());
    const flight = this.#renewUnderLease(stale, reason, background, abort.signal).then(
      (result) => {
        if (!background && "errorResponse" in result) this.#failed(result.errorResponse.error);
        return result;
      },
      (error) => {
        if (!background) this.#failed(error);
        throw error;
      },
    ).finally(() => {
      if (this.#renewal?.flight === flight) this.#renewal = undefined;
    });
    this.#renewal = { flight, abort };
    return flight;
  }

  #renewInBackground(current: Token): void {
    if (this.#renewal || this.#closed) return;
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
    if (!this.#closed) this.#emit({ type: "error", phase: "renewal", error });
  }

  /** Reports a renewal a caller waited for that ended without a token. */
  #failed(error: unknown): void {
    if (error instanceof TokenError && !this.#closed) {
      this.#emit({ type: "error", phase: "token", error });
    }
  }

  /** One renewal, in this client's turn (see `renewInTurn`): no other holder renews the login meanwhile. */
  #renewUnderLease(
    stale: string | undefined,
    reason: TokenReason,
    background: boolean,
    closed: AbortSignal,
  ): Promise<TokenResult> {
    const { storage, now } = this.#options;
    const ttl = this.#grantBound + LEASE_SLACK;
    return renewInTurn(
      { records: this.#records, storage, ttl, signal: closed, stale, now },
      (lease) => this.#runGrant(reason, background, closed, lease),
    );
  }

  /** Runs the grant from the login's latest refresh token (see `runGrant`), and keeps what it returns. */
  async #runGrant(
    reason: TokenReason,
    background: boolean,
    closed: AbortSignal,
    lease?: TokenLease,
  ): Promise<TokenResult> {
    const { grant, params } = this.#options;
    const { result, scope } = await runGrant({
      grant,
      endpoint: this.#endpoint,
      params,
      records: this.#records,
      closed,
      bound: this.#grantBound + LEASE_SLACK,
      background,
    });
    if ("token" in result) return { token: await this.#adopt(result.token, reason, scope, lease) };
    this.#limits.answered(result.errorResponse, this.#options.now());
    return result;
  }

  /** Keeps a token this process obtained, and reports it. */
  #adopt(
    obtained: Token,
    reason: TokenReason,
    scope: LoginScope,
    lease?: TokenLease,
  ): Promise<Token> {
    this.#emit({ type: "token", reason, expiresAt: obtained.expiresAt });
    if (reason === "rejected") {
      this.#limits.replacedRejected(obtained.accessToken, this.#options.now());
    }
    return this.#records.adopt(obtained, { reusable: isReusable(obtained), lease, scope });
  }

  #emit(event: ClientEvent): void {
    emitEvent(this.#options.onEvent, event);
  }
}

function closedReason(): DOMException {
  return new DOMException("The client was closed", "AbortError");
}
