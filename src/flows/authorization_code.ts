/**
 * `useAuthorizationCodeFlow`: the process-wide browser login with the
 * authorization code grant and PKCE.
 *
 * @module
 */

import { AuthorizationCodeGrant } from "../grants/authorization_code.ts";
import type { TokenStorage } from "../storage/token_storage.ts";
import { DEFAULT_PORT_RANGE, type LoginOptions, type PortRange } from "./browser_login.ts";
import { type BrowserFlow, installFlow } from "./installed.ts";

/**
 * Options of {@linkcode useAuthorizationCodeFlow}: where the user logs in,
 * how the browser is opened, and how long a login may take. The ports are the
 * function's second argument.
 *
 * @example The default authorization endpoint, next to the token endpoint
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   type AuthorizationCodeFlowOptions,
 *   Client,
 *   MemoryTokenStorage,
 *   useAuthorizationCodeFlow,
 * } from "@alf/client";
 * import { ScriptedBrowser, startAuthServer } from "@alf/client/testing";
 *
 * await using server = await startAuthServer(); // also serves /token/authorize
 * await using browser = new ScriptedBrowser(); // stands in for the user's browser
 * const options: AuthorizationCodeFlowOptions = { openBrowser: browser.open };
 * await using flow = await useAuthorizationCodeFlow(new MemoryTokenStorage(), [0, 0], options);
 * await using client = new Client({ tokenEndpoint: server.tokenEndpoint, clientId: "cli" });
 * const token = await client.getToken();
 * assert(browser.opened[0].startsWith(`${server.tokenEndpoint}/authorize?response_type=code&`));
 * assert(token.refreshToken !== undefined);
 * ```
 */
export type AuthorizationCodeFlowOptions = LoginOptions;

/**
 * Like {@linkcode useImplicitFlow}, with the authorization code grant and
 * PKCE: the recommended browser login (RFC 8252, RFC 9700).
 *
 * Every client created afterwards without a grant of its own logs the user in
 * through the browser, exchanges the code at its token endpoint, keeps the
 * token in `storage`, and renews it with the refresh token, without the
 * browser while the refresh token is good. For a single client, pass a grant
 * instead: {@linkcode AuthorizationCodeGrant}.
 *
 * @param storage Where the token is kept (a `KvTokenStorage` keeps it across runs).
 * @param portRange The inclusive range of ports to try. Default: `[32000, 32009]`.
 * @param options The authorization endpoint, browser launcher and login timeout.
 * @returns The installed flow; close it to stop listening.
 * @throws {Deno.errors.AddrInUse} when every port of the range is busy.
 * @throws {Error} when a browser login flow is installed already.
 *
 * @example A login, then refreshes without the browser
 * ```ts
 * import assert from "node:assert/strict";
 * import { Client, MemoryTokenStorage, useAuthorizationCodeFlow } from "@alf/client";
 * import { ScriptedBrowser, startAuthServer } from "@alf/client/testing";
 *
 * await using server = await startAuthServer();
 * await using browser = new ScriptedBrowser();
 * await using flow = await useAuthorizationCodeFlow(new MemoryTokenStorage(), [0, 0], {
 *   authorizationEndpoint: server.authorizationEndpoint,
 *   openBrowser: browser.open,
 * });
 * await using client = new Client({ tokenEndpoint: server.tokenEndpoint, clientId: "cli" });
 * await (await client.fetch(server.resourceUrl)).body?.cancel();
 * server.revoke(); // the next request gets a 401: the token is refreshed
 * const response = await client.fetch(server.resourceUrl);
 * assert(response.status === 200 && browser.opened.length === 1);
 * await response.body?.cancel();
 * ```
 */
export function useAuthorizationCodeFlow(
  storage: TokenStorage,
  portRange: PortRange = DEFAULT_PORT_RANGE,
  options: AuthorizationCodeFlowOptions = {},
): Promise<BrowserFlow> {
  return installFlow(
    "authorization code flow",
    storage,
    portRange,
    options,
    (o) => new AuthorizationCodeGrant(o),
  );
}
