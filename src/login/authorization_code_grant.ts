/**
 * The authorization code grant with PKCE
 * ([RFC 6749 §4.1](https://www.rfc-editor.org/rfc/rfc6749#section-4.1),
 * [RFC 7636](https://www.rfc-editor.org/rfc/rfc7636)) for native apps on a loopback port
 * ([RFC 8252](https://www.rfc-editor.org/rfc/rfc8252)), renewed with refresh tokens.
 *
 * @module
 */

import type { ClientMetadata } from "../client_registration.ts";
import { checkKnownOptions } from "../_known_options.ts";
import { redactInspect } from "../_redact.ts";
import type { Grant, GrantContext } from "../grant.ts";
import { RefreshTokenGrant } from "../grants/refresh_token.ts";
import type { Token } from "../token.ts";
import type { TokenResult } from "../token_endpoint.ts";
import { TokenError } from "../token_error.ts";
import { authorizationError, BrowserLogin, type InternalLoginOptions } from "./_browser_login.ts";
import { randomString, s256Challenge } from "./_pkce.ts";
import { checkPushSettings } from "./_pushed_request.ts";
import {
  AUTHORIZATION_CODE_GRANT_OPTION_NAMES,
  type AuthorizationCodeGrantOptions,
} from "./login_options.ts";

/**
 * The authorization code grant with PKCE: the user logs in in the browser,
 * which is redirected to a listener on 127.0.0.1 with a one-time code; the
 * client exchanges it at the token endpoint, and later renews the token with
 * its refresh token, without the browser.
 *
 * The way [RFC 8252](https://www.rfc-editor.org/rfc/rfc8252) and
 * [RFC 9700 §2.1.1](https://www.rfc-editor.org/rfc/rfc9700#section-2.1.1) recommend for command
 * line tools and scripts. Each login uses a new S256 challenge of a 32-byte verifier
 * ([RFC 7636 §4](https://www.rfc-editor.org/rfc/rfc7636#section-4)) and a random `state`; the
 * exchange sends the exact `redirect_uri` of the login
 * ([RFC 6749 §4.1.3](https://www.rfc-editor.org/rfc/rfc6749#section-4.1.3)). A refresh answered
 * with `invalid_grant` starts a new login; see {@linkcode RefreshTokenGrant}.
 *
 * The listener runs only during a login, on the first free port of
 * `portRange`; it stops when the login ends, times out, or the client closes.
 *
 * When a pushed authorization request endpoint is given or named by the
 * issuer's metadata, each login first pushes its request there with the
 * client's authentication, and the browser gets only `client_id` and
 * `request_uri` ([RFC 9126](https://www.rfc-editor.org/rfc/rfc9126)); `par: false` turns
 * this off. A redirect whose `iss` is not the issuer of the metadata, or that lacks one the
 * metadata promises, ends the login ([RFC 9207](https://www.rfc-editor.org/rfc/rfc9207)).
 *
 * @example Logging in with a scripted browser against the stand-in server
 * ```ts
 * import assert from "node:assert/strict";
 * import { AuthorizationCodeGrant, Client } from "@alf/client";
 * import { ScriptedBrowser, startAuthServer } from "@alf/client/testing";
 *
 * await using server = await startAuthServer();
 * await using browser = new ScriptedBrowser(); // stands in for the user's browser
 * await using client = new Client({
 *   tokenEndpoint: server.tokenEndpoint,
 *   clientId: "cli",
 *   grant: new AuthorizationCodeGrant({
 *     authorizationEndpoint: server.authorizationEndpoint,
 *     openBrowser: browser.open,
 *     portRange: [0, 0], // any free port; a real client registers a fixed range
 *   }),
 * });
 * const response = await client.fetch(server.resourceUrl);
 * assert(response.status === 200);
 * await response.body?.cancel();
 * assert.deepEqual(server.tokenRequests.map((r) => r.form.get("grant_type")), [
 *   "authorization_code",
 * ]);
 * ```
 */
