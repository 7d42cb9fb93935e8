/**
 * One place that turns a token endpoint's response into a {@linkcode Token}
 * or a {@linkcode TokenError} (RFC 6749 §5.1 and §5.2).
 *
 * @module
 */

import { isFormContentType, parseFormBody } from "./_form_response.ts";
import { isSendableAccessToken, sendableTokenType, type Token } from "./token.ts";
import { TokenError, type TokenErrorOptions } from "./token_error.ts";

/** Members of RFC 6749 §5.1 that become fields of {@linkcode Token}. */
const KNOWN = new Set(["access_token", "token_type", "expires_in", "refresh_token", "scope"]);

/** Longest lifetime we keep: ten years, so `expiresAt` stays a safe integer. */
const MAX_EXPIRES_IN_SECONDS = 10 * 365 * 24 * 3600;

/**
 * Parses a successful (2xx) token response body.
 *
 * A usable `access_token` makes it a success whatever other members say: an `error` member next
 * to it (`"error": ""` included) is ignored like any unknown member
 * ([RFC 6749 §5.1](https://www.rfc-editor.org/rfc/rfc6749#section-5.1)). Without a usable token,
 * an `error` member names the failure (some servers answer 200 with an
 * [§5.2](https://www.rfc-editor.org/rfc/rfc6749#section-5.2) error object).
 *
 * A body whose `Content-Type` is `application/x-www-form-urlencoded` is read
 * as a form with the same members (GitHub answers so without
 * `Accept: application/json`, as do some older servers); any other body as JSON.
 *
 * @param text The response body as text.
 * @param receivedAt When the response arrived, epoch milliseconds.
 * @param status The HTTP status, carried by errors.
 * @param contentType The response's `Content-Type`, if any.
 * @throws {TokenError} (code `invalid_response`) when the body is not a usable token response.
 */
export function parseTokenResponse(
  text: string,
  receivedAt: number,
  status: number,
  contentType?: string | null,
): Token {
  const form = isFormContentType(contentType);
  const json = form ? parseFormBody(text) : parseJsonObject(text);
  if (json === undefined) {
    const what = form ? "a form with each member once" : "a JSON object";
    throw invalid(`Cannot parse token response: the body is not ${what}`, status);
  }
  try {
    return readToken(json, receivedAt, status);
  } catch (error) {
    const fields = parseErrorFields(json);
    if (fields === undefined || fields.error === "") throw error;
    throw endpointError(fields, { code: "invalid_response", status });
  }
}

function readToken(json: Record<string, unknown>, receivedAt: number, status: number): Token {
  const accessToken = json.access_token;
  if (typeof accessToken !== "string" || accessToken === "") {
    throw invalid(
      'Cannot parse token response: "access_token" is missing or not a non-empty string',
      status,
    );
  }
  if (!isSendableAccessToken(accessToken)) {
    throw invalid(
      'Cannot parse token response: "access_token" contains characters a header cannot carry',
      status,
    );
  }
  const rawType = json.token_type ?? "Bearer";
  const tokenType = sendableTokenType(rawType);
  if (tokenType === undefined) {
    throw invalid(
      `Cannot use the token response: token type ${JSON.stringify(rawType)} is not supported`,
      status,
    );
  }
  const token: Token = { accessToken, tokenType, issuedAt: receivedAt };
  const expiresIn = parseExpiresIn(json.expires_in, status);
  if (expiresIn !== undefined) token.expiresAt = receivedAt + expiresIn * 1000;
  if (typeof json.refresh_token === "string" && json.refresh_token !== "") {
    token.refreshToken = json.refresh_token;
  }
  if (typeof json.scope === "string") token.scope = json.scope;
  const extra = Object.entries(json).filter(([name]) => !KNOWN.has(name));
  if (extra.length > 0) token.extra = Object.fromEntries(extra);
  return token;
}

