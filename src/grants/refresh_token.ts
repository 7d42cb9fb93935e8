/**
 * The refresh token grant ([RFC 6749 §6](https://www.rfc-editor.org/rfc/rfc6749#section-6)): a new
 * access token without the user.
 *
 * @module
 */

import { redactInspect } from "../_redact.ts";
import { checkGrant, type Grant, type GrantContext } from "../grant.ts";
import type { Token } from "../token.ts";
import type { TokenResult } from "../token_endpoint.ts";
import { TokenError } from "../token_error.ts";

/**
 * Options of {@linkcode RefreshTokenGrant}: the refresh token to start with
 * and the grant to fall back on.
 *
 * @example Without a fallback, a refused refresh token ends in the token endpoint's answer
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   AuthorizationCodeGrant,
 *   Client,
 *   RefreshTokenGrant,
 *   type RefreshTokenGrantOptions,
 * } from "@alf/client";
 * import { ScriptedBrowser, startAuthServer } from "@alf/client/testing";
 *
 * await using server = await startAuthServer();
 * await using browser = new ScriptedBrowser(); // stands in for the user's browser
 * // An earlier login, whose refresh token a script could keep.
 * await using login = new Client({
 *   tokenEndpoint: server.tokenEndpoint,
 *   clientId: "cli",
 *   grant: new AuthorizationCodeGrant({
 *     authorizationEndpoint: server.authorizationEndpoint,
 *     openBrowser: browser.open,
 *     portRange: [0, 0],
 *   }),
 * });
 * const { refreshToken } = await login.getToken();
 *
 * const options: RefreshTokenGrantOptions = { refreshToken }; // no fallback: never the browser
 * await using client = new Client({
 *   tokenEndpoint: server.tokenEndpoint,
 *   clientId: "cli",
 *   grant: new RefreshTokenGrant(options),
 * });
 * const response = await client.fetch(server.resourceUrl);
 * assert.equal(response.status, 200);
 * await response.body?.cancel();
 * assert.equal(server.tokenRequests[1]?.form.get("refresh_token"), refreshToken);
 *
 * server.revoke(); // the access token is refused: the client refreshes it...
 * server.revokeRefreshTokens(); // ...but the refresh token is refused too
 * const refused = await client.fetch(server.resourceUrl);
 * assert.equal(refused.status, 400); // the token endpoint's answer, as it is
 * assert.equal((await refused.json()).error, "invalid_grant");
 * assert.equal(browser.opened.length, 1); // the earlier login only
 * ```
 */
export interface RefreshTokenGrantOptions {
  /**
   * The refresh token to start with, e.g. one kept from an earlier login.
   * Once a token was obtained, its own refresh token is used.
   */
  refreshToken?: string;
  /**
   * The grant used when there is no refresh token, or when the token
   * endpoint answers `invalid_grant` (the refresh token expired or was
   * revoked, [RFC 6749 §5.2](https://www.rfc-editor.org/rfc/rfc6749#section-5.2)): typically a
   * browser login. Without one, those cases end in the token endpoint's error response or a
   * {@linkcode TokenError}.
   */
  fallback?: Grant;
  /**
   * A narrower scope to ask for on each refresh: a space-separated string or
   * a list. By default a refresh sends no `scope`, and the server issues the
   * scope the user granted
   * ([RFC 6749 §6](https://www.rfc-editor.org/rfc/rfc6749#section-6): a refresh may not ask for
   * scope beyond what was granted, which the client's `scope` option may be when the user
   * consented to less, [§3.3](https://www.rfc-editor.org/rfc/rfc6749#section-3.3)).
   */
  scope?: string | string[];
}

/**
 * The refresh token grant: renews the access token with the refresh token of
 * the previous one, without the user.
 *
 * A token response without a refresh token keeps the old one; a new one
 * replaces it (rotation,
 * [RFC 9700 §4.14.2](https://www.rfc-editor.org/rfc/rfc9700#section-4.14.2)). The client's
 * extra token parameters (`resource`, `audience`) are sent along; its `scope` is not, since the
 * user may have granted less ([RFC 6749 §6](https://www.rfc-editor.org/rfc/rfc6749#section-6));
 * the `scope` option narrows it.
 *
 * @example Starting from a refresh token kept elsewhere
 * ```ts
 * import assert from "node:assert/strict";
 * import { AuthorizationCodeGrant, Client, RefreshTokenGrant } from "@alf/client";
 * import { ScriptedBrowser, startAuthServer } from "@alf/client/testing";
 *
 * await using server = await startAuthServer();
 * await using browser = new ScriptedBrowser();
 * const login = {
 *   authorizationEndpoint: server.authorizationEndpoint,
 *   openBrowser: browser.open,
 *   portRange: [0, 0] as [number, number],
 * };
 * // A first login, whose refresh token a script could keep.
 * await using first = new Client({
 *   tokenEndpoint: server.tokenEndpoint,
 *   clientId: "cli",
 *   grant: new AuthorizationCodeGrant(login),
 * });
 * const { refreshToken } = await first.getToken();
 *
 * // Later: no browser, unless the refresh token is refused.
 * await using client = new Client({
 *   tokenEndpoint: server.tokenEndpoint,
 *   clientId: "cli",
 *   grant: new RefreshTokenGrant({ refreshToken, fallback: new AuthorizationCodeGrant(login) }),
 * });
 * const response = await client.fetch(server.resourceUrl);
 * assert(response.status === 200 && browser.opened.length === 1);
 * await response.body?.cancel();
 * ```
 */
