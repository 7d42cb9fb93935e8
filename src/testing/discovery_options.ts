/**
 * How the stand-in {@linkcode AuthServer} lets a client start from nothing but the resource's
 * URL: protected resource metadata and dynamic client registration; part of
 * {@linkcode AuthServerOptions}.
 *
 * @module
 */

import { checkKnownOptions } from "../_known_options.ts";
import type { TokenFailure } from "./scripted_failures.ts";

/**
 * The protected resource's metadata and the registration of clients; part of
 * {@linkcode AuthServerOptions}.
 *
 * @example A server that an MCP-style client can use with no configuration
 * ```ts
 * import type { AuthServerOptions } from "@alf/client/testing";
 *
 * const options: AuthServerOptions = { protectedResource: {}, registration: true };
 * ```
 */
export interface DiscoveryOptions {
  /**
   * Makes `/resource` a protected resource that describes itself
   * ([RFC 9728](https://www.rfc-editor.org/rfc/rfc9728)): its metadata is served at
   * {@linkcode AuthServer.resourceMetadataUrl}, by default the path-aware well-known URL of
   * {@linkcode AuthServer.resourceUrl} (`/.well-known/oauth-protected-resource/resource`, §3.1),
   * naming `resource`, `authorization_servers` (the {@linkcode AuthServer.issuer}),
   * `scopes_supported`, `bearer_methods_supported` and, when set,
   * `dpop_bound_access_tokens_required` (§2). Its 401s (and 403s) then name the document in
   * `WWW-Authenticate` (`resource_metadata`, §5.1), with `scope` when
   * {@linkcode AuthServer.requiredScope} is set. Default: none (the metadata URL answers 404).
   *
   * Whatever this option says, the resource refuses a token whose audience (the `resource`
   * parameters of its authorization or token request,
   * [RFC 8707](https://www.rfc-editor.org/rfc/rfc8707)) names neither the URL requested (or a
   * prefix of it at a `/`) nor `resource`, and a token without every scope of
   * {@linkcode AuthServer.requiredScope}.
   *
   * @example A resource that names its metadata, its authorization server and the scope it needs
   * ```ts
   * import assert from "node:assert/strict";
   * import { startAuthServer } from "@alf/client/testing";
   *
   * await using server = await startAuthServer({ protectedResource: { scopesSupported: ["mcp"] } });
   * server.requiredScope = "mcp";
   * const challenge = await fetch(server.resourceUrl);
   * await challenge.body?.cancel();
   * assert.equal(challenge.status, 401);
   * assert.equal(
   *   challenge.headers.get("WWW-Authenticate"),
   *   `Bearer error="invalid_token", resource_metadata="${server.resourceMetadataUrl}", scope="mcp"`,
   * );
   * assert.equal(server.resourceMetadataUrl, server.url("/.well-known/oauth-protected-resource/resource"));
   * const metadata = await (await fetch(server.resourceMetadataUrl)).json();
   * assert.deepEqual(metadata, {
   *   resource: server.resourceUrl,
   *   authorization_servers: [server.issuer],
   *   scopes_supported: ["mcp"],
   *   bearer_methods_supported: ["header"],
   * });
   *
   * const requestToken = async (scope: string) =>
   *   await (await fetch(server.tokenEndpoint, {
   *     method: "POST",
   *     body: new URLSearchParams({
   *       grant_type: "client_credentials",
   *       client_id: "app",
   *       scope,
   *       resource: server.resourceUrl, // RFC 8707
   *     }),
   *   })).json();
   * const narrow = await requestToken("profile");
   * assert.deepEqual(server.audienceOf(narrow.access_token), [server.resourceUrl]);
   * const stepUp = await fetch(server.resourceUrl, {
   *   headers: { Authorization: `Bearer ${narrow.access_token}` },
   * });
   * await stepUp.body?.cancel();
   * assert.equal(stepUp.status, 403);
   * assert.match(stepUp.headers.get("WWW-Authenticate")!, /^Bearer error="insufficient_scope", scope="mcp"/);
   * const wide = await requestToken("profile mcp");
   * const served = await fetch(server.resourceUrl, {
   *   headers: { Authorization: `Bearer ${wide.access_token}` },
   * });
   * await served.body?.cancel();
   * assert.equal(served.status, 200);
   * ```
   */
  protectedResource?: {
    /** The `scopes_supported` of the document. Default: left out. */
    scopesSupported?: string[];
    /** The `dpop_bound_access_tokens_required` of the document. Default: left out. */
    dpopBoundAccessTokensRequired?: boolean;
    /**
     * Whether the resource's 401s and 403s carry `resource_metadata` (and `scope`).
     * Default: `true`; `false` leaves the well-known URL as the only way to the document.
     */
    challenge?: boolean;
    /**
     * The `resource` the document names, in place of {@linkcode AuthServer.resourceUrl}: a
     * document that does not describe the URL it is served for (RFC 9728 §3.3 tells clients to
     * refuse it), or a resource identifier other than its URL. Tokens for it are accepted.
     */
    resource?: string;
    /**
     * Whether the document is served at the root `/.well-known/oauth-protected-resource` instead
     * of the path-aware URL, as servers that ignore the resource's path do (clients that try
     * the path-aware URL first must fall back). Default: `false`.
     */
    rootOnly?: boolean;
  };
  /**
   * Dynamic client registration ([RFC 7591](https://www.rfc-editor.org/rfc/rfc7591)): the
   * metadata names `registration_endpoint` (`/register`), which takes a JSON body of client
   * metadata (§2) and answers `201` with a new `client_id`, `client_id_issued_at`, the metadata
   * (with `token_endpoint_auth_method`, `grant_types` and `response_types` defaulted), and a
   * `client_secret` unless the method is `none` (§3.2.1). It refuses (§3.2.2) with
   * `invalid_redirect_uri` a redirect URI that is not an absolute http(s) loopback URL without
   * fragment, and with `invalid_client_metadata` a body that is not a JSON object, a method
   * other than `none`, `client_secret_basic` and `client_secret_post`, or `redirect_uris`,
   * `grant_types` or `response_types` that are not lists of strings. `{ failures }` answers the
   * next requests with those instead, taken in order (the array is read as it is then).
   *
   * A registered client is known to `/token`, `/authorize`, `/par`, `/device_authorization` and
   * `/revoke`, whatever `clientId` says: it authenticates by its registered method (a public
   * one sends only `client_id`), and its `redirect_uri` at `/authorize` must be one it
   * registered, but for the port of a loopback one, which may be any
   * ([RFC 8252 §7.3](https://www.rfc-editor.org/rfc/rfc8252#section-7.3)): scheme, host, path
   * and query must be the same. {@linkcode AuthServer.forgetClient} makes one unknown again.
   * Requests to `/register` are recorded in {@linkcode AuthServer.registrations} (answered 404
   * when registration is off). Default: `false`.
   *
   * @example A public client registers, gets a token, and is forgotten
   * ```ts
   * import assert from "node:assert/strict";
   * import { startAuthServer } from "@alf/client/testing";
   *
   * await using server = await startAuthServer({ registration: true });
   * const metadata = await (await fetch(server.url("/.well-known/oauth-authorization-server")))
   *   .json();
   * const registered = await fetch(metadata.registration_endpoint, {
   *   method: "POST",
   *   headers: { "Content-Type": "application/json" },
   *   body: JSON.stringify({
   *     client_name: "My CLI",
   *     redirect_uris: ["http://127.0.0.1/callback"],
   *     token_endpoint_auth_method: "none",
   *     grant_types: ["authorization_code", "refresh_token", "client_credentials"],
   *   }),
   * });
   * assert.equal(registered.status, 201);
   * const client = await registered.json();
   * assert.equal(client.client_name, "My CLI");
   * assert.equal(client.client_secret, undefined);
   * assert.deepEqual(server.registeredClients(), [client.client_id]);
   * assert.equal(server.registrations.length, 1);
   *
   * const requestToken = () =>
   *   fetch(server.tokenEndpoint, {
   *     method: "POST",
   *     body: new URLSearchParams({ grant_type: "client_credentials", client_id: client.client_id }),
   *   });
   * const granted = await requestToken();
   * assert.equal(granted.status, 200);
   * await granted.body?.cancel();
   *
   * server.forgetClient(client.client_id); // as a server that lost its registrations
   * const refused = await requestToken();
   * assert.equal(refused.status, 401);
   * assert.equal((await refused.json()).error, "invalid_client");
   * assert.deepEqual(server.registeredClients(), []);
   * ```
   */
  registration?: boolean | {
    /** The answers of the next registrations instead of a client, taken in order. */
    failures?: TokenFailure[];
  };
}