/**
 * Builds the {@linkcode TokenError} (code `http_error`) for an HTTP error response
 * ([RFC 6749 §5.2](https://www.rfc-editor.org/rfc/rfc6749#section-5.2)), using its JSON members
 * (or its form members, when its `Content-Type` says it is a form) when it has them.
 *
 * @param text The response body as text (may be anything); the error keeps it.
 * @param status The HTTP status.
 * @param headers The response headers; the error keeps a copy.
 */
export function parseErrorResponse(
  text: string,
  status: number,
  headers?: HeadersInit,
): TokenError {
  const contentType = headers === undefined ? null : new Headers(headers).get("content-type");
  const json = isFormContentType(contentType) ? parseFormBody(text) : parseJsonObject(text);
  const fields = json === undefined ? undefined : parseErrorFields(json);
  const response = { code: "http_error", status, headers, body: text } as const;
  if (fields !== undefined) return endpointError(fields, response);
  return new TokenError(`Cannot obtain a token: the token endpoint answered ${status}`, response);
}

/**
 * The error fields of an error response
 * ([RFC 6749 §5.2](https://www.rfc-editor.org/rfc/rfc6749#section-5.2)), as
 * {@linkcode TokenError} carries them.
 */
export interface ErrorFields {
  /** The `error` code. */
  error: string;
  /** The `error_description`, when it is a string. */
  errorDescription?: string;
  /** The `error_uri`, when it is a string. */
  errorUri?: string;
}

/**
 * Reads the error fields of a token endpoint's error response (RFC 6749 §5.2),
 * or of an authorization server's error redirect, which has the same members
 * ([§4.1.2.1](https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2.1),
 * [§4.2.2.1](https://www.rfc-editor.org/rfc/rfc6749#section-4.2.2.1)).
 *
 * @param members The JSON body's members, or the redirect's parameters.
 * @returns The fields, or `undefined` when `error` is not a string: no error.
 */
export function parseErrorFields(
  members: Record<string, unknown> | URLSearchParams,
): ErrorFields | undefined {
  const read = (name: string): string | undefined => {
    const value = members instanceof URLSearchParams ? members.get(name) : members[name];
    return typeof value === "string" ? value : undefined;
  };
  const error = read("error");
  if (error === undefined) return undefined;
  return { error, errorDescription: read("error_description"), errorUri: read("error_uri") };
}

/** How a message shows error fields: `error: description`, or `error` alone. */
export function errorDetail(fields: ErrorFields): string {
  return fields.errorDescription ? `${fields.error}: ${fields.errorDescription}` : fields.error;
}

function endpointError(
  fields: ErrorFields,
  options: TokenErrorOptions & { status: number },
): TokenError {
  return new TokenError(
    `Cannot obtain a token: the token endpoint answered ${options.status} (${errorDetail(fields)})`,
    { ...options, ...fields },
  );
}

function invalid(message: string, status: number): TokenError {
  return new TokenError(message, { code: "invalid_response", status });
}

/** The JSON object in `text`, or `undefined` when it is not one (an array, a string, bad JSON). */
export function parseJsonObject(text: string): Record<string, unknown> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  return value as Record<string, unknown>;
}

/** `expires_in` in seconds: a number or a numeric string (seen in the wild). */
function parseExpiresIn(value: unknown, status: number): number | undefined {
  if (value === undefined || value === null) return undefined;
  const seconds = typeof value === "number"
    ? value
    : typeof value === "string" && /^\s*-?\d+(\.\d+)?\s*$/.test(value)
    ? Number(value)
    : NaN;
  if (Number.isNaN(seconds)) {
    throw invalid('Cannot parse token response: "expires_in" is not a number', status);
  }
  // JSON's 1e400 parses as Infinity: as huge as 1e300, and capped the same way.
  return Math.max(-MAX_EXPIRES_IN_SECONDS, Math.min(seconds, MAX_EXPIRES_IN_SECONDS));
}