export class AuthorizationCodeGrant implements Grant {
  /** The grant's name in storage keys. */
  readonly name = "authorization_code";
  /**
   * The longest a login and its code exchange may take, in milliseconds: sizes
   * the storage lease.
   */
  readonly timeout: number;
  readonly #login: BrowserLogin;
  readonly #refresh: RefreshTokenGrant;

  static {
    redactInspect(AuthorizationCodeGrant, (grant) => ({
      name: grant.name,
      timeout: grant.timeout,
    }));
  }

  /**
   * Creates the grant; nothing listens until a login starts.
   *
   * @param options The authorization endpoint, port range, browser launcher,
   * login timeout, and pushed authorization requests.
   * @throws {TypeError} or {RangeError} when an option is malformed or
   * unknown.
   */
  constructor(options: AuthorizationCodeGrantOptions = {}) {
    const grant = "AuthorizationCodeGrant";
    checkKnownOptions(options, AUTHORIZATION_CODE_GRANT_OPTION_NAMES, grant);
    const push = checkPushSettings(options, grant);
    this.#login = new BrowserLogin(grant, options as InternalLoginOptions, push);
    this.timeout = this.#login.grantTimeout;
    this.#refresh = new RefreshTokenGrant({
      fallback: {
        name: this.name,
        timeout: this.timeout,
        obtain: (c) => this.#logIn(c),
        needsUser: () => true,
      },
    });
  }

  /**
   * Whether a new token needs the user: when there is no refresh token to
   * renew it silently.
   *
   * @param previous The token that would be replaced.
   * @returns `true` when `obtain` would start a browser login.
   */
  needsUser(previous: Token | undefined): boolean {
    return previous?.refreshToken === undefined;
  }

  /**
   * What a dynamic registration of a client for this grant says
   * ([RFC 7591 §2](https://www.rfc-editor.org/rfc/rfc7591#section-2)): the
   * loopback redirect URIs of its port range, the authorization code and
   * refresh token grants, the `code` response type.
   *
   * @returns The client metadata to register.
   */
  registration(): ClientMetadata {
    return {
      redirect_uris: this.#login.redirectUris(),
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      // Loopback redirects at any port are a native client's (OpenID Connect
      // Dynamic Client Registration 1.0 §2, RFC 8252 §7.3): for the default
      // "web", servers such as oidc-provider match the port exactly.
      application_type: "native",
    };
  }

  /**
   * Refreshes the previous token when it has a refresh token, else logs the
   * user in.
   *
   * @param context The endpoint, parameters, previous token and signal.
   * @throws {TokenError} when the login fails, times out or is aborted.
   */
  obtain(context: GrantContext): Promise<TokenResult> {
    return this.#refresh.obtain(context);
  }

  async #logIn(context: GrantContext): Promise<TokenResult> {
    const verifier = randomString(32);
    const request = new URLSearchParams({
      response_type: "code",
      code_challenge: await s256Challenge(verifier),
      code_challenge_method: "S256",
    });
    return await this.#login.run(context, request, (answer, redirectUri) => {
      const error = authorizationError(answer);
      if (error) throw error;
      const code = answer.get("code");
      if (!code) {
        throw new TokenError("Cannot log in: the authorization server's answer has no code", {
          code: "login_failed",
        });
      }
      // [RFC 6749 §4.1.3](https://www.rfc-editor.org/rfc/rfc6749#section-4.1.3) and
      // [RFC 7636 §4.5](https://www.rfc-editor.org/rfc/rfc7636#section-4.5);
      // scope was fixed by the login.
      const params = new URLSearchParams([
        ["grant_type", "authorization_code"],
        ["code", code],
        ["redirect_uri", redirectUri],
        ["code_verifier", verifier],
        ...[...context.params].filter(([name]) => name !== "scope"),
      ]);
      return context.endpoint.request(params, context.signal);
    });
  }
}
