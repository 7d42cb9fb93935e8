// The stand-in resource's metadata ([RFC 9728](https://www.rfc-editor.org/rfc/rfc9728)): the
// document at the path-aware well-known URL of the resource (§3.1), or at the root one when told
// to, and the `resource_metadata` and `scope` parameters its challenges carry (§5.1,
// [RFC 6750 §3](https://www.rfc-editor.org/rfc/rfc6750#section-3)).

import type { AuthServer } from "./auth_server.ts";
import type { AuthServerOptions } from "./auth_server_options.ts";

/** The well-known path of protected resource metadata (RFC 9728 §3). */
const WELL_KNOWN = "/.well-known/oauth-protected-resource";

/** The resource's path, which the path-aware URL ends with. */
const RESOURCE_PATH = "/resource";

/** What the document and the challenges name. */
type ResourceServer = Pick<AuthServer, "issuer" | "resourceUrl" | "resourceMetadataUrl">;

/** The path the metadata is served at: the path-aware one, or the root one with `rootOnly`. */
export function resourceMetadataPath({ protectedResource }: AuthServerOptions): string {
  return protectedResource?.rootOnly === true ? WELL_KNOWN : `${WELL_KNOWN}${RESOURCE_PATH}`;
}

/**
 * The resource identifier: the document's `resource`, which tokens may name as their audience
 * besides the URL requested.
 */
export function resourceIdentifier(options: AuthServerOptions, resourceUrl: string): string {
  return options.protectedResource?.resource ?? resourceUrl;
}

/**
 * The answer to a well-known path when it is the resource's metadata (RFC 9728 §3.2).
 *
 * @returns The document, or `undefined` for another path or a server without `protectedResource`.
 */
export function protectedResourceResponse(
  path: string,
  options: AuthServerOptions,
  server: ResourceServer,
): Response | undefined {
  const resource = options.protectedResource;
  if (resource === undefined || path !== resourceMetadataPath(options)) return undefined;
  const body: Record<string, unknown> = {
    resource: resourceIdentifier(options, server.resourceUrl),
    authorization_servers: [server.issuer],
  };
  if (resource.scopesSupported !== undefined) body.scopes_supported = resource.scopesSupported;
  body.bearer_methods_supported = ["header"];
  if (resource.dpopBoundAccessTokensRequired !== undefined) {
    body.dpop_bound_access_tokens_required = resource.dpopBoundAccessTokensRequired;
  }
  return Response.json(body);
}

/**
 * Adds to the challenge of a resource's 401 or 403 the metadata's URL (RFC 9728 §5.1) and the
 * scope required, when the server describes its resource and `challenge` is not `false`.
 *
 * @param response The resource's answer; returned as it is unless it challenges.
 * @param options The server's options: `protectedResource`.
 * @param server The metadata's URL.
 * @param requiredScope The scope the resource requires now, if any.
 */
export function withResourceChallenge(
  response: Response,
  options: AuthServerOptions,
  server: Pick<AuthServer, "resourceMetadataUrl">,
  requiredScope: string | undefined,
): Response {
  const challenge = response.headers.get("WWW-Authenticate");
  const resource = options.protectedResource;
  if (challenge === null || resource === undefined || resource.challenge === false) {
    return response;
  }
  let value = `${challenge}, resource_metadata="${server.resourceMetadataUrl}"`;
  if (requiredScope !== undefined && !/(^|[ ,])scope="/.test(challenge)) {
    value += `, scope="${requiredScope}"`;
  }
  response.headers.set("WWW-Authenticate", value);
  return response;
}

/**
 * The scopes of `required` that `granted` lacks
 * ([RFC 6750 §3.1](https://www.rfc-editor.org/rfc/rfc6750#section-3.1), `insufficient_scope`).
 */
export function missingScopes(required: string, granted: string | null): string[] {
  const have = new Set((granted ?? "").split(" "));
  return required.split(" ").filter((scope) => scope !== "" && !have.has(scope));
}
