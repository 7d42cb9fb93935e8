/**
 * One token request: the form POST, its timeout, its bounded read, and the
 * outcome every grant shares ([RFC 6749 §3.2](https://www.rfc-editor.org/rfc/rfc6749#section-3.2),
 * [§5](https://www.rfc-editor.org/rfc/rfc6749#section-5)).
 *
 * @module
 */

import { deadline } from "./_abort.ts";
import { BodyTooLargeError, readBounded } from "./_body.ts";
import { authenticate, type ClientAuthMethod } from "./client_auth.ts";
import type { Token } from "./token.ts";
import { TokenError } from "./token_error.ts";
import { parseErrorResponse, parseTokenResponse } from "./token_response.ts";

/** Headers that describe how the body was sent, not what it is. */
const FRAMING_HEADERS = new Set(["content-encoding", "content-length", "transfer-encoding"]);

/** Largest token response body read: 1 MiB. */
export const MAX_TOKEN_RESPONSE_BYTES = 1024 * 1024;

/**
 * A token endpoint's HTTP error response, kept whole so that every waiter of
 * a shared token request can be given its own intact copy.
 *
 * @example Reading the error of a response
 * ```ts
 * import type { ErrorResponse } from "@alf/client";
 *
 * function code(error: ErrorResponse): string {
 *   return error.error.error ?? `HTTP ${error.status}`;
 * }
 * ```
 */
export interface ErrorResponse {
  /** The HTTP status. */
  status: number;
  /** The HTTP status text. */
  statusText: string;
  /** The response headers. */
  headers: [string, string][];
  /** The response body. */
  body: Uint8Array;
  /** The same failure as an error, for callers that throw. */
  error: TokenError;
}

/**
 * What a token request ends in: a token, or the endpoint's error response.
 * Every other failure is thrown as a {@linkcode TokenError}.
 *
 * @example Telling the two apart
 * ```ts
 * import type { TokenResult } from "@alf/client";
 *
 * function describe(result: TokenResult): string {
 *   return "token" in result
 *     ? `a ${result.token.tokenType} token`
 *     : `an error response with status ${result.errorResponse.status}`;
 * }
 * ```
 */
export type TokenResult = { token: Token } | { errorResponse: ErrorResponse };

/** Rebuilds a fresh `Response` from an {@linkcode ErrorResponse}. */
export function toResponse(error: ErrorResponse): Response {
  return new Response(error.body.byteLength === 0 ? null : error.body.slice(), {
    status: error.status,
    statusText: error.statusText,
    headers: error.headers,
  });
}

/**
 * Settings of a {@linkcode TokenEndpoint}.
 *
 * @example Settings for a public client
 * ```ts
 * import type { TokenEndpointOptions } from "@alf/client";
 *
 * const options: TokenEndpointOptions = {
 *   url: new URL("https://auth.example.com/token"),
 *   clientId: "id",
 *   clientAuth: "none",
 *   fetch,
 *   now: Date.now,
 *   timeout: 30_000,
 * };
 * ```
 */
export interface TokenEndpointOptions {
  /** The token endpoint URL. */
  url: URL;
  /** The client identifier. */
  clientId: string;
  /** The client secret, if any. */
  clientSecret?: string;
  /** How the client authenticates. */
  clientAuth: ClientAuthMethod;
  /** The transport. */
  fetch: typeof fetch;
  /** The clock, epoch milliseconds. */
  now: () => number;
  /** How long one token request may take, in milliseconds. */
  timeout: number;
}

/**
 * The token endpoint as grants see it: `request(params)` sends one
 * authenticated form POST and returns a {@linkcode TokenResult}.
 *
 * @example Sending one token request by hand
 * ```ts
 * import assert from "node:assert/strict";
 * import { TokenEndpoint } from "@alf/client";
 * import { startAuthServer } from "@alf/client/testing";
 *
 * await using server = await startAuthServer();
 * const endpoint = new TokenEndpoint({
 *   url: new URL(server.tokenEndpoint),
 *   clientId: "id",
 *   clientSecret: "secret",
 *   clientAuth: "client_secret_basic",
 *   fetch,
 *   now: Date.now,
 *   timeout: 30_000,
 * });
 * const result = await endpoint.request(new URLSearchParams({ grant_type: "client_credentials" }));
 * assert.ok("token" in result && result.token.tokenType === "Bearer");
 * ```
 */
