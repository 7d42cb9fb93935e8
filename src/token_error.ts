/**
 * The error callers catch when no token could be obtained.
 *
 * @module
 */

/**
 * Options for {@linkcode TokenError}.
 *
 * @example An error for a timeout
 * ```ts
 * import { TokenError, type TokenErrorOptions } from "@alf/client";
 *
 * const options: TokenErrorOptions = { cause: new DOMException("timed out", "TimeoutError") };
 * const error = new TokenError(
 *   "Cannot obtain a token: the token endpoint did not answer",
 *   options,
 * );
 * ```
 */
export interface TokenErrorOptions {
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
  /** The underlying failure (network error, timeout, parse error). */
  cause?: unknown;
}

/**
 * A token could not be obtained.
 *
 * Carries the [RFC 6749 §5.2](https://www.rfc-editor.org/rfc/rfc6749#section-5.2) error fields
 * and the HTTP status when the token endpoint answered, or the `cause` when it did not (network
 * error, timeout). Never carries a token or a client secret.
 *
 * @example Catching a token error
 * ```ts
 * import assert from "node:assert/strict";
 * import { TokenError } from "@alf/client";
 *
 * const error = new TokenError("Cannot obtain a token: invalid_client", {
 *   error: "invalid_client",
 *   status: 401,
 * });
 * if (error instanceof TokenError && error.error === "invalid_client") {
 *   assert(error.status === 401);
 * }
 * ```
 */
export class TokenError extends Error {
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

  /**
   * Creates a token error.
   *
   * @param message What could not be done and why.
   * @param options The [RFC 6749 §5.2](https://www.rfc-editor.org/rfc/rfc6749#section-5.2) fields,
   * the HTTP status and the cause.
   */
  constructor(message: string, options: TokenErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "TokenError";
    if (options.error !== undefined) this.error = options.error;
    if (options.errorDescription !== undefined) this.errorDescription = options.errorDescription;
    if (options.errorUri !== undefined) this.errorUri = options.errorUri;
    if (options.status !== undefined) this.status = options.status;
  }
}
