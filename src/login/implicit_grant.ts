/**
 * The implicit grant ([RFC 6749 §4.2](https://www.rfc-editor.org/rfc/rfc6749#section-4.2)): a
 * browser login whose redirect carries the access token in the URL fragment.
 *
 * @module
 */

import { checkKnownOptions } from "../_known_options.ts";
import { redactInspect } from "../_redact.ts";
import type { Grant, GrantContext } from "../grant.ts";
import type { Token } from "../token.ts";
import type { TokenResult } from "../token_endpoint.ts";
import { TokenError } from "../token_error.ts";
import { parseTokenResponse } from "../token_response.ts";
import { authorizationError, BrowserLogin, type InternalLoginOptions } from "./_browser_login.ts";
import { type ImplicitGrantOptions, LOOPBACK_LOGIN_OPTION_NAMES } from "./login_options.ts";

/**
 * The implicit grant: the user logs in in the browser, which is redirected
 * to a listener on 127.0.0.1 with the token in the URL fragment.
 *
 * Kept for authorization servers that offer nothing else, as the original
 * alf did; [RFC 9700 §2.1.2](https://www.rfc-editor.org/rfc/rfc9700#section-2.1.2)
 * deprecates it. Prefer {@linkcode AuthorizationCodeGrant}.
 *
 * The listener runs only during a login, on the first free port of
 * `portRange`; it stops when the login ends, times out, or the client closes.
 * The redirect's `state` must match; `expires_in` and `token_type` are used as
 * in a token response ([RFC 6749 §4.2.2](https://www.rfc-editor.org/rfc/rfc6749#section-4.2.2)).
 * There is no refresh token: a new login replaces an expired or rejected token.
 *
 * Its `iss` is checked as the authorization code grant's is
 * ([RFC 9207](https://www.rfc-editor.org/rfc/rfc9207)): a token from the wrong server
 * is refused too. It never pushes its request
 * ([RFC 9126](https://www.rfc-editor.org/rfc/rfc9126)): the servers that require pushed
 * requests (FAPI 2.0 profiles) do not offer the implicit grant, and a login at one that says so
 * in its metadata fails before the browser opens.
 *
 * @example Logging in with a scripted browser against the stand-in server
 * ```ts
 * import assert from "node:assert/strict";
 * import { Client, ImplicitGrant } from "@alf/client";
 * import { ScriptedBrowser, startAuthServer } from "@alf/client/testing";
 *
 * await using server = await startAuthServer();
 * await using browser = new ScriptedBrowser(); // stands in for the user's browser
 * await using client = new Client({
 *   tokenEndpoint: server.tokenEndpoint,
 *   clientId: "cli",
 *   grant: new ImplicitGrant({
 *     authorizationEndpoint: server.authorizationEndpoint,
 *     openBrowser: browser.open,
 *     portRange: [0, 0], // any free port; a real client registers a fixed range
 *   }),
 * });
 * const response = await client.fetch(server.resourceUrl);
 * assert(response.status === 200);
 * await response.body?.cancel();
 * ```
 */
export class ImplicitGrant implements Grant {
  /** The grant's name in storage keys. */
  readonly name = "implicit";
  /** The longest a login may take, in milliseconds: sizes the storage lease. */
  readonly timeout: number;
  readonly #login: BrowserLogin;

  static {
    redactInspect(ImplicitGrant, (grant) => ({ name: grant.name, timeout: grant.timeout }));
  }

  /**
   * Creates the grant; nothing listens until a login starts.
   *
   * @param options The authorization endpoint, port range, browser launcher
   * and login timeout.
   * @throws {TypeError} or {RangeError} when an option is malformed or
   * unknown.
   */
  constructor(options: ImplicitGrantOptions = {}) {
    checkKnownOptions(options, LOOPBACK_LOGIN_OPTION_NAMES, "ImplicitGrant");
    this.#login = new BrowserLogin("ImplicitGrant", options as InternalLoginOptions);
    this.timeout = this.#login.grantTimeout;
  }

  /**
   * Always true: every token of this grant comes from a browser login, so it
   * is not renewed early in the background.
   *
   * @returns `true`.
   */
  needsUser(): boolean {
    return true;
  }

  /**
   * Logs the user in with `response_type=token` and returns the token from
   * the redirect.
   *
   * @param context The endpoint, parameters and the client's signal.
   * @throws {TokenError} when the login fails, times out or is aborted.
   */
  obtain(context: GrantContext): Promise<TokenResult> {
    const request = new URLSearchParams({ response_type: "token" });
    return this.#login.run(context, request, (answer) => {
      const error = authorizationError(answer);
      if (error) throw error;
      return Promise.resolve({ token: tokenFromFragment(answer, context.endpoint.now()) });
    });
  }
}

/**
 * The token of an implicit redirect
 * ([RFC 6749 §4.2.2](https://www.rfc-editor.org/rfc/rfc6749#section-4.2.2)): the same members
 * as a token response, so the same parser reads them.
 */
function tokenFromFragment(answer: URLSearchParams, receivedAt: number): Token {
  // `state` and `iss` belong to the redirect (checked already), not to the token.
  const members = Object.fromEntries(
    [...answer].filter(([name]) => name !== "state" && name !== "iss"),
  );
  try {
    return parseTokenResponse(JSON.stringify(members), receivedAt, 200);
  } catch (error) {
    if (!(error instanceof TokenError)) throw error;
    // The status belongs to no HTTP response here: leave it out.
    throw new TokenError(error.message, {
      code: error.code,
      error: error.error,
      errorDescription: error.errorDescription,
      errorUri: error.errorUri,
    });
  }
}
