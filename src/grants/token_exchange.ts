/**
 * The token exchange grant: one token traded for another
 * ([RFC 8693](https://www.rfc-editor.org/rfc/rfc8693)).
 *
 * @module
 */

import { checkKnownOptions } from "../_known_options.ts";
import { redactInspect } from "../_redact.ts";
import type { Grant, GrantContext } from "../grant.ts";
import type { TokenResult } from "../token_endpoint.ts";
import { checkSource, type CredentialSource, grantParams, resolveSource } from "./jwt_bearer.ts";

/**
 * Options of {@linkcode TokenExchangeGrant}. Token types are the URIs of
 * [RFC 8693 §3](https://www.rfc-editor.org/rfc/rfc8693#section-3), such as
 * `urn:ietf:params:oauth:token-type:access_token`. The client's `tokenParams`
 * carry `audience` and `resource`, its `scope` the scope.
 *
 * @example Acting for a user, as a service
 * ```ts
 * import type { TokenExchangeGrantOptions } from "@alf/client";
 *
 * const options: TokenExchangeGrantOptions = {
 *   subjectToken: "user-access-token",
 *   subjectTokenType: "urn:ietf:params:oauth:token-type:access_token",
 *   actorToken: "service-id-token",
 *   actorTokenType: "urn:ietf:params:oauth:token-type:id_token",
 * };
 * ```
 */
export interface TokenExchangeGrantOptions {
  /** The token of the party the new token is for, or a function called per request. */
  subjectToken: CredentialSource;
  /** The subject token's type URI. */
  subjectTokenType: string;
  /** The token of the party acting for the subject (delegation), if any. */
  actorToken?: CredentialSource;
  /** The actor token's type URI; required with `actorToken`, not allowed without. */
  actorTokenType?: string;
  /** The type of token wanted. Default: the server's choice (usually an access token). */
  requestedTokenType?: string;
  /**
   * Whose tokens these are, when a token is a function: grants with the same
   * identity share tokens in a storage. Default: the tokens when they are
   * strings; with a function, a value unique to this grant object, so two
   * users' grants never share a token.
   */
  identity?: string;
}

/**
 * Every name of {@linkcode TokenExchangeGrantOptions}: any other name is
 * refused as a misspelling.
 */
export const TOKEN_EXCHANGE_GRANT_OPTION_NAMES = {
  subjectToken: true,
  subjectTokenType: true,
  actorToken: true,
  actorTokenType: true,
  requestedTokenType: true,
  identity: true,
} as const satisfies Record<keyof TokenExchangeGrantOptions, true>;

const GRANT_TYPE = "urn:ietf:params:oauth:grant-type:token-exchange";

/**
 * The token exchange grant: sends `subject_token` (and `actor_token`) with
 * their types, and gets a new token for `audience`/`resource`
 * ([RFC 8693 §2.1](https://www.rfc-editor.org/rfc/rfc8693#section-2.1)).
 *
 * The response's `issued_token_type`
 * ([§2.2.1](https://www.rfc-editor.org/rfc/rfc8693#section-2.2.1)) is kept
 * in the token's `extra`, like every member the client does not interpret.
 *
 * @example Exchanging a user's token for one to a downstream API
 * ```ts
 * import { Client, TokenExchangeGrant } from "@alf/client";
 *
 * await using user = new Client({
 *   tokenEndpoint: "https://login.example.com/token",
 *   clientId: "web",
 *   clientSecret: "secret",
 * });
 * await using downstream = new Client({
 *   tokenEndpoint: "https://login.example.com/token",
 *   clientId: "gateway",
 *   clientSecret: "gateway-secret",
 *   tokenParams: { audience: "https://orders.example.com" },
 *   grant: new TokenExchangeGrant({
 *     subjectToken: async ({ signal }) => (await user.getToken({ signal })).accessToken,
 *     subjectTokenType: "urn:ietf:params:oauth:token-type:access_token",
 *   }),
 * });
 * ```
 */
