/**
 * The process-wide browser login flow: what a client without a grant of its
 * own uses while one is installed (the seed's `use_implicit_flow`).
 *
 * @module
 */

import type { Grant } from "../grant.ts";
import { checkTokenStorage, type TokenStorage } from "../storage/token_storage.ts";
import { checkPortRange, LoopbackListener, type PortRange } from "./_loopback.ts";
import { type InternalLoginOptions, type LoginOptions, SHARED_LISTENER } from "./browser_login.ts";

/** The grant and storage of the installed flow. */
export interface InstalledFlow {
  /** The grant of clients created without one. */
  readonly grant: Grant;
  /** The storage of those clients when they have none of their own. */
  readonly storage: TokenStorage;
}

let current: InstalledFlow | undefined;

/** The installed flow, if any: read by `Client` when it is created. */
export function installedFlow(): InstalledFlow | undefined {
  return current;
}

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
 * assert.equal(server.tokenRequests[0].form.get("grant_type"), "client_credentials");
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
 * Listens on the first free port of `portRange` and installs the grant
 * `make` builds on that listener.
 */
export async function installFlow(
  what: string,
  storage: TokenStorage,
  portRange: PortRange,
  options: LoginOptions,
  make: (options: InternalLoginOptions) => Grant,
): Promise<BrowserFlow> {
  await Promise.resolve(); // every failure below is a rejection
  checkTokenStorage(storage, `use the ${what}`);
  const range = checkPortRange(portRange, `use the ${what}`);
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`Cannot use the ${what}: options must be an object`);
  }
  if (current) {
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
  const installed: InstalledFlow = { grant, storage };
  current = installed;
  let closing: Promise<void> | undefined;
  const close = () => {
    if (current === installed) current = undefined;
    return closing ??= listener.close();
  };
  return {
    port: listener.port,
    redirectUri: listener.redirectUri,
    close,
    [Symbol.asyncDispose]: close,
  };
}
