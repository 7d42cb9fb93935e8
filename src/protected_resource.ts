/**
 * Protected resource metadata ([RFC 9728](https://www.rfc-editor.org/rfc/rfc9728)):
 * from an API's address to the authorization servers that issue its tokens.
 *
 * @module
 */

import { checkDuration } from "./_duration.ts";
import { parseEndpointUrl } from "./_endpoint_url.ts";
import { checkKnownOptions } from "./_known_options.ts";
import { fetchJsonDocument } from "./discovery.ts";
import { TokenError } from "./token_error.ts";
import { parseChallenges } from "./www_authenticate.ts";

/**
 * A protected resource's metadata
 * ([RFC 9728 §2](https://www.rfc-editor.org/rfc/rfc9728#section-2)), checked:
 * its `resource` covers the address asked for, its authorization servers are
 * `https:` URLs (or loopback, or `allowHttp`).
 *
 * @example Reading the authorization server
 * ```ts
 * import type { ProtectedResourceMetadata } from "@alf/client";
 *
 * function issuerOf(metadata: ProtectedResourceMetadata): string | undefined {
 *   return metadata.authorization_servers?.[0];
 * }
 * ```
 */
export interface ProtectedResourceMetadata {
  /** The resource identifier: the address asked for, or one it is under. */
  readonly resource: string;
  /** The issuers of the authorization servers whose tokens the resource takes. */
  readonly authorization_servers?: readonly string[];
  /** The scopes the resource uses in authorization requests. */
  readonly scopes_supported?: readonly string[];
  /** How the resource takes tokens: `header`, `body`, `query`. */
  readonly bearer_methods_supported?: readonly string[];
  /** Whether the resource takes only DPoP-bound tokens ([RFC 9449](https://www.rfc-editor.org/rfc/rfc9449)). */
  readonly dpop_bound_access_tokens_required?: boolean;
  /** A name for people. */
  readonly resource_name?: string;
  /** Any other member, as sent. */
  readonly [member: string]: unknown;
}

/**
 * Options of {@linkcode discoverResource}.
 *
 * @example The metadata URL a challenge named
 * ```ts
 * import type { DiscoverResourceOptions } from "@alf/client";
 *
 * const options: DiscoverResourceOptions = {
 *   metadataUrl: "https://api.example.com/.well-known/oauth-protected-resource/mcp",
 * };
 * ```
 */
export interface DiscoverResourceOptions {
  /**
   * The metadata URL a resource's `WWW-Authenticate` challenge named
   * (`resource_metadata`, [§5.1](https://www.rfc-editor.org/rfc/rfc9728#section-5.1)).
   * Default: the well-known locations of the resource (§3.1).
   */
  metadataUrl?: string | URL;
  /** The transport. Default: `globalThis.fetch`. */
  fetch?: typeof fetch;
  /** Stops waiting. */
  signal?: AbortSignal;
  /** Allow plain `http:` URLs on a non-loopback host. Default: `false`. */
  allowHttp?: boolean;
  /** How long the search may take, in milliseconds. Default: 30 000. */
  timeout?: number;
}

const DISCOVER_RESOURCE_OPTION_NAMES = {
  metadataUrl: true,
  fetch: true,
  signal: true,
  allowHttp: true,
  timeout: true,
} as const satisfies Record<keyof DiscoverResourceOptions, true>;

/**
 * Fetches and checks a protected resource's metadata
 * ([RFC 9728 §3](https://www.rfc-editor.org/rfc/rfc9728#section-3)): at the URL a
 * challenge named, else at `/.well-known/oauth-protected-resource` with the
 * resource's path appended (§3.1), then at the origin's own document (where
 * servers that predate the path rule keep it). The document's `resource`
 * must be the resource, or an address of the same origin whose path the
 * resource's path is under (a path-segment boundary), as the update of §3.3
 * in [draft-mcguinness-oauth-rfc9728bis](https://datatracker.ietf.org/doc/draft-mcguinness-oauth-rfc9728bis/)
 * allows: another resource's metadata is refused, since it would send the
 * client to that resource's authorization server.
 *
 * @param resource The protected resource's URL, e.g. `https://api.example.com/mcp`.
 * @param options A challenge's metadata URL, the transport, signal, timeout and `http:` permission.
 * @returns The metadata, frozen.
 * @throws {TypeError} when the resource is not an `https:` URL (or loopback),
 *   or an option is malformed or unknown.
 * @throws {TokenError} when no document can be had, or it fails a check.
 *
 * @example Finding the authorization server of an API
 * ```ts
 * import assert from "node:assert/strict";
 * import { discoverResource } from "@alf/client";
 *
 * const fetch = (input: RequestInfo | URL) =>
 *   Promise.resolve(
 *     String(input) === "https://api.example.com/.well-known/oauth-protected-resource/mcp"
 *       ? Response.json({
 *         resource: "https://api.example.com/mcp",
 *         authorization_servers: ["https://auth.example.com"],
 *       })
 *       : new Response(null, { status: 404 }),
 *   );
 * const metadata = await discoverResource("https://api.example.com/mcp", { fetch });
 * assert.deepEqual(metadata.authorization_servers, ["https://auth.example.com"]);
 * ```
 */