/** Every option of {@linkcode DiscoveryOptions}, for the check of unknown names. */
export const DISCOVERY_OPTION_NAMES = {
  protectedResource: true,
  registration: true,
} as const satisfies Record<keyof DiscoveryOptions, true>;

/** Every name of {@linkcode DiscoveryOptions.protectedResource}. */
export const PROTECTED_RESOURCE_OPTION_NAMES = {
  scopesSupported: true,
  dpopBoundAccessTokensRequired: true,
  challenge: true,
  resource: true,
  rootOnly: true,
} as const satisfies Record<keyof NonNullable<DiscoveryOptions["protectedResource"]>, true>;

/**
 * Refuses a `protectedResource` with a name not in {@linkcode PROTECTED_RESOURCE_OPTION_NAMES},
 * or a `registration` object with a name other than `failures`.
 *
 * @throws {TypeError} on the first unknown name, or a member that is not an object.
 */
export function checkDiscoveryOptionNames(
  { protectedResource, registration }: DiscoveryOptions,
): void {
  const start = "start";
  if (protectedResource !== undefined) {
    const context = 'AuthServer ("protectedResource")';
    checkKnownOptions(protectedResource, PROTECTED_RESOURCE_OPTION_NAMES, context, start);
    const { resource } = protectedResource;
    if (resource !== undefined && URL.parse(resource) === null) {
      throw new TypeError(
        'Cannot start the AuthServer: "protectedResource.resource" must be an absolute URL',
      );
    }
  }
  if (registration !== undefined && typeof registration !== "boolean") {
    checkKnownOptions(registration, { failures: true }, 'AuthServer ("registration")', start);
  }
}
