/**
 * The error callers catch when no token could be obtained.
 *
 * @module
 */

/**
 * What kind of failure a {@linkcode TokenError} is: a stable value to branch on
 * (messages may change).
 *
 * - `http_error`: the token endpoint answered an HTTP error (3xx, 4xx, 5xx); the error carries
 *   `status`, `headers` and `body`, and the RFC 6749 §5.2 fields when the body has them.
 * - `invalid_response`: the token endpoint answered, but not with a usable token response (a 2xx
 *   that is not JSON, lacks a usable `access_token`, or carries only an `error` member; a status no
 *   `Response` can carry; a body over the read bound).
 * - `network_error`: the token endpoint could not be reached, or the connection broke.
 * - `timeout`: no answer within the time bound (`tokenTimeout`, a grant's or a login's bound).
 * - `lease_timeout`: another client held the storage's renewal lease and did not finish in time.
 * - `login_failed`: the user or the authorization server ended a browser login without a code or
 *   token (an error redirect such as `access_denied`, a browser that could not be opened).
 * - `aborted`: an `AbortSignal` stopped the work (a caller's, or the grant's when the client
 *   closed).
 * - `closed`: the client (or the login listener) was closed.
 * - `grant_failed`: the grant could not make a token request (no refresh token to refresh with,
 *   a signing function that failed); also the code of a `TokenError` made without one.
 *
 * @example Branching on the code
 * ```ts
 * import { TokenError, type TokenErrorCode } from "@alf/client";
 *
 * function retryable(error: unknown): boolean {
 *   const retry: TokenErrorCode[] = ["network_error", "timeout", "lease_timeout"];
 *   return error instanceof TokenError &&
 *     (retry.includes(error.code) || (error.code === "http_error" && (error.status ?? 0) >= 500));
 * }
 * ```
 */
export type TokenErrorCode =
  | "http_error"
  | "invalid_response"
  | "network_error"
  | "timeout"
  | "lease_timeout"
  | "login_failed"
  | "aborted"
  | "closed"
  | "grant_failed";

/** Headers a token error never keeps: cookies are the endpoint's session, not the caller's. */
const COOKIE_HEADERS = ["set-cookie", "set-cookie2"];

/** The token error of each Response the client made from a token endpoint's error. */
const responses = new WeakMap<Response, TokenError>();

/**
 * Options for {@linkcode TokenError}.
 *
 * @example An error for a timeout
 * ```ts
 * import { TokenError, type TokenErrorOptions } from "@alf/client";
 *
 * const options: TokenErrorOptions = {
 *   code: "timeout",
 *   cause: new DOMException("timed out", "TimeoutError"),
 * };
 * const error = new TokenError(
 *   "Cannot obtain a token: the token endpoint did not answer",
 *   options,
 * );
 * ```
 */
export interface TokenErrorOptions {
  /** What kind of failure this is; `"grant_failed"` when left out. */
  code?: TokenErrorCode;
  /**
   * The [RFC 6749 §5.2](https://www.rfc-editor.org/rfc/rfc6749#section-5.2) `error` code, when
   * the token endpoint sent one.
   */
  error?: string;
  /**
   * The [RFC 6749 §5.2](https://www.rfc-editor.org/rfc/rfc6749#section-5.2)
   * `error_description`.
   */
  errorDescription?: string;
  /** The [RFC 6749 §5.2](https://www.rfc-editor.org/rfc/rfc6749#section-5.2) `error_uri`. */
  errorUri?: string;
  /** The HTTP status of the token response, when there was one. */
  status?: number;
  /**
   * The headers of the token endpoint's answer (kept as a copy, without `Set-Cookie` and
   * `Set-Cookie2`).
   */
  headers?: HeadersInit;
  /** The body of the token endpoint's answer, as text. */
  body?: string;
  /** The underlying failure (network error, timeout, parse error). */
  cause?: unknown;
}

