/**
 * What the stand-in {@linkcode AuthServer} serves as its metadata
 * ([RFC 8414](https://www.rfc-editor.org/rfc/rfc8414),
 * [OpenID Connect Discovery 1.0](https://openid.net/specs/openid-connect-discovery-1_0.html)),
 * for the tests of discovery.
 *
 * @module
 */

/**
 * A metadata document of the {@linkcode AuthServer}: RFC 8414's
 * (`oauth-authorization-server`) or OpenID Connect Discovery's
 * (`openid-configuration`).
 *
 * @example Serving RFC 8414's only
 * ```ts
 * import type { MetadataDocument } from "@alf/client/testing";
 *
 * const documents: MetadataDocument[] = ["oauth-authorization-server"];
 * ```
 */
export type MetadataDocument = "oauth-authorization-server" | "openid-configuration";

/**
 * What the {@linkcode AuthServer}'s metadata documents say, for
 * {@linkcode AuthServerOptions.metadata}. By default both are served
 * ([RFC 8414 §3](https://www.rfc-editor.org/rfc/rfc8414#section-3),
 * [OpenID Connect Discovery §4](https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderConfig))
 * with `issuer`, `authorization_endpoint`, `token_endpoint`,
 * `revocation_endpoint`, `device_authorization_endpoint`, `response_types_supported`, `grant_types_supported`,
 * `code_challenge_methods_supported`, `token_endpoint_auth_methods_supported`
 * and `revocation_endpoint_auth_methods_supported` (and the signing
 * algorithms of client assertions, when keys or a secret are registered).
 * Any other well-known path answers 404.
 *
 * @example A document without a token endpoint
 * ```ts
 * import assert from "node:assert/strict";
 * import { type MetadataOptions, startAuthServer } from "@alf/client/testing";
 *
 * const metadata: MetadataOptions = { omit: ["token_endpoint"], members: { scopes_supported: ["read"] } };
 * await using server = await startAuthServer({ metadata });
 * const document = await (await fetch(server.url("/.well-known/openid-configuration"))).json();
 * assert.equal("token_endpoint" in document, false);
 * assert.deepEqual(document.scopes_supported, ["read"]);
 * ```
 */
export interface MetadataOptions {
  /** The documents served. Default: both. */
  documents?: MetadataDocument[];
  /**
   * The `issuer` the documents name, instead of {@linkcode AuthServer.issuer}:
   * a mismatch a client must refuse
   * ([RFC 8414 §3.3](https://www.rfc-editor.org/rfc/rfc8414#section-3.3)).
   */
  issuer?: string;
  /** Members left out, such as `"token_endpoint"`. */
  omit?: string[];
  /** Members added, or replacing the server's (applied after `omit`). */
  members?: Record<string, unknown>;
}

/**
 * Every name of {@linkcode MetadataOptions}: any other name is refused as a
 * misspelling.
 */
export const METADATA_OPTION_NAMES = {
  documents: true,
  issuer: true,
  omit: true,
  members: true,
} as const satisfies Record<keyof MetadataOptions, true>;
