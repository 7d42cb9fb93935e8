// How often the clients of one token may ask the token endpoint, whatever
// their callers do: not while the endpoint said to wait (Retry-After), and not
// again and again for a resource that rejects every token. Kept per token
// (storage key) for the whole process, so that a client per request is held
// to the same limits as one long-lived client.

import type { ErrorResponse } from "./token_endpoint.ts";

/**
 * The longest wait a `Retry-After` imposes, in milliseconds: a server's typo
 * (or a hostile one) must not stop the client for a day.
 */
export const MAX_RETRY_AFTER = 300_000;

/**
 * The wait a 429 without a usable `Retry-After` imposes, in milliseconds: as
 * long as a failed background renewal waits. "Too many requests" is not
 * answered with another request at once.
 */
export const DEFAULT_RETRY_AFTER = 5_000;

/**
 * How long a token obtained because a resource rejected the previous one is
 * not replaced again when it is rejected too, in milliseconds.
 */
export const REJECTION_BOUND = 30_000;

/** How many tokens' limits the process keeps: the least recently used go first. */
export const LIMITS_KEPT = 1_000;

/**
 * The limits of each token, per storage object and then by storage key, least
 * recently used first. Clients that share a storage share a token, so they
 * share its limits; a client with a storage of its own starts afresh.
 */
const byStorage = new WeakMap<object, Map<string, RenewalLimits>>();

/**
 * The limits of the token stored under `key` in `storage`, shared by every
 * client of this process that keeps that token there (the process-wide default
 * storage included): a client created per request sees the `Retry-After` and
 * the rejections the previous ones met. At most {@linkcode LIMITS_KEPT} tokens
 * are remembered per storage.
 */
export function renewalLimitsOf(storage: object, key: string): RenewalLimits {
  let shared = byStorage.get(storage);
  if (shared === undefined) byStorage.set(storage, shared = new Map());
  const limits = shared.get(key) ?? new RenewalLimits();
  shared.delete(key);
  shared.set(key, limits);
  if (shared.size > LIMITS_KEPT) {
    const oldest = shared.keys().next();
    if (!oldest.done) shared.delete(oldest.value);
  }
  return limits;
}

/**
 * The limits noted for the token stored under `key` in `storage`, if any
 * (see {@linkcode renewalLimitsOf}), counted as used; none are made. Clients
 * that only read their limits keep nothing: a process of many tenants
 * remembers only the tokens something was noted for.
 */
export function notedLimitsOf(storage: object, key: string): RenewalLimits | undefined {
  const shared = byStorage.get(storage);
  const limits = shared?.get(key);
  if (shared === undefined || limits === undefined) return undefined;
  shared.delete(key);
  shared.set(key, limits);
  return limits;
}

/** A span of time on the client's clock, from `from`, `length` ms long. */
interface Span {
  from: number;
  length: number;
}

/**
 * Whether `now` falls in `span`. A clock that went back ends the span: a
 * wrong clock may cost a token request, never a long stop.
 */
function within(span: Span | undefined, now: number): boolean {
  if (span === undefined) return false;
  const elapsed = now - span.from;
  return elapsed >= 0 && elapsed < span.length;
}

/**
 * The limits on one token's token requests. Times come from the clocks of
 * the clients that note them and are compared only with each other, never
 * with another machine's.
 */
export class RenewalLimits {
  /** The answer that asked to wait, and the wait. */
  #throttle: (Span & { answer: ErrorResponse }) | undefined;
  /** The token obtained after a rejection, and when it arrived. */
  #replacement: (Span & { accessToken: string }) | undefined;

  /**
   * The token endpoint's answer that asked to wait, while the wait lasts:
   * calls that need a new token get a copy of it instead of a token request.
   */
  throttled(now: number): ErrorResponse | undefined {
    if (!within(this.#throttle, now)) return undefined;
    return this.#throttle?.answer;
  }

  /**
   * Notes a token endpoint's error answer: a 429 or 503 with `Retry-After`
   * ([RFC 9110 §10.2.3](https://www.rfc-editor.org/rfc/rfc9110#section-10.2.3),
   * [RFC 6585 §4](https://www.rfc-editor.org/rfc/rfc6585#section-4)) starts a wait of at most
   * {@linkcode MAX_RETRY_AFTER}; a 429 without one (or with one that cannot be read), a wait
   * of {@linkcode DEFAULT_RETRY_AFTER}.
   */
  answered(answer: ErrorResponse, now: number): void {
    if (answer.status !== 429 && answer.status !== 503) return;
    const wait = retryAfter(answer.headers, now) ??
      (answer.status === 429 ? DEFAULT_RETRY_AFTER : undefined);
    if (wait === undefined || wait <= 0) return;
    this.#throttle = { from: now, length: Math.min(wait, MAX_RETRY_AFTER), answer };
  }

  /** Notes that `accessToken` was obtained because a resource rejected its predecessor. */
  replacedRejected(accessToken: string, now: number): void {
    this.#replacement = { from: now, length: REJECTION_BOUND, accessToken };
  }

  /**
   * Whether a rejection of `accessToken` may lead to a new token: not when
   * it was itself obtained for a rejection less than
   * {@linkcode REJECTION_BOUND} ago. Such a token, minted moments ago and
   * refused at once, says the resource is the problem, not the token.
   */
  mayReplace(accessToken: string, now: number): boolean {
    return !(within(this.#replacement, now) && this.#replacement?.accessToken === accessToken);
  }
}

/**
 * The wait a `Retry-After` header asks for, in milliseconds: delay-seconds,
 * or an HTTP-date measured against the response's own `Date` when it has one
 * (the server's clock against itself), else against `now`.
 */
export function retryAfter(headers: [string, string][], now: number): number | undefined {
  const get = (name: string) => headers.find(([key]) => key.toLowerCase() === name)?.[1]?.trim();
  const value = get("retry-after");
  if (value === undefined || value === "") return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  // Every HTTP-date form has a time of day; `Date.parse` alone takes "1.5" for a date.
  if (!/\d\d:\d\d:\d\d/.test(value)) return undefined;
  const at = Date.parse(value);
  if (Number.isNaN(at)) return undefined;
  const date = Date.parse(get("date") ?? "");
  return at - (Number.isNaN(date) ? now : date);
}