/**
 * A token could not be obtained.
 *
 * Carries a stable {@linkcode TokenErrorCode} in `code`, the
 * [RFC 6749 §5.2](https://www.rfc-editor.org/rfc/rfc6749#section-5.2) error fields, and, when the
 * token endpoint answered, its HTTP status, headers and body; or the `cause` when it did not
 * (network error, timeout). Never carries a token or a client secret.
 *
 * @example Catching a token error
 * ```ts
 * import assert from "node:assert/strict";
 * import { TokenError } from "@alf/client";
 *
 * const error = new TokenError("Cannot obtain a token: the token endpoint answered 429", {
 *   code: "http_error",
 *   status: 429,
 *   headers: { "Retry-After": "60" },
 * });
 * if (error instanceof TokenError && error.code === "http_error") {
 *   assert(error.status === 429);
 *   assert(error.headers?.get("retry-after") === "60");
 * }
 * ```
 */
export class TokenError extends Error {
  /** What kind of failure this is: a stable value to branch on. */
  readonly code: TokenErrorCode;
  /**
   * The [RFC 6749 §5.2](https://www.rfc-editor.org/rfc/rfc6749#section-5.2) `error` code, when
   * the token endpoint sent one.
   */
  readonly error?: string;
  /**
   * The [RFC 6749 §5.2](https://www.rfc-editor.org/rfc/rfc6749#section-5.2)
   * `error_description`.
   */
  readonly errorDescription?: string;
  /** The [RFC 6749 §5.2](https://www.rfc-editor.org/rfc/rfc6749#section-5.2) `error_uri`. */
  readonly errorUri?: string;
  /** The HTTP status of the token response, when there was one. */
  readonly status?: number;
  // Kept off the instance's own properties, so that logging an error does not print a page.
  readonly #headers?: [string, string][];
  readonly #body?: string;

  /**
   * Creates a token error.
   *
   * @param message What could not be done and why.
   * @param options The code, the
   * [RFC 6749 §5.2](https://www.rfc-editor.org/rfc/rfc6749#section-5.2) fields, the HTTP status,
   * headers and body, and the cause.
   */
  constructor(message: string, options: TokenErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "TokenError";
    this.code = options.code ?? "grant_failed";
    if (options.error !== undefined) this.error = options.error;
    if (options.errorDescription !== undefined) this.errorDescription = options.errorDescription;
    if (options.errorUri !== undefined) this.errorUri = options.errorUri;
    if (options.status !== undefined) this.status = options.status;
    if (options.headers !== undefined) {
      this.#headers = [...new Headers(options.headers)].filter(([name]) =>
        !COOKIE_HEADERS.includes(name)
      );
    }
    if (options.body !== undefined) this.#body = options.body;
  }

  /**
   * The headers of the token endpoint's answer (a new copy at each read, without `Set-Cookie`
   * and `Set-Cookie2`), when it answered with an HTTP error: a 429's `Retry-After`, a 401's
   * `WWW-Authenticate`.
   */
  get headers(): Headers | undefined {
    return this.#headers && new Headers(this.#headers);
  }

  /** The body of the token endpoint's answer as text (at most 1 MiB was read), when it answered. */
  get body(): string | undefined {
    return this.#body;
  }

  /**
   * The token error behind a response that `client.fetch` returned in place of the resource's
   * answer (an HTTP error of the token endpoint, with `tokenErrors: "return"`).
   *
   * Only the `Response` object the client returned is recognized, not a clone of it.
   *
   * @param response A response `client.fetch` returned.
   * @returns The error, or `undefined` for any other response (the resource's own 401 too).
   *
   * @example Telling the token endpoint's answer from the resource's
   * ```ts
   * import assert from "node:assert/strict";
   * import { Client, TokenError } from "@alf/client";
   * import { startAuthServer } from "@alf/client/testing";
   *
   * await using server = await startAuthServer({ clientSecret: "right" });
   * await using client = new Client({
   *   tokenEndpoint: server.tokenEndpoint,
   *   clientId: "client-id",
   *   clientSecret: "wrong",
   * });
   * const response = await client.fetch(server.resourceUrl);
   * await response.body?.cancel();
   * const error = TokenError.fromResponse(response);
   * assert(error?.code === "http_error" && error.error === "invalid_client");
   * assert(response.status === 401); // the token endpoint's status, not the resource's
   * ```
   */
  static fromResponse(response: Response): TokenError | undefined {
    return responses.get(response);
  }
}

/**
 * Records that `response` stands for `error`, for {@linkcode TokenError.fromResponse}.
 * Internal: called where a token endpoint's error becomes a Response.
 */
export function registerErrorResponse(response: Response, error: TokenError): Response {
  responses.set(response, error);
  return response;
}
