/**
 * The JWT bearer grant: a signed JWT exchanged for an access token
 * ([RFC 7523 §2.1](https://www.rfc-editor.org/rfc/rfc7523#section-2.1)).
 *
 * @module
 */

import { checkKnownOptions } from "../_known_options.ts";
import { redactInspect } from "../_redact.ts";
import type { Grant, GrantContext } from "../grant.ts";
import type { TokenResult } from "../token_endpoint.ts";
import { TokenError } from "../token_error.ts";

/**
 * What a function that supplies an assertion or a token is told, each time a
 * token is requested.
 *
 * @example An assertion dated by the client's clock
 * ```ts
 * import type { AssertionContext } from "@alf/client";
 *
 * function claims(context: AssertionContext) {
 *   const iat = Math.floor(context.now / 1000);
 *   return { aud: context.tokenEndpoint.href, iat, exp: iat + 300 };
 * }
 * ```
 */
export interface AssertionContext {
  /** The token endpoint the request goes to (an assertion's usual `aud`). */
  tokenEndpoint: URL;
  /** The client identifier. */
  clientId: string;
  /** The client's clock now, epoch milliseconds. */
  now: number;
  /** Aborted when the token request is abandoned. */
  signal: AbortSignal;
}

/**
 * A value a grant sends: given as it is, or by a function called for each
 * token request (sync or async), so that it can be fresh (a new assertion, a
 * user's current access token from another `Client`).
 *
 * @example A token from another client
 * ```ts
 * import { Client, type CredentialSource } from "@alf/client";
 *
 * await using user = new Client({
 *   tokenEndpoint: "https://login.example.com/token",
 *   clientId: "web",
 *   clientSecret: "secret",
 * });
 * const subjectToken: CredentialSource = async ({ signal }) =>
 *   (await user.getToken({ signal })).accessToken;
 * ```
 */
export type CredentialSource =
  | string
  | ((context: AssertionContext) => string | Promise<string>);

/**
 * Options of {@linkcode JwtBearerGrant}.
 *
 * @example A fixed assertion
 * ```ts
 * import type { JwtBearerGrantOptions } from "@alf/client";
 *
 * const options: JwtBearerGrantOptions = { assertion: "eyJhbGciOiJSUzI1NiJ9.e30.c2ln" };
 * ```
 */
export interface JwtBearerGrantOptions {
  /** The JWT, or a function that signs a new one for each token request. */
  assertion: CredentialSource;
  /**
   * Whose tokens these are, when `assertion` is a function: grants with the
   * same identity share tokens in a storage. Default: the assertion when it
   * is a string; for a function, a value unique to this grant object (its
   * tokens are then never found by another process).
   */
  identity?: string;
}

/**
 * Every name of {@linkcode JwtBearerGrantOptions}: any other name is refused
 * as a misspelling.
 */
export const JWT_BEARER_GRANT_OPTION_NAMES = {
  assertion: true,
  identity: true,
} as const satisfies Record<keyof JwtBearerGrantOptions, true>;

const GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/**
 * The JWT bearer grant: sends `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`
 * with an `assertion` (RFC 7523 §2.1), plus the client's `scope` and token
 * parameters. The server answers `invalid_grant` when it refuses the
 * assertion ([§3.1](https://www.rfc-editor.org/rfc/rfc7523#section-3.1)).
 *
 * @example Signing each assertion when a token is needed
 * ```ts
 * import assert from "node:assert/strict";
 * import { Client, JwtBearerGrant } from "@alf/client";
 *
 * let signed = 0;
 * await using client = new Client({
 *   tokenEndpoint: "https://auth.example.com/token",
 *   clientId: "service",
 *   grant: new JwtBearerGrant({
 *     assertion: ({ tokenEndpoint }) => `jwt-${++signed}-for-${tokenEndpoint.host}`,
 *   }),
 * });
 * assert.match(Deno.inspect(client), /jwt_bearer/);
 * ```
 */
export class JwtBearerGrant implements Grant {
  /** The grant's name in storage keys. */
  readonly name = "jwt_bearer";
  readonly #assertion: CredentialSource;
  readonly #identity: string;

  static {
    redactInspect(JwtBearerGrant, (grant) => ({ name: grant.name }));
  }

  /**
   * Creates the grant.
   *
   * @param options The assertion, and the identity of its tokens.
   * @throws {TypeError} when an option is missing, malformed or unknown.
   */
  constructor(options: JwtBearerGrantOptions) {
    checkKnownOptions(options, JWT_BEARER_GRANT_OPTION_NAMES, "JwtBearerGrant");
    const context = "Cannot create the JwtBearerGrant";
    checkSource(options.assertion, context, "assertion");
    if (options.identity !== undefined && typeof options.identity !== "string") {
      throw new TypeError(`${context}: "identity" must be a string`);
    }
    this.#assertion = options.assertion;
    this.#identity = options.identity ??
      (typeof options.assertion === "string" ? options.assertion : crypto.randomUUID());
  }

  /**
   * Tells this grant's tokens apart from another's of the same client.
   *
   * @returns The identity (hashed into the storage key).
   */
  identity(): string {
    return this.#identity;
  }

  /**
   * Sends the assertion to the token endpoint.
   *
   * @param context The endpoint, parameters and signal.
   * @returns The token, or the token endpoint's error response.
   * @throws {TokenError} when the assertion function fails, or the request does.
   */
  async obtain(context: GrantContext): Promise<TokenResult> {
    const assertion = await resolveSource(this.#assertion, context, "assertion");
    const params = grantParams(
      [["grant_type", GRANT_TYPE], ["assertion", assertion]],
      context.params,
    );
    return await context.endpoint.request(params, context.signal);
  }
}

/**
 * Checks a {@linkcode CredentialSource} option: a non-empty string or a function.
 *
 * @throws {TypeError} when it is neither.
 */
export function checkSource(value: unknown, context: string, option: string): void {
  if (typeof value === "function" || (typeof value === "string" && value !== "")) return;
  throw new TypeError(`${context}: "${option}" must be a non-empty string or a function`);
}

/**
 * The value of a {@linkcode CredentialSource} for one token request.
 *
 * @throws {TokenError} when the function throws (a `TokenError` is passed on
 * as it is) or returns no non-empty string.
 */
export async function resolveSource(
  source: CredentialSource,
  context: GrantContext,
  option: string,
): Promise<string> {
  if (typeof source === "string") return source;
  // Outside the try: a discovery failure is the endpoint's, not the function's.
  const tokenEndpoint = await context.endpoint.resolve(context.signal);
  let value: unknown;
  try {
    value = await source({
      tokenEndpoint,
      clientId: context.endpoint.clientId,
      now: context.endpoint.now(),
      signal: context.signal,
    });
  } catch (cause) {
    if (cause instanceof TokenError) throw cause;
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new TokenError(`Cannot obtain a token: the "${option}" function failed: ${reason}`, {
      cause,
    });
  }
  if (typeof value !== "string" || value === "") {
    throw new TokenError(
      `Cannot obtain a token: the "${option}" function returned no non-empty string`,
    );
  }
  return value;
}

/**
 * A grant's form: its own parameters first, then the client's, except any
 * the grant sets itself ([RFC 6749 §3.1](https://www.rfc-editor.org/rfc/rfc6749#section-3.1):
 * none may appear twice).
 */
export function grantParams(
  own: [string, string][],
  clientParams: URLSearchParams,
): URLSearchParams {
  const names = new Set(own.map(([name]) => name));
  return new URLSearchParams([...own, ...[...clientParams].filter(([name]) => !names.has(name))]);
}