export async function discoverResource(
  resource: string | URL,
  options: DiscoverResourceOptions = {},
): Promise<ProtectedResourceMetadata> {
  checkKnownOptions(options, DISCOVER_RESOURCE_OPTION_NAMES, "resource discovery");
  const allowHttp = options.allowHttp ?? false;
  const url = parseEndpointUrl(resource, "resource discovery", "resource", allowHttp);
  const timeout = checkDuration(options.timeout, {
    context: "resource discovery",
    option: "timeout",
    fallback: 30_000,
    min: 1,
  });
  const transport = options.fetch ?? globalThis.fetch;
  const locations = options.metadataUrl === undefined
    ? resourceMetadataLocations(url)
    : [parseEndpointUrl(options.metadataUrl, "resource discovery", "metadataUrl", allowHttp)];
  const asked = url.href;
  const { document } = await fetchJsonDocument(locations, {
    asked,
    transport,
    timeout,
    allowHttp,
    signal: options.signal,
  });
  return validateResourceMetadata(document, url, allowHttp);
}

/**
 * The well-known locations of a resource's metadata: the path-aware one
 * ([RFC 9728 §3.1](https://www.rfc-editor.org/rfc/rfc9728#section-3.1): the
 * well-known path between the host and the resource's path, a terminating
 * `/` dropped, the query kept), then the origin's.
 */
export function resourceMetadataLocations(resource: URL): URL[] {
  const path = resource.pathname.replace(/\/$/, "");
  const pathAware = new URL(`/.well-known/oauth-protected-resource${path}`, resource.origin);
  pathAware.search = resource.search;
  const root = new URL("/.well-known/oauth-protected-resource", resource.origin);
  return pathAware.href === root.href ? [root] : [pathAware, root];
}

/**
 * Whether the metadata's `resource` covers the address asked for: the same
 * origin, and a path the asked path is equal to or under.
 */
export function coversResource(identifier: string, asked: URL): boolean {
  let declared: URL;
  try {
    declared = new URL(identifier);
  } catch {
    return false;
  }
  if (declared.origin !== asked.origin || declared.hash || identifier.includes("#")) return false;
  if (declared.search && declared.search !== asked.search) return false;
  const base = declared.pathname.replace(/\/$/, "");
  const path = asked.pathname;
  return path === base || path === `${base}/` || path.startsWith(`${base}/`) || base === "";
}

/** Checks a metadata document: RFC 9728 §2 and §3.3. */
function validateResourceMetadata(
  document: Record<string, unknown>,
  asked: URL,
  allowHttp: boolean,
): ProtectedResourceMetadata {
  const fail = (why: string) =>
    new TokenError(`Cannot use the metadata of ${asked.href}: ${why}`, {
      code: "invalid_response",
    });
  const { resource } = document;
  if (typeof resource !== "string") throw fail('"resource" is missing');
  if (!coversResource(resource, asked)) {
    throw fail(
      `it describes ${JSON.stringify(resource)}, which is not this resource (RFC 9728 §3.3)`,
    );
  }
  for (const name of ["authorization_servers", "scopes_supported", "bearer_methods_supported"]) {
    const list = document[name];
    if (
      list !== undefined && (!Array.isArray(list) || list.some((item) => typeof item !== "string"))
    ) {
      throw fail(`"${name}" is not a list of strings`);
    }
  }
  // An unusable entry (http: elsewhere than loopback) is left out; none usable is an error.
  const listed = document.authorization_servers as string[] | undefined;
  const usable = listed?.filter((issuer) => {
    try {
      parseEndpointUrl(issuer, "resource discovery", "authorization_servers", allowHttp);
      return true;
    } catch {
      return false;
    }
  });
  if (listed && listed.length > 0 && usable?.length === 0) {
    throw fail(
      "none of its authorization servers is an https: URL (or loopback); set allowHttp for a test server",
    );
  }
  const required = document.dpop_bound_access_tokens_required;
  if (required !== undefined && typeof required !== "boolean") {
    throw fail('"dpop_bound_access_tokens_required" is not a boolean');
  }
  const servers = listed ? { authorization_servers: usable } : {};
  return Object.freeze({ ...document, resource, ...servers }) as ProtectedResourceMetadata;
}

/**
 * What a resource's `401` or `403` challenge says
 * ([RFC 9728 §5.1](https://www.rfc-editor.org/rfc/rfc9728#section-5.1),
 * [RFC 6750 §3](https://www.rfc-editor.org/rfc/rfc6750#section-3)): the metadata
 * URL (`resource_metadata`), the scope it asks for, and its `error`; from the
 * Bearer or the DPoP challenge.
 */
export function resourceChallenge(
  header: string | null,
): { metadataUrl?: string; scope?: string; error?: string } {
  const challenge = parseChallenges(header).find((c) =>
    c.scheme === "bearer" || c.scheme === "dpop"
  );
  if (!challenge) return {};
  const { resource_metadata: metadataUrl, scope, error } = challenge.params;
  return { metadataUrl, scope, error };
}
