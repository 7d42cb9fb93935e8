/**
 * The process-wide browser login flow: what a client without a grant of its
 * own uses while one is installed (the seed's `use_implicit_flow`), with the
 * implicit grant ({@linkcode useImplicitFlow}) or the authorization code grant
 * ({@linkcode useAuthorizationCodeFlow}).
 *
 * @module
 */

import { checkKnownOptions } from "../_known_options.ts";
import { installedFlow, setInstalledFlow } from "../_installed_flow.ts";
import type { Grant } from "../grant.ts";
import { checkTokenStorage, type TokenStorage } from "../storage/token_storage.ts";
import { type InternalLoginOptions, SHARED_LISTENER } from "./_browser_login.ts";
import { AuthorizationCodeGrant } from "./authorization_code_grant.ts";
import { ImplicitGrant } from "./implicit_grant.ts";
import {
  AUTHORIZATION_CODE_FLOW_OPTION_NAMES,
  type AuthorizationCodeFlowOptions,
  checkPortRange,
  DEFAULT_PORT_RANGE,
  type ImplicitFlowOptions,
  LOGIN_OPTION_NAMES,
  type LoginOptions,
  type PortRange,
} from "./login_options.ts";

/**
 * A browser login flow installed for the whole process, listening on its
 * port until closed.
 *
 * Returned by {@linkcode useImplicitFlow} and
 * {@linkcode useAuthorizationCodeFlow}; register its `redirectUri` with the
 * authorization server.
 *
 * @example Where the redirect lands, and what closing undoes
 * ```ts
 * import assert from "node:assert/strict";
 * import { type BrowserFlow, Client, MemoryTokenStorage, useImplicitFlow } from "@alf/client";
 * import { startAuthServer } from "@alf/client/testing";
 *
 * await using server = await startAuthServer();
 * const flow: BrowserFlow = await useImplicitFlow(new MemoryTokenStorage(), [0, 0], {
 *   openBrowser: () => {},
 * });
 * assert.equal(flow.redirectUri, `http://127.0.0.1:${flow.port}/callback`);
 * await flow.close();
 * await assert.rejects(fetch(flow.redirectUri), TypeError); // nothing listens any more
 * // Clients created from now on use the client credentials grant again.
 * await using client = new Client({ tokenEndpoint: server.tokenEndpoint, clientId: "id" });
 * await client.getToken();
 * assert.equal(server.tokenRequests[0]?.form.get("grant_type"), "client_credentials");
 * ```
 */
export interface BrowserFlow extends AsyncDisposable {
  /** The port listened on. */
  readonly port: number;
  /** The `redirect_uri` the authorization server redirects to. */
  readonly redirectUri: string;
  /**
   * Uninstalls the flow and stops its listener. A login in progress rejects;
   * clients created from now on use the client credentials grant again.
   */
  close(): Promise<void>;
}

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
 * [RFC 9700](https://www.rfc-editor.org/rfc/rfc9700#section-2.1.2) deprecates
 * the implicit grant: prefer {@linkcode useAuthorizationCodeFlow} when the
 * server supports it. For a single client, pass a grant instead:
 * {@linkcode ImplicitGrant}.
 *
 * @param storage Where the token is kept (a `KvTokenStorage` keeps it across runs).
 * @param portRange The inclusive range of ports to try. Default: `[32000, 32009]`.
 * @param options The authorization endpoint, browser launcher and login timeout.
 * @returns The installed flow; close it to stop listening.
 * @throws {Deno.errors.AddrInUse} when every port of the range is busy.
 * @throws {Error} when a browser login flow is installed already.
 * @throws {TypeError} when an option is malformed or unknown (a misspelled name).
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
 * assert(browser.opened[0]?.startsWith(`${server.tokenEndpoint}/authorize?response_type=token&`));
 * ```
 */
export function useImplicitFlow(
  storage: TokenStorage,
  portRange: PortRange = DEFAULT_PORT_RANGE,
  options: ImplicitFlowOptions = {},
): Promise<BrowserFlow> {
  return installFlow(
    "implicit flow",
    { storage, portRange, options, names: LOGIN_OPTION_NAMES },
    (o) => new ImplicitGrant(o),
  );
}

/**
 * Like {@linkcode useImplicitFlow}, with the authorization code grant and
 * PKCE: the recommended browser login
 * ([RFC 8252](https://www.rfc-editor.org/rfc/rfc8252),
 * [RFC 9700](https://www.rfc-editor.org/rfc/rfc9700#section-2.1.1)).
 *
 * Every client created afterwards without a grant of its own logs the user in
 * through the browser, exchanges the code at its token endpoint, keeps the
 * token in `storage`, and renews it with the refresh token, without the
 * browser while the refresh token is good. For a single client, pass a grant
 * instead: {@linkcode AuthorizationCodeGrant}.
 *
 * @param storage Where the token is kept (a `KvTokenStorage` keeps it across runs).
 * @param portRange The inclusive range of ports to try. Default: `[32000, 32009]`.
 * @param options The authorization endpoint, browser launcher, login timeout,
 * and pushed authorization requests ({@linkcode AuthorizationCodeFlowOptions}).
 * @returns The installed flow; close it to stop listening.
 * @throws {Deno.errors.AddrInUse} when every port of the range is busy.
 * @throws {Error} when a browser login flow is installed already.
 * @throws {TypeError} when an option is malformed or unknown (a misspelled name).
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
    { storage, portRange, options, names: AUTHORIZATION_CODE_FLOW_OPTION_NAMES },
    (o) => new AuthorizationCodeGrant(o),
  );
}

/**
 * Listens on the first free port of `portRange` and installs the grant
 * `make` builds on that listener.
 */
async function installFlow(
  what: string,
  flow: {
    storage: TokenStorage;
    portRange: PortRange;
    options: LoginOptions;
    /** Every option name of the flow. */
    names: Readonly<Record<string, true>>;
  },
  make: (options: InternalLoginOptions) => Grant,
): Promise<BrowserFlow> {
  const { storage, portRange, options, names } = flow;
  // Every failure below is a rejection; the listener is loaded once a flow is used.
  const { LoopbackListener } = await import("./_loopback_listener.ts");
  checkTokenStorage(storage, `use the ${what}`);
  const range = checkPortRange(portRange, `use the ${what}`);
  checkKnownOptions(options, names, what, "use");
  if (installedFlow()) {
    throw new Error(`Cannot use the ${what}: a browser login flow is installed; close it first`);
  }
  const listener = new LoopbackListener(range);
  let grant: Grant;
  try {
    grant = make({ ...options, [SHARED_LISTENER]: listener });
  } catch (error) {
    await listener.close();
    throw error;
  }
  const uninstall = setInstalledFlow({ grant, storage });
  let closing: Promise<void> | undefined;
  const close = () => {
    uninstall();
    return closing ??= listener.close();
  };
  return {
    port: listener.port,
    redirectUri: listener.redirectUri,
    close,
    [Symbol.asyncDispose]: close,
  };
}
