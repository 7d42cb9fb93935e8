/**
 * What a token request ends in: a token, or the token endpoint's error
 * response, kept whole for every waiter, with any secret of the request that
 * it echoes redacted (an echo service or a debug page at a wrong URL).
 *
 * @module
 */

import type { Token } from "./token.ts";
import { registerErrorResponse, type TokenError } from "./token_error.ts";
import { parseErrorResponse } from "./token_response.ts";

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
  "token", // a revocation request's (RFC 7009 §2.1)
];

/**
 * The token endpoint's HTTP error, kept whole for the copies every waiter gets, with any secret
 * of our request that it echoes (an echo service or a debug page at a wrong URL) redacted.
 */
export function errorResponse(
  response: Response,
  body: Uint8Array,
  secrets: string[],
): ErrorResponse {
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
export function secretsOf(
  headers: Headers,
  form: URLSearchParams,
  clientSecret?: string,
): string[] {
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

export function redact(text: string, secrets: string[]): string {
  return secrets.reduce((result, secret) => result.replaceAll(secret, "[redacted]"), text);
}
