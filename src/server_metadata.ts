/**
 * An authorization server's metadata
 * ([RFC 8414 §2](https://www.rfc-editor.org/rfc/rfc8414#section-2)): its
 * members, and the checks a document must pass before any of its endpoints
 * is used.
 *
 * @module
 */

import { parseEndpointUrl } from "./_endpoint_url.ts";
import { TokenError } from "./token_error.ts";

/**
 * An authorization server's metadata, with the members' names of
 * [RFC 8414 §2](https://www.rfc-editor.org/rfc/rfc8414#section-2) and
 * [OpenID Connect Discovery §3](https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderMetadata)
 * as the server sent them (snake_case), so that a member found in a spec or a
 * provider's documentation reads the same here. Members not listed are kept
 * as they came. The object is frozen: it is shared by every caller.
 *
 * @example Reading the endpoints
 * ```ts
 * import type { AuthorizationServerMetadata } from "@alf/client";
 *
 * function canRevoke(metadata: AuthorizationServerMetadata): boolean {
 *   return metadata.revocation_endpoint !== undefined;
 * }
 * ```
 */
export interface AuthorizationServerMetadata {
  /** The issuer identifier; equal to the one asked for. */
  readonly issuer: string;
  /** The token endpoint; always present here (a document without one is refused). */
  readonly token_endpoint: string;
  /** The authorization endpoint (browser logins). */
  readonly authorization_endpoint?: string;
  /** The revocation endpoint ([RFC 7009](https://www.rfc-editor.org/rfc/rfc7009)). */
  readonly revocation_endpoint?: string;
  /** The introspection endpoint ([RFC 7662](https://www.rfc-editor.org/rfc/rfc7662)). */
  readonly introspection_endpoint?: string;
  /** The device authorization endpoint ([RFC 8628](https://www.rfc-editor.org/rfc/rfc8628)). */
  readonly device_authorization_endpoint?: string;
  /** The dynamic registration endpoint ([RFC 7591](https://www.rfc-editor.org/rfc/rfc7591)). */
  readonly registration_endpoint?: string;
  /** The pushed authorization request endpoint ([RFC 9126](https://www.rfc-editor.org/rfc/rfc9126)). */
  readonly pushed_authorization_request_endpoint?: string;
  /** The OpenID Connect UserInfo endpoint. */
  readonly userinfo_endpoint?: string;
  /** The OpenID Connect logout endpoint. */
  readonly end_session_endpoint?: string;
  /** The server's JSON Web Key Set. */
  readonly jwks_uri?: string;
  /** The scopes the server supports. */
  readonly scopes_supported?: readonly string[];
  /** The response types the server supports. */
  readonly response_types_supported?: readonly string[];
  /** The grant types the server supports. */
  readonly grant_types_supported?: readonly string[];
  /** The client authentication methods of the token endpoint. */
  readonly token_endpoint_auth_methods_supported?: readonly string[];
  /** The JWS algorithms of client assertions at the token endpoint. */
  readonly token_endpoint_auth_signing_alg_values_supported?: readonly string[];
  /** The client authentication methods of the revocation endpoint. */
  readonly revocation_endpoint_auth_methods_supported?: readonly string[];
  /** The PKCE methods the server supports ([RFC 7636](https://www.rfc-editor.org/rfc/rfc7636)). */
  readonly code_challenge_methods_supported?: readonly string[];
  /**
   * The JWS algorithms the server takes in DPoP proofs
   * ([RFC 9449 §5.1](https://www.rfc-editor.org/rfc/rfc9449#section-5.1)).
   */
  readonly dpop_signing_alg_values_supported?: readonly string[];
  /**
   * Whether the server accepts authorization requests only when pushed
   * ([RFC 9126 §5](https://www.rfc-editor.org/rfc/rfc9126#section-5)); `false` when absent.
   */
  readonly require_pushed_authorization_requests?: boolean;
  /**
   * Whether the server's authorization responses carry its issuer in `iss`
   * ([RFC 9207 §3](https://www.rfc-editor.org/rfc/rfc9207#section-3)); `false` when absent.
   */
  readonly authorization_response_iss_parameter_supported?: boolean;
  /** Endpoints to use with mutual TLS ([RFC 8705 §5](https://www.rfc-editor.org/rfc/rfc8705#section-5)). */
  readonly mtls_endpoint_aliases?: Readonly<Record<string, string>>;
  /** Any other member, as sent. */
  readonly [member: string]: unknown;
}

/** Members that name endpoints: each must pass the rule of `tokenEndpoint`. */
const ENDPOINTS = [
  "token_endpoint",
  "authorization_endpoint",
  "revocation_endpoint",
  "introspection_endpoint",
  "device_authorization_endpoint",
  "registration_endpoint",
  "pushed_authorization_request_endpoint",
  "userinfo_endpoint",
  "end_session_endpoint",
  "jwks_uri",
] as const;