export class TokenEndpoint {
  readonly #options: TokenEndpointOptions;

  /**
   * Creates the endpoint a grant sends its token requests to.
   *
   * @param options The endpoint, credentials, transport, clock and timeout.
   */
  constructor(options: TokenEndpointOptions) {
    this.#options = options;
  }

  /** The token endpoint URL. */
  get url(): URL {
    return this.#options.url;
  }

  /** The client identifier. */
  get clientId(): string {
    return this.#options.clientId;
  }

  /** The client's clock, epoch milliseconds: a grant that gets a token elsewhere dates it by it. */
  get now(): () => number {
    return this.#options.now;
  }

  /**
   * Sends one token request.
   *
   * @param params The grant's form parameters (`grant_type` and the rest).
   * @param signal Aborts the request (the timeout applies as well).
   * @throws {TokenError} on network errors, timeouts and unusable responses.
   */
  async request(params: URLSearchParams, signal?: AbortSignal): Promise<TokenResult> {
    const { url, clientId, clientSecret, clientAuth, now, timeout } = this.#options;
    const form = new URLSearchParams(params);
    const headers = new Headers({
      "Content-Type": "application/x-www-form-urlencoded",
      "Accept": "application/json",
    });
    authenticate(clientAuth, clientId, clientSecret, headers, form);

    using bound = deadline(signal, timeout, "The token request timed out");
    let response: Response;
    let body: Uint8Array;
    try {
      // Credentials are never re-posted to wherever a redirect points.
      response = await this.#options.fetch(url, {
        method: "POST",
        headers,
        body: form,
        redirect: "manual",
        signal: bound.signal,
      });
    } catch (cause) {
      throw this.#failure(cause, bound.signal, "Cannot reach the token endpoint");
    }
    // expires_in counts from the response, not from the end of its body:
    // [RFC 6749 §5.1](https://www.rfc-editor.org/rfc/rfc6749#section-5.1).
    const receivedAt = now();
    try {
      body = await readBounded(response, MAX_TOKEN_RESPONSE_BYTES);
    } catch (cause) {
      throw this.#failure(cause, bound.signal, "Cannot read the token response");
    }
    const text = new TextDecoder().decode(body);
    if (response.status > 599) {
      // A Response cannot carry such a status: there is nothing to return.
      throw new TokenError(
        `Cannot obtain a token: the token endpoint answered an invalid status ${response.status}`,
        { status: response.status },
      );
    }
    if (response.status >= 200 && response.status < 300) {
      return { token: parseTokenResponse(text, receivedAt, response.status) };
    }
    return {
      errorResponse: {
        status: response.status,
        statusText: response.statusText,
        // The body is kept decoded and whole: its framing headers no longer apply.
        headers: [...response.headers].filter(([name]) => !FRAMING_HEADERS.has(name)),
        body,
        error: parseErrorResponse(text, response.status),
      },
    };
  }

  #failure(cause: unknown, signal: AbortSignal, what: string): TokenError {
    if (cause instanceof BodyTooLargeError) {
      return new TokenError(
        `Cannot read the token response: the body exceeds ${MAX_TOKEN_RESPONSE_BYTES} bytes`,
        { cause },
      );
    }
    if (signal.aborted && signal.reason instanceof DOMException) {
      if (signal.reason.name === "TimeoutError") {
        return new TokenError(
          `Cannot obtain a token: the token endpoint did not answer within ${this.#options.timeout} ms`,
          { cause: signal.reason },
        );
      }
    }
    if (signal.aborted) {
      return new TokenError("Cannot obtain a token: the token request was aborted", {
        cause: signal.reason,
      });
    }
    const reason = cause instanceof Error ? cause.message : String(cause);
    return new TokenError(`${what}: ${reason}`, { cause });
  }
}
