// The stand-in server's metadata documents: RFC 8414's, at
// `/.well-known/oauth-authorization-server` followed by the issuer's path
// ([RFC 8414 §3.1](https://www.rfc-editor.org/rfc/rfc8414#section-3.1)), and OpenID Connect's,
// at the issuer followed by `/.well-known/openid-configuration`
// ([OpenID Connect Discovery §4](https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderConfig)).

import { DEVICE_AUTHORIZATION_PATH, DEVICE_CODE_GRANT } from "./_device_routes.ts";
import { DPOP_ALGORITHMS } from "./_dpop_check.ts";
import { REGISTRATION_PATH } from "./_registration_route.ts";
import type { AuthServer } from "./auth_server.ts";
import type { AuthServerOptions } from "./auth_server_options.ts";
import type { MetadataDocument } from "./metadata_options.ts";

/** The server's addresses the documents name. */
type Endpoints = Pick<
  AuthServer,
  "issuer" | "tokenEndpoint" | "authorizationEndpoint" | "revocationEndpoint"
>;

/** The client authentication the documents advertise. */
interface ClientMethods {
  /** The methods accepted. */
  methods: string[];
  /** The client assertion algorithms that can verify. */
  algorithms: string[];
}

const GRANT_TYPES = [
  "client_credentials",
  "authorization_code",
  "refresh_token",
  "implicit",
  "urn:ietf:params:oauth:grant-type:jwt-bearer",
  "urn:ietf:params:oauth:grant-type:token-exchange",
  DEVICE_CODE_GRANT,
];

/** Whether a path is a well-known one: answered here, found or not. */
export function isWellKnown(path: string): boolean {
  return path.includes("/.well-known/");
}

/**
 * Checks the metadata options before the server starts.
 *
 * @throws {TypeError} when `issuerPath` or `metadata` is malformed.
 */
export function checkMetadataOptions({ issuerPath, metadata }: AuthServerOptions): void {
  const context = "Cannot start the AuthServer";
  if (issuerPath !== undefined && !/^(\/[A-Za-z0-9._~%!$&'()*+,;=:@-]+)+$/.test(issuerPath)) {
    throw new TypeError(
      `${context}: "issuerPath" must be a path such as "/tenant", without a trailing "/"`,
    );
  }
  const documents = metadata?.documents;
  if (
    documents !== undefined &&
    !(Array.isArray(documents) &&
      documents.every((d) => d === "oauth-authorization-server" || d === "openid-configuration"))
  ) {
    throw new TypeError(
      `${context}: "metadata.documents" must list "oauth-authorization-server" or "openid-configuration"`,
    );
  }
}

/**
 * The answer to a well-known path: the document served there, or 404.
 *
 * @param path The request's path.
 * @param options The issuer's path, and what to serve and how to alter it.
 * @param server The issuer and the endpoints.
 * @param clients The client authentication methods and algorithms.
 */
export function metadataResponse(
  path: string,
  { issuerPath = "", metadata: options, pushedAuthorizationRequests: par, registration }:
    AuthServerOptions,
  server: Endpoints,
  clients: ClientMethods,
): Response {
  const documents: MetadataDocument[] = options?.documents ??
    ["oauth-authorization-server", "openid-configuration"];
  const served = documents.some((document) =>
    path ===
      (document === "oauth-authorization-server"
        ? `/.well-known/oauth-authorization-server${issuerPath}`
        : `${issuerPath}/.well-known/openid-configuration`)
  );
  if (!served) {
    return Response.json({ error: "not_found" }, { status: 404 });
  }
  const body: Record<string, unknown> = {
    issuer: options?.issuer ?? server.issuer,
    authorization_endpoint: server.authorizationEndpoint,
    token_endpoint: server.tokenEndpoint,
    revocation_endpoint: server.revocationEndpoint,
    device_authorization_endpoint: new URL(DEVICE_AUTHORIZATION_PATH, server.tokenEndpoint).href,
    response_types_supported: ["code", "token"],
    grant_types_supported: GRANT_TYPES,
    code_challenge_methods_supported: ["S256"],
    // [RFC 9126 §5](https://www.rfc-editor.org/rfc/rfc9126#section-5) and
    // [RFC 9207 §3](https://www.rfc-editor.org/rfc/rfc9207#section-3).
    pushed_authorization_request_endpoint: new URL("/par", server.tokenEndpoint).href,
    require_pushed_authorization_requests: par?.required === true,
    authorization_response_iss_parameter_supported: true,
    dpop_signing_alg_values_supported: [...DPOP_ALGORITHMS], // RFC 9449 §5.1
    token_endpoint_auth_methods_supported: clients.methods,
    revocation_endpoint_auth_methods_supported: clients.methods,
  };
  if (clients.algorithms.length > 0) {
    body.token_endpoint_auth_signing_alg_values_supported = clients.algorithms;
    body.revocation_endpoint_auth_signing_alg_values_supported = clients.algorithms;
  }
  if (registration !== undefined && registration !== false) {
    // [RFC 8414 §2](https://www.rfc-editor.org/rfc/rfc8414#section-2), RFC 7591's endpoint.
    body.registration_endpoint = new URL(REGISTRATION_PATH, server.tokenEndpoint).href;
  }
  for (const name of options?.omit ?? []) delete body[name];
  Object.assign(body, options?.members);
  return Response.json(body);
}