export class RefreshTokenGrant implements Grant {
  /** The grant's name in storage keys: the fallback's, else `"refresh_token"`. */
  readonly name: string;
  /** The fallback's timeout, which a login makes long. */
  readonly timeout?: number;
  readonly #refreshToken?: string;
  readonly #fallback?: Grant;
  readonly #scope?: string;

  static {
    redactInspect(RefreshTokenGrant, (grant) => ({
      name: grant.name,
      fallback: grant.#fallback?.name,
    }));
  }

  /**
   * Creates the grant.
   *
   * @param options The first refresh token and the fallback grant.
   * @throws {TypeError} when an option is malformed.
   */
  constructor(options: RefreshTokenGrantOptions = {}) {
    if (typeof options !== "object" || options === null) {
      throw new TypeError("Cannot create the RefreshTokenGrant: options must be an object");
    }
    const { refreshToken, fallback, scope } = options;
    if (refreshToken !== undefined && (typeof refreshToken !== "string" || refreshToken === "")) {
      throw new TypeError(
        'Cannot create the RefreshTokenGrant: "refreshToken" must be a non-empty string',
      );
    }
    if (fallback !== undefined) checkGrant(fallback, "create the RefreshTokenGrant", "fallback");
    if (scope !== undefined) this.#scope = parseScope(scope);
    this.#refreshToken = refreshToken;
    this.#fallback = fallback;
    this.name = fallback?.name ?? "refresh_token";
    if (fallback?.timeout !== undefined) this.timeout = fallback.timeout;
  }

  /**
   * The refresh token this grant starts from, if any: two grants with
   * different refresh tokens (two users) never share a token in a storage.
   *
   * @returns The initial refresh token (hashed into the storage key), or the fallback's identity.
   */
  identity(): string | undefined {
    return this.#refreshToken ?? this.#fallback?.identity?.();
  }

  /**
   * Whether a new token needs the user: only when there is no refresh token
   * and the fallback needs the user.
   *
   * @param previous The token that would be replaced.
   * @returns `true` when `obtain` would start a browser login.
   */
  needsUser(previous: Token | undefined): boolean {
    if ((previous?.refreshToken ?? this.#refreshToken) !== undefined) return false;
    return this.#fallback?.needsUser?.(previous) ?? false;
  }

  /**
   * Sends `grant_type=refresh_token` with the previous token's refresh token,
   * or hands over to the fallback.
   *
   * @param context The endpoint, parameters, previous token and signal.
   * @throws {TokenError} when there is no refresh token and no fallback, or
   * the request fails.
   */
  async obtain(context: GrantContext): Promise<TokenResult> {
    const refreshToken = context.previous?.refreshToken ?? this.#refreshToken;
    if (refreshToken === undefined) {
      if (this.#fallback) return await this.#fallback.obtain(context);
      throw new TokenError("Cannot refresh the token: there is no refresh token");
    }
    // No scope unless narrowed: what was granted may be less than what the client asked for.
    const params = new URLSearchParams([
      ["grant_type", "refresh_token"],
      ["refresh_token", refreshToken],
      ...[...context.params].filter(([name]) => name !== "scope"),
    ]);
    if (this.#scope !== undefined) params.set("scope", this.#scope);
    const result = await context.endpoint.request(params, context.signal);
    if ("token" in result) {
      // The server may issue a new refresh token; else the old one stays valid:
      // [RFC 6749 §6](https://www.rfc-editor.org/rfc/rfc6749#section-6).
      if (result.token.refreshToken !== undefined) return result;
      return { token: { ...result.token, refreshToken } };
    }
    // A background renewal never opens the browser: the still-valid token goes
    // on being used, and the login waits until a request needs a new token.
    if (
      this.#fallback && result.errorResponse.error.error === "invalid_grant" &&
      !(context.background && this.#fallback.needsUser?.(undefined))
    ) {
      // The dead refresh token must not reach a fallback that would try it again.
      return await this.#fallback.obtain({ ...context, previous: undefined });
    }
    return result;
  }
}

function parseScope(scope: unknown): string {
  const parts = typeof scope === "string" ? [scope] : scope;
  const joined = Array.isArray(parts) && parts.every((part) => typeof part === "string")
    ? parts.join(" ").trim().split(/\s+/).filter(Boolean).join(" ")
    : "";
  if (joined === "") {
    throw new TypeError(
      'Cannot create the RefreshTokenGrant: "scope" must be a non-empty string or list of strings',
    );
  }
  return joined;
}
