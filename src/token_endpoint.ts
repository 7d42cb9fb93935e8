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
import { registerErrorResponse, TokenError } from "./token_error.ts";
import { parseErrorResponse, parseTokenResponse } from "./token_response.ts";

/** Headers that describe how the body was sent, not what it is. */
const FRAMING_HEADERS = new Set(["content-encoding", "content-length", "transfer-encoding"]);

/**
 * Headers the returned error response leaves out besides the framing ones: the token endpoint's
 * cookies and authentication challenges are not the resource's, and a caller could mistake them
 * for it.
 */
const ENDPOINT_ONLY_HEADERS = new Set([
  "set-cookie",
  "set-cookie2",
  "www-authenticate",
  "proxy-authenticate",
]);

/** Form parameters that carry a secret of the request, never echoed into what callers get. */
const SECRET_PARAMS = [
  "client_secret",
  "client_assertion",
  "refresh_token",
  "code",
  "code_verifier",
  "assertion",
  "subject_token",
  "actor_token",
  "password",
  "device_code",
];

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
  /**
   * The response headers (the returned `Response` leaves out `Set-Cookie`, `Set-Cookie2`,
   * `WWW-Authenticate`, `Proxy-Authenticate` and the framing headers).
   */
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

/**
 * Rebuilds a fresh `Response` from an {@linkcode ErrorResponse}, without the token endpoint's
 * cookies and challenges, and registers it for {@linkcode TokenError.fromResponse}.
 */
export function toResponse(error: ErrorResponse): Response {
  const response = new Response(error.body.byteLength === 0 ? null : error.body.slice(), {
    status: error.status,
    statusText: error.statusText,
    headers: error.headers.filter(([name]) => {
      const lower = name.toLowerCase();
      return !FRAMING_HEADERS.has(lower) && !ENDPOINT_ONLY_HEADERS.has(lower);
    }),
  });
  return registerErrorResponse(response, error.error);
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
      throw this.#failure(cause, bound.signal, "Cannot read the token response", response.status);
    }
    const { status } = response;
    if (status > 599) {
      // A Response cannot carry such a status: there is nothing to return.
      throw new TokenError(
        `Cannot obtain a token: the token endpoint answered an invalid status ${status}`,
        { code: "invalid_response", status },
      );
    }
    if (status >= 200 && status < 300) {
      return { token: parseTokenResponse(new TextDecoder().decode(body), receivedAt, status) };
    }
    return { errorResponse: errorResponse(response, body, secretsOf(headers, form, clientSecret)) };
  }

  #failure(cause: unknown, signal: AbortSignal, what: string, status?: number): TokenError {
    if (cause instanceof BodyTooLargeError) {
      return new TokenError(
        `Cannot read the token response: the body exceeds ${MAX_TOKEN_RESPONSE_BYTES} bytes`,
        { code: "invalid_response", status, cause },
      );
    }
    if (signal.aborted && signal.reason instanceof DOMException) {
      if (signal.reason.name === "TimeoutError") {
        return new TokenError(
          `Cannot obtain a token: the token endpoint did not answer within ${this.#options.timeout} ms`,
          { code: "timeout", cause: signal.reason },
        );
      }
    }
    if (signal.aborted) {
      return new TokenError("Cannot obtain a token: the token request was aborted", {
        code: "aborted",
        cause: signal.reason,
      });
    }
    const reason = cause instanceof Error ? cause.message : String(cause);
    return new TokenError(`${what}: ${reason}`, { code: "network_error", cause });
  }
}

/**
 * The token endpoint's HTTP error, kept whole for the copies every waiter gets, with any secret
 * of our request that it echoes (an echo service or a debug page at a wrong URL) redacted.
 */
function errorResponse(response: Response, body: Uint8Array, secrets: string[]): ErrorResponse {
  const text = new TextDecoder().decode(body);
  const redacted = redact(text, secrets);
  // The body is kept decoded and whole: its framing headers no longer apply.
  const headers = [...response.headers]
    .filter(([name]) => !FRAMING_HEADERS.has(name))
    .map(([name, value]): [string, string] => [name, redact(value, secrets)]);
  return {
    status: response.status,
    statusText: redact(response.statusText, secrets),
    headers,
    body: redacted === text ? body : new TextEncoder().encode(redacted),
    error: parseErrorResponse(redacted, response.status, headers),
  };
}

/**
 * Shortest value redacted: a shorter one would blank out ordinary words of an error page, and is
 * no secret worth the name.
 */
const MIN_REDACTED = 8;

/**
 * The secrets a token request carries (the Authorization header, the client secret, the secret
 * form parameters), longest first, each also as a form, a URL and a JSON string encode it.
 */
function secretsOf(headers: Headers, form: URLSearchParams, clientSecret?: string): string[] {
  const values = SECRET_PARAMS.flatMap((name) => form.getAll(name));
  const authorization = headers.get("authorization");
  if (authorization !== null) values.push(authorization, authorization.replace(/^\S+\s+/, ""));
  if (clientSecret !== undefined) values.push(clientSecret);
  const variants = values.filter((value) => value.length >= MIN_REDACTED).flatMap((value) => [
    value,
    encodeURIComponent(value),
    new URLSearchParams([["", value]]).toString().slice(1),
    JSON.stringify(value).slice(1, -1),
  ]);
  return [...new Set(variants)].sort((a, b) => b.length - a.length);
}

function redact(text: string, secrets: string[]): string {
  return secrets.reduce((result, secret) => result.replaceAll(secret, "[redacted]"), text);
}
