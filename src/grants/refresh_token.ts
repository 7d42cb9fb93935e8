/**
 * The refresh token grant ([RFC 6749 §6](https://www.rfc-editor.org/rfc/rfc6749#section-6)): a new
 * access token without the user.
 *
 * @module
 */

import { type LoginChannel, loginChannelOf } from "../_grant_token.ts";
import { checkKnownOptions } from "../_known_options.ts";
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
   * consented to less, [§3.3](https://www.rfc-editor.org/rfc/rfc6749#section-3.3)); only a
   * client whose `scope` is narrower than a login it shares with other clients asks for its own.
   */
  scope?: string | string[];
}

/** The options {@linkcode RefreshTokenGrant} knows: a misspelled one is refused. */
const REFRESH_TOKEN_GRANT_OPTION_NAMES = {
  refreshToken: true,
  fallback: true,
  scope: true,
} as const satisfies Record<keyof RefreshTokenGrantOptions, true>;

/**
 * The refresh token grant: renews the access token with the refresh token of
 * the previous one, without the user.
 *
 * A token response without a refresh token keeps the old one; a new one
 * replaces it (rotation,
 * [RFC 9700 §4.14.2](https://www.rfc-editor.org/rfc/rfc9700#section-4.14.2)). The client's
 * extra token parameters (`resource`, `audience`) are sent along; its `scope` is not, since the
 * user may have granted less ([RFC 6749 §6](https://www.rfc-editor.org/rfc/rfc6749#section-6)),
 * unless a login shared with other clients was granted more (then the client asks for its own,
 * narrowing it); the `scope` option narrows it. A login whose scope does not cover the client's
 * is not refreshed: the fallback runs, else a {@linkcode TokenError} says so. A refresh token
 * refused with `invalid_grant` is tried once more when the login record meanwhile holds another
 * (a client sharing the storage rotated it).
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
    checkKnownOptions(options, REFRESH_TOKEN_GRANT_OPTION_NAMES, "RefreshTokenGrant");
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
    const login = loginChannelOf(context);
    if (login?.uncovered !== undefined) {
      // The login was made for a scope that does not cover the client's: only a new one does.
      if (this.#mayFallBack(context)) return await this.#fallback!.obtain(context);
      throw new TokenError(
        `Cannot refresh the token: the login does not cover the scope "${login.uncovered}"`,
      );
    }
    let refreshToken = context.previous?.refreshToken ?? this.#refreshToken;
    if (refreshToken === undefined) {
      if (this.#fallback) return await this.#fallback.obtain(context);
      throw new TokenError("Cannot refresh the token: there is no refresh token");
    }
    let result = await this.#refresh(refreshToken, context, login);
    if (refused(result) && login) {
      // Another client may have rotated it meanwhile (a storage without a
      // renewal lease lets two refresh at once): the login record has the new one.
      const latest = await login.latest(refreshToken);
      if (latest !== undefined) result = await this.#refresh(refreshToken = latest, context, login);
    }
    if (refused(result) && this.#mayFallBack(context)) {
      // The dead refresh token must not reach a fallback that would try it again.
      return await this.#fallback!.obtain({ ...context, previous: undefined });
    }
    return result;
  }

  /**
   * One refresh. No `scope` unless narrowed (by the `scope` option, or to the
   * client's scope when the login's is wider): what was granted may be less
   * than what the client asked for.
   */
  async #refresh(
    refreshToken: string,
    context: GrantContext,
    login: LoginChannel | undefined,
  ): Promise<TokenResult> {
    const params = new URLSearchParams([
      ["grant_type", "refresh_token"],
      ["refresh_token", refreshToken],
      ...[...context.params].filter(([name]) => name !== "scope"),
    ]);
    const scope = this.#scope ?? login?.refreshScope;
    if (scope !== undefined) params.set("scope", scope);
    const result = await context.endpoint.request(params, context.signal);
    if (!("token" in result)) return result;
    login?.refreshed(scope);
    // The server may issue a new refresh token; else the old one stays valid:
    // [RFC 6749 §6](https://www.rfc-editor.org/rfc/rfc6749#section-6).
    if (result.token.refreshToken !== undefined) return result;
    return { token: { ...result.token, refreshToken } };
  }

  /**
   * Whether the fallback may run: a background renewal never opens the
   * browser; the still-valid token goes on being used, and the login waits
   * until a request needs a new token.
   */
  #mayFallBack(context: GrantContext): boolean {
    return this.#fallback !== undefined &&
      !(context.background && this.#fallback.needsUser?.(undefined));
  }
}

/** Whether the token endpoint refused the refresh token ([RFC 6749 §5.2](https://www.rfc-editor.org/rfc/rfc6749#section-5.2)). */
function refused(result: TokenResult): boolean {
  return "errorResponse" in result && result.errorResponse.error.error === "invalid_grant";
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