export class TokenExchangeGrant implements Grant {
  /** The grant's name in storage keys. */
  readonly name = "token_exchange";
  readonly #subjectToken: CredentialSource;
  readonly #subjectTokenType: string;
  readonly #actorToken?: CredentialSource;
  readonly #actorTokenType?: string;
  readonly #requestedTokenType?: string;
  readonly #identity: string;

  static {
    redactInspect(TokenExchangeGrant, (grant) => ({
      name: grant.name,
      subjectTokenType: grant.#subjectTokenType,
      actorTokenType: grant.#actorTokenType,
      requestedTokenType: grant.#requestedTokenType,
    }));
  }

  /**
   * Creates the grant.
   *
   * @param options The tokens, their types and the type wanted.
   * @throws {TypeError} when an option is missing, malformed or unknown.
   */
  constructor(options: TokenExchangeGrantOptions) {
    checkKnownOptions(options, TOKEN_EXCHANGE_GRANT_OPTION_NAMES, "TokenExchangeGrant");
    const context = "Cannot create the TokenExchangeGrant";
    const { subjectToken, actorToken, identity } = options;
    checkSource(subjectToken, context, "subjectToken");
    checkTokenType(options.subjectTokenType, context, "subjectTokenType");
    if ((actorToken === undefined) !== (options.actorTokenType === undefined)) {
      // RFC 8693 §2.1: actor_token_type is required with actor_token, and only then.
      throw new TypeError(`${context}: give "actorToken" and "actorTokenType" together`);
    }
    if (actorToken !== undefined) {
      checkSource(actorToken, context, "actorToken");
      checkTokenType(options.actorTokenType, context, "actorTokenType");
    }
    if (options.requestedTokenType !== undefined) {
      checkTokenType(options.requestedTokenType, context, "requestedTokenType");
    }
    if (identity !== undefined && typeof identity !== "string") {
      throw new TypeError(`${context}: "identity" must be a string`);
    }
    this.#subjectToken = subjectToken;
    this.#subjectTokenType = options.subjectTokenType;
    this.#actorToken = actorToken;
    this.#actorTokenType = options.actorTokenType;
    this.#requestedTokenType = options.requestedTokenType;
    const fixed = typeof subjectToken === "string" && typeof (actorToken ?? "") === "string";
    this.#identity = identity ??
      (fixed
        ? JSON.stringify([
          subjectToken,
          options.subjectTokenType,
          actorToken ?? null,
          options.actorTokenType ?? null,
          options.requestedTokenType ?? null,
        ])
        : crypto.randomUUID());
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
   * Sends the exchange request.
   *
   * @param context The endpoint, parameters and signal.
   * @returns The token (with `extra.issued_token_type`), or the token endpoint's error response.
   * @throws {TokenError} when a token function fails, or the request does.
   */
  async obtain(context: GrantContext): Promise<TokenResult> {
    const own: [string, string][] = [
      ["grant_type", GRANT_TYPE],
      ["subject_token", await resolveSource(this.#subjectToken, context, "subjectToken")],
      ["subject_token_type", this.#subjectTokenType],
    ];
    if (this.#actorToken !== undefined && this.#actorTokenType !== undefined) {
      own.push(
        ["actor_token", await resolveSource(this.#actorToken, context, "actorToken")],
        ["actor_token_type", this.#actorTokenType],
      );
    }
    if (this.#requestedTokenType !== undefined) {
      own.push(["requested_token_type", this.#requestedTokenType]);
    }
    return await context.endpoint.request(grantParams(own, context.params), context.signal);
  }
}

function checkTokenType(value: unknown, context: string, option: string): void {
  if (typeof value !== "string" || value === "") {
    throw new TypeError(`${context}: "${option}" must be a token type URI`);
  }
  if (!value.includes(":")) {
    // A bare name is a common slip: RFC 8693 §3 types are URIs.
    throw new TypeError(
      `${context}: "${option}" must be a token type URI, such as "urn:ietf:params:oauth:token-type:${value}"`,
    );
  }
}