/** Members that are lists of strings. */
const LISTS = [
  "scopes_supported",
  "response_types_supported",
  "grant_types_supported",
  "token_endpoint_auth_methods_supported",
  "token_endpoint_auth_signing_alg_values_supported",
  "revocation_endpoint_auth_methods_supported",
  "code_challenge_methods_supported",
  "dpop_signing_alg_values_supported",
] as const;

/** Members that are booleans: a server's duty the client relies on, so never guessed from a string. */
const BOOLEANS = [
  "require_pushed_authorization_requests",
  "authorization_response_iss_parameter_supported",
] as const;

/**
 * Checks a metadata document: its `issuer` is the one asked for
 * ([RFC 8414 §3.3](https://www.rfc-editor.org/rfc/rfc8414#section-3.3)), it
 * has a `token_endpoint`, its endpoints pass the rule of `tokenEndpoint`, its
 * lists are lists of strings, and its flags are booleans.
 *
 * @param document The parsed document.
 * @param asked The issuer asked for, for messages.
 * @param names The spellings of the issuer that match.
 * @param allowHttp Whether plain `http:` endpoints are allowed on any host.
 * @returns The metadata, frozen.
 * @throws {TokenError} (code `invalid_response`) when the document fails a check.
 */
export function validateMetadata(
  document: Record<string, unknown>,
  asked: string,
  names: string[],
  allowHttp: boolean,
): AuthorizationServerMetadata {
  const what = `Cannot use the metadata of ${asked}`;
  if (typeof document.issuer !== "string" || !names.includes(document.issuer)) {
    // RFC 8414 §3.3: a document for another issuer is an impersonation attempt.
    throw invalid(
      `${what}: it names the issuer ${JSON.stringify(document.issuer)} (RFC 8414 §3.3)`,
    );
  }
  if (document.token_endpoint === undefined) {
    throw invalid(`${what}: "token_endpoint" is missing`);
  }
  for (const name of ENDPOINTS) {
    if (document[name] !== undefined) {
      checkMetadataEndpoint(asked, `"${name}"`, document[name], allowHttp);
    }
  }
  for (const name of LISTS) {
    const list = document[name];
    if (list !== undefined && !(Array.isArray(list) && list.every((v) => typeof v === "string"))) {
      throw invalid(`${what}: "${name}" is not a list of strings`);
    }
  }
  for (const name of BOOLEANS) {
    if (document[name] !== undefined && typeof document[name] !== "boolean") {
      throw invalid(`${what}: "${name}" is not a boolean`);
    }
  }
  const aliases = document.mtls_endpoint_aliases;
  if (aliases !== undefined) {
    if (typeof aliases !== "object" || aliases === null || Array.isArray(aliases)) {
      throw invalid(`${what}: "mtls_endpoint_aliases" is not an object`);
    }
    for (const [name, value] of Object.entries(aliases)) {
      checkMetadataEndpoint(asked, `"mtls_endpoint_aliases.${name}"`, value, allowHttp);
    }
    Object.freeze(aliases);
  }
  for (const name of LISTS) Object.freeze(document[name]);
  // The issuer as asked: a URL object's `https://host/` matches a document's `https://host`.
  return Object.freeze({ ...document, issuer: document.issuer }) as AuthorizationServerMetadata;
}

/**
 * One endpoint the metadata names, such as `"token_endpoint"`: for a client
 * that presents its certificate, its alias in `mtls_endpoint_aliases` when
 * there is one ([RFC 8705 §5](https://www.rfc-editor.org/rfc/rfc8705#section-5)).
 *
 * @param metadata The checked metadata, if any.
 * @param name The member that names the endpoint.
 * @param mtls Whether the request presents the client's certificate.
 */
export function metadataEndpoint(
  metadata: AuthorizationServerMetadata | undefined,
  name: string,
  mtls: boolean,
): string | undefined {
  const alias = mtls ? metadata?.mtls_endpoint_aliases?.[name] : undefined;
  const endpoint = alias ?? metadata?.[name];
  return typeof endpoint === "string" ? endpoint : undefined;
}

/** Checks one endpoint of a metadata document, as `tokenEndpoint` is checked. */
export function checkMetadataEndpoint(
  asked: string,
  name: string,
  value: unknown,
  allowHttp: boolean,
): void {
  try {
    parseEndpointUrl(value, "metadata", "endpoint", allowHttp);
  } catch (cause) {
    const message = cause instanceof Error ? cause.message : String(cause);
    // parseEndpointUrl says `Cannot create the metadata: "endpoint" <reason>`.
    const reason = message.slice(message.indexOf('"endpoint" ') + '"endpoint" '.length);
    throw new TokenError(`Cannot use the metadata of ${asked}: ${name} ${reason}`, {
      code: "invalid_response",
      cause,
    });
  }
}

function invalid(message: string): TokenError {
  return new TokenError(message, { code: "invalid_response" });
}
