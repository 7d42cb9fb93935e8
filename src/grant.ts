/**
 * A grant: one way of obtaining a token
 * ([RFC 6749 §1.3](https://www.rfc-editor.org/rfc/rfc6749#section-1.3)).
 *
 * @module
 */

import type { ClientMetadata } from "./client_registration.ts";
import { ClientCredentialsGrant } from "./grants/client_credentials.ts";
import type { Token } from "./token.ts";
import type { TokenEndpoint, TokenResult } from "./token_endpoint.ts";

/**
 * What a {@linkcode Grant} is given each time it must obtain a token.
 *
 * @example Reading the context in a grant
 * ```ts
 * import type { GrantContext, TokenResult } from "@alf/client";
 *
 * function obtain(context: GrantContext): Promise<TokenResult> {
 *   const refreshToken = context.previous?.refreshToken;
 *   const params = new URLSearchParams({ grant_type: "refresh_token" });
 *   if (refreshToken) params.set("refresh_token", refreshToken);
 *   return context.endpoint.request(params, context.signal);
 * }
 * ```
 */
export interface GrantContext {
  /** The token endpoint, with the client's authentication and timeout. */
  endpoint: TokenEndpoint;
  /** Parameters every token request of this client carries (`scope`, `audience`, ...). */
  params: URLSearchParams;
  /** The token being replaced, if any (a refresh token grant reads it); may be frozen: read it only. */
  previous?: Token;
  /** Aborted when the client closes, or when the grant runs past its time. */
  signal: AbortSignal;
  /**
   * True for an early renewal in the background, while the current token is
   * still valid: the grant must not start anything that needs the user (a
   * browser login) and should return its failure instead; the login then
   * happens when the token is really needed.
   */
  background?: boolean;
}

/**
 * A way to obtain a token: client credentials, refresh token, a browser login.
 *
 * The token provider calls `obtain` at most once at a time per token key, and
 * keeps, shares and renews what it returns. A grant that talks to the token
 * endpoint sends its form through `context.endpoint.request()`, which adds the
 * client's authentication, the timeout and the response parsing.
 *
 * @example A custom grant (RFC 7523 JWT bearer assertion)
 * ```ts
 * import assert from "node:assert/strict";
 * import { Client, type Grant, type GrantContext, type TokenResult } from "@alf/client";
 *
 * class JwtBearerGrant implements Grant {
 *   readonly name = "jwt_bearer";
 *   constructor(readonly assertion: () => string) {}
 *   obtain(context: GrantContext): Promise<TokenResult> {
 *     const params = new URLSearchParams([
 *       ["grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"],
 *       ["assertion", this.assertion()],
 *       ...context.params,
 *     ]);
 *     return context.endpoint.request(params, context.signal);
 *   }
 * }
 *
 * await using client = new Client({
 *   tokenEndpoint: "https://auth.example.com/token",
 *   clientId: "id",
 *   grant: new JwtBearerGrant(() => "eyJhbGciOi..."),
 * });
 * assert.match(Deno.inspect(client), /jwt_bearer/);
 * ```
 */
export interface Grant {
  /** Names the grant in the token's storage key, e.g. `"client_credentials"`. */
  readonly name: string;
  /**
   * The longest `obtain` may take, in milliseconds, when it is longer than a
   * token request (a browser login); sizes the storage lease.
   */
  readonly timeout?: number;
  /**
   * Whether obtaining a token now would need the user (a browser login).
   * Such a grant is not renewed early in the background: its token is used
   * until it expires or is rejected. Absent means never.
   *
   * @param previous The token that would be replaced, if any.
   */
  needsUser?(previous: Token | undefined): boolean;
  /**
   * Names whom this grant's tokens are for (for example whose refresh token
   * it starts from), so that grants with the same `name` and client for two
   * users never share a token through one storage. Hashed into the storage
   * key; never stored in clear.
   *
   * It also decides the default storage: a client created without `storage`
   * shares the process-wide `MemoryTokenStorage.shared` only when its grant
   * is the client credentials grant (the client is the principal, and its id
   * and credential are in the key) or `identity()` returns a string. A grant
   * without it (a browser login, a custom grant) gets a storage of the
   * client's own, since nothing in the key tells its users apart: define it
   * to opt in to sharing.
   *
   * @returns A string that identifies the grant's principal, or `undefined`
   *   when the grant cannot name one (its tokens are then not shared by
   *   default).
   */
  identity?(): string | undefined;
  /**
   * What a dynamic registration of a client for this grant must say
   * ([RFC 7591 §2](https://www.rfc-editor.org/rfc/rfc7591#section-2)): its
   * redirect URIs, grant types and response types. Asked when a client
   * without `clientId` registers itself (see the `protectedResource` option).
   * Absent: `grant_types` `authorization_code` and `refresh_token`.
   */
  registration?(): ClientMetadata;
  /**
   * Obtains a new token, or the token endpoint's error response.
   *
   * @param context The endpoint, parameters, previous token and signal.
   * @throws {TokenError} when no token and no error response can be had.
   */
  obtain(context: GrantContext): Promise<TokenResult>;
}

/**
 * Whether a grant's storage key names whom its tokens are for, so that
 * clients without a `storage` of their own may share the process-wide one:
 * the client credentials grant itself (not a subclass, which may ask for
 * something else), or a grant whose `identity()` returns a string. Asked
 * once, when the client is created.
 *
 * @param grant The client's grant.
 * @returns `true` when the key tells its principals apart.
 */
export function namesPrincipal(grant: Grant): boolean {
  if (Object.getPrototypeOf(grant) === ClientCredentialsGrant.prototype) return true;
  try {
    return typeof grant.identity === "function" && typeof grant.identity() === "string";
  } catch {
    return false; // not shared; the client reports the failure when it makes the key
  }
}

/**
 * Checks that a value can serve as a {@linkcode Grant}: it has a `name` and
 * an `obtain()` method.
 *
 * @param grant The value given as a grant.
 * @param context What is being created, for the message: `create the client`, ...
 * @param option The option's name, for the message: `grant`, `fallback`.
 * @throws {TypeError} when it is not a grant.
 */
export function checkGrant(grant: unknown, context: string, option: string): Grant {
  const candidate = grant as Partial<Grant> | null;
  if (typeof candidate?.obtain !== "function" || typeof candidate.name !== "string") {
    throw new TypeError(`Cannot ${context}: "${option}" must have a name and an obtain() method`);
  }
  return candidate as Grant;
}
