/**
 * `useImplicitFlow`: the original alf's process-wide implicit flow.
 *
 * @module
 */

import { ImplicitGrant } from "../grants/implicit.ts";
import type { TokenStorage } from "../storage/token_storage.ts";
import { DEFAULT_PORT_RANGE, type LoginOptions, type PortRange } from "./browser_login.ts";
import { type BrowserFlow, installFlow } from "./installed.ts";

/**
 * Options of {@linkcode useImplicitFlow}: where the user logs in, how the
 * browser is opened, and how long a login may take. The ports are the
 * function's second argument.
 *
 * @example Logging in at an authorization endpoint of its own
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   Client,
 *   type ImplicitFlowOptions,
 *   MemoryTokenStorage,
 *   useImplicitFlow,
 * } from "@alf/client";
 * import { ScriptedBrowser, startAuthServer } from "@alf/client/testing";
 *
 * await using server = await startAuthServer();
 * await using browser = new ScriptedBrowser(); // stands in for the user's browser
 * const options: ImplicitFlowOptions = {
 *   // Default: the token endpoint followed by "/authorize".
 *   authorizationEndpoint: server.authorizationEndpoint,
 *   openBrowser: browser.open,
 *   loginTimeout: 120_000, // two minutes for the user to log in
 * };
 * await using flow = await useImplicitFlow(new MemoryTokenStorage(), [0, 0], options);
 * await using client = new Client({ tokenEndpoint: server.tokenEndpoint, clientId: "cli" });
 * await client.getToken();
 * const login = new URL(browser.opened[0]);
 * assert.equal(login.origin + login.pathname, server.authorizationEndpoint);
 * assert.equal(login.searchParams.get("redirect_uri"), flow.redirectUri);
 * ```
 */
export type ImplicitFlowOptions = LoginOptions;

/**
 * Makes every client created afterwards without a grant of its own log the
 * user in through the browser with the implicit grant, and keep the token in
 * `storage`.
 *
 * Listens at once on the first free port of `portRange` on 127.0.0.1, and
 * until the returned flow is closed. A login starts when a client needs a
 * token and `storage` has no fresh one: the browser opens the authorization
 * endpoint, which redirects to the listener with the token in the URL
 * fragment; the listener's page posts it back. One login serves all the
 * requests waiting for it; a 401 starts a new one.
 *
 * RFC 9700 deprecates the implicit grant: prefer
 * {@linkcode useAuthorizationCodeFlow} when the server supports it. For a
 * single client, pass a grant instead: {@linkcode ImplicitGrant}.
 *
 * @param storage Where the token is kept (a `KvTokenStorage` keeps it across runs).
 * @param portRange The inclusive range of ports to try. Default: `[32000, 32009]`.
 * @param options The authorization endpoint, browser launcher and login timeout.
 * @returns The installed flow; close it to stop listening.
 * @throws {Deno.errors.AddrInUse} when every port of the range is busy.
 * @throws {Error} when a browser login flow is installed already.
 *
 * @example The original alf's usage, with a scripted browser and the stand-in server
 * ```ts
 * import assert from "node:assert/strict";
 * import { Client, MemoryTokenStorage, useImplicitFlow } from "@alf/client";
 * import { ScriptedBrowser, startAuthServer } from "@alf/client/testing";
 *
 * await using server = await startAuthServer(); // its /token/authorize is the default endpoint
 * await using browser = new ScriptedBrowser();
 * await using flow = await useImplicitFlow(new MemoryTokenStorage(), [30000, 30009], {
 *   openBrowser: browser.open, // without it, the system browser opens
 * });
 * await using client = new Client({
 *   tokenEndpoint: server.tokenEndpoint,
 *   clientId: "glBQ3nYU/8/kaVi/bIgXGA==",
 *   clientSecret: "",
 * });
 * const response = await client.request("GET", server.resourceUrl);
 * assert(response.status === 200);
 * await response.body?.cancel();
 * assert(browser.opened[0].startsWith(`${server.tokenEndpoint}/authorize?response_type=token&`));
 * ```
 */
export function useImplicitFlow(
  storage: TokenStorage,
  portRange: PortRange = DEFAULT_PORT_RANGE,
  options: ImplicitFlowOptions = {},
): Promise<BrowserFlow> {
  return installFlow("implicit flow", storage, portRange, options, (o) => new ImplicitGrant(o));
}
