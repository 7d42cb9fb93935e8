/**
 * The failures the stand-in {@linkcode AuthServer}'s endpoints answer with
 * when a test scripts them.
 *
 * @module
 */

/**
 * A scripted answer to the next token requests, for
 * {@linkcode AuthServer.failTokenRequests}.
 *
 * @example A rate-limited token endpoint, then a good one
 * ```ts
 * import assert from "node:assert/strict";
 * import { startAuthServer, type TokenFailure } from "@alf/client/testing";
 *
 * await using server = await startAuthServer();
 * const failure: TokenFailure = {
 *   status: 429,
 *   body: JSON.stringify({ error: "slow_down" }),
 *   headers: { "Content-Type": "application/json", "Retry-After": "1" },
 * };
 * server.failTokenRequests(1, failure);
 * const requestToken = () =>
 *   fetch(server.tokenEndpoint, {
 *     method: "POST",
 *     body: new URLSearchParams({ grant_type: "client_credentials" }),
 *   });
 *
 * const refused = await requestToken(); // the scripted answer
 * assert.equal(refused.status, 429);
 * assert.equal(refused.headers.get("retry-after"), "1");
 * assert.deepEqual(await refused.json(), { error: "slow_down" });
 *
 * const granted = await requestToken(); // only one request failed
 * assert.equal(granted.status, 200);
 * await granted.body?.cancel();
 * assert.equal(server.issuedTokens.length, 1);
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
