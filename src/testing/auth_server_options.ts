/**
 * How a test sets up the stand-in {@linkcode AuthServer}: the options it starts
 * with, and the failures its endpoints answer with when scripted to.
 *
 * @module
 */

/**
 * Options of {@linkcode startAuthServer}: the credentials it requires, the
 * lifetime of its tokens and its clock.
 *
 * @example A server that checks the credentials and lets tokens expire on its own clock
 * ```ts
 * import assert from "node:assert/strict";
 * import { Client, TokenError } from "@alf/client";
 * import { type AuthServerOptions, startAuthServer } from "@alf/client/testing";
 *
 * let now = 1_000_000; // one clock for the server and the client, moved by hand
 * const options: AuthServerOptions = {
 *   clientId: "id",
 *   clientSecret: "secret",
 *   expiresIn: 60,
 *   now: () => now,
 * };
 * await using server = await startAuthServer(options);
 *
 * await using intruder = new Client({
 *   tokenEndpoint: server.tokenEndpoint,
 *   clientId: "id",
 *   clientSecret: "guess",
 * });
 * await assert.rejects(
 *   intruder.getToken(),
 *   (error) => error instanceof TokenError && error.error === "invalid_client",
 * );
 *
 * await using client = new Client({
 *   tokenEndpoint: server.tokenEndpoint,
 *   clientId: "id",
 *   clientSecret: "secret",
 *   now: () => now,
 * });
 * const token = await client.getToken();
 * assert.equal(token.expiresAt, now + 60_000);
 * assert(server.accepts(token.accessToken));
 * now += 60_000;
 * assert(!server.accepts(token.accessToken)); // expired on the server's clock
 * ```
 */
export interface AuthServerOptions {
  /**
   * The `expires_in` of issued tokens, in seconds; `null` leaves it out.
   * Default: 3600. Change it later with {@linkcode AuthServer.expiresIn}.
   */
  expiresIn?: number | null;
  /** When set, token requests must authenticate with this client id. */
  clientId?: string;
  /** When set, token requests must authenticate with this secret (Basic or form). */
  clientSecret?: string;
  /** The server's clock for token expiry, epoch milliseconds. Default: `Date.now`. */
  now?: () => number;
  /** The port to listen on. Default: 0, any free port. */
  port?: number;
  /**
   * Whether each refresh issues a new refresh token and revokes the old one
   * (rotation, [RFC 9700 §4.14.2](https://www.rfc-editor.org/rfc/rfc9700#section-4.14.2)).
   * Default: `false`, the refresh response carries no refresh token and the
   * old one stays valid.
   */
  rotateRefreshTokens?: boolean;
}

/**
 * A scripted answer to the next token requests, for
 * {@linkcode AuthServer.failTokenRequests}.
 *
 * @example A rate-limited token endpoint, then a good one
 * ```ts
 * import assert from "node:assert/strict";
 * import { Client } from "@alf/client";
 * import { startAuthServer, type TokenFailure } from "@alf/client/testing";
 *
 * await using server = await startAuthServer();
 * const failure: TokenFailure = {
 *   status: 429,
 *   body: JSON.stringify({ error: "slow_down" }),
 *   headers: { "Content-Type": "application/json", "Retry-After": "1" },
 * };
 * server.failTokenRequests(1, failure);
 * await using client = new Client({ tokenEndpoint: server.tokenEndpoint, clientId: "id" });
 *
 * const refused = await client.fetch(server.resourceUrl); // the token endpoint's answer
 * assert.equal(refused.status, 429);
 * assert.equal(refused.headers.get("retry-after"), "1");
 * await refused.body?.cancel();
 *
 * const response = await client.fetch(server.resourceUrl); // only one request failed
 * assert.equal(response.status, 200);
 * await response.body?.cancel();
 * assert.equal(server.resourceRequests.length, 1);
 * ```
 */
export interface TokenFailure {
  /** The HTTP status. Default: 500. */
  status?: number;
  /** The body. Default: `{"error":"server_error"}`. */
  body?: BodyInit;
  /** The headers. Default: `Content-Type: application/json`. */
  headers?: HeadersInit;
}

/**
 * A scripted error redirect of the authorization endpoint
 * ([RFC 6749 §4.1.2.1](https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2.1)),
 * for `AuthServer.failAuthorizations`.
 *
 * @example An authorization server that refuses the requested scope
 * ```ts
 * import assert from "node:assert/strict";
 * import { AuthorizationCodeGrant, Client, TokenError } from "@alf/client";
 * import {
 *   type AuthorizationFailure,
 *   ScriptedBrowser,
 *   startAuthServer,
 * } from "@alf/client/testing";
 *
 * await using server = await startAuthServer();
 * const failure: AuthorizationFailure = {
 *   error: "invalid_scope",
 *   errorDescription: "Unknown scope: admin",
 * };
 * server.failAuthorizations(1, failure);
 * await using browser = new ScriptedBrowser();
 * await using client = new Client({
 *   tokenEndpoint: server.tokenEndpoint,
 *   clientId: "cli",
 *   scope: "admin",
 *   grant: new AuthorizationCodeGrant({
 *     authorizationEndpoint: server.authorizationEndpoint,
 *     openBrowser: browser.open,
 *     portRange: [0, 0],
 *   }),
 * });
 * await assert.rejects(client.getToken(), (error) => {
 *   assert(error instanceof TokenError);
 *   assert.equal(error.error, "invalid_scope");
 *   assert.equal(error.errorDescription, "Unknown scope: admin");
 *   return true;
 * });
 * assert.equal(server.tokenRequests.length, 0); // no code, nothing to exchange
 * ```
 */
export interface AuthorizationFailure {
  /** The `error` code. Default: `"access_denied"`. */
  error?: string;
  /** The `error_description`. */
  errorDescription?: string;
}
