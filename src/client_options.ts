/**
 * The options of a {@linkcode Client}: their shapes, units and defaults.
 * They are checked, and their defaults filled in, by `_client_settings.ts`:
 * a bad option fails when the client is created.
 *
 * @module
 */

import type { ClientAssertionAudience, ClientKey } from "./client_assertion.ts";
import type { ClientAuthMethod } from "./client_auth.ts";
import type { ClientCertificate } from "./mtls.ts";
import type { ClientEvent } from "./client_event.ts";
import type { DpopAlgorithm } from "./dpop.ts";
import type { Grant } from "./grant.ts";
import type { TokenStorage } from "./storage/token_storage.ts";

/**
 * Options of {@linkcode Client}.
 *
 * @example Options for an API that wants an audience
 * ```ts
 * import { Client, type ClientOptions } from "@alf/client";
 *
 * const options: ClientOptions = {
 *   tokenEndpoint: "https://auth.example.com/oauth/token",
 *   clientId: "id",
 *   clientSecret: "secret",
 *   scope: ["read:orders", "write:orders"],
 *   tokenParams: { audience: "https://api.example.com" },
 *   renewalMargin: 120_000,
 * };
 * await using client = new Client(options);
 * ```
 */
export interface ClientOptions {
  /**
   * The token endpoint
   * ([RFC 6749 §3.2](https://www.rfc-editor.org/rfc/rfc6749#section-3.2)). Must be
   * `https:` unless on a loopback host or `allowHttp` is set. Give this or
   * `issuer`; given with `issuer`, this one is used for token requests.
   */
  tokenEndpoint?: string | URL;
  /**
   * The authorization server's issuer identifier, such as
   * `https://auth.example.com` or a realm's `https://sso.example.com/realms/acme`
   * ([RFC 8414 §2](https://www.rfc-editor.org/rfc/rfc8414#section-2)). Its
   * metadata is fetched on the first request (once per issuer per process;
   * see `discover`) and names the token endpoint when `tokenEndpoint` is not
   * given, the other endpoints, and the client authentication method when
   * `clientAuth` is not given. A document for another issuer, or without a
   * token endpoint, is a `TokenError` and nothing is sent. Also the `aud` of
   * client assertions. Same rule as `tokenEndpoint`; no query or fragment.
   */
  issuer?: string | URL;
  /**
   * The API the client calls, for a client that starts from nothing else
   * ([RFC 9728](https://www.rfc-editor.org/rfc/rfc9728)): on the first request
   * its metadata names the authorization server (the first of
   * `authorization_servers`, or `issuer` when given and listed), whose
   * metadata names the endpoints; without `clientId`, the client registers
   * itself there as a public client
   * ([RFC 7591](https://www.rfc-editor.org/rfc/rfc7591)) and keeps the
   * registration in `storage`. Every authorization and token request carries
   * it as `resource` ([RFC 8707](https://www.rfc-editor.org/rfc/rfc8707)), the
   * scope is the one the resource names when none is given, the login is the
   * installed browser flow's or an `AuthorizationCodeGrant`, and a `403` (or
   * `401`) with `insufficient_scope` and a `scope` asks once for the union of
   * the scopes, then replays (step-up). Not with `tokenEndpoint`. Same URL
   * rule as `tokenEndpoint`; no fragment.
   */
  protectedResource?: string | URL;
  /**
   * The revocation endpoint of {@linkcode Client.prototype.revoke}
   * ([RFC 7009 §2](https://www.rfc-editor.org/rfc/rfc7009#section-2)); same rule as
   * `tokenEndpoint`. Default: the `revocation_endpoint` of the issuer's metadata.
   */
  revocationEndpoint?: string | URL;
  /**
   * The client identifier ([RFC 6749 §2.2](https://www.rfc-editor.org/rfc/rfc6749#section-2.2)).
   * Required, unless `protectedResource` is given: the client then registers
   * itself.
   */
  clientId?: string;
  /**
   * The `client_name` of a dynamic registration, which the server may show
   * the user ([RFC 7591 §2](https://www.rfc-editor.org/rfc/rfc7591#section-2)).
   * Only with `protectedResource` and no `clientId`.
   */
  clientName?: string;
  /** The client secret; omit it (or pass `""`) for a public client. */
  clientSecret?: string;
  /**
   * The requested scope: a space-separated string or a list, sent space-joined
   * ([RFC 6749 §3.3](https://www.rfc-editor.org/rfc/rfc6749#section-3.3)).
   */
  scope?: string | string[];
  /**
   * Extra parameters of every token request, such as `audience` or `resource`
   * ([RFC 8707](https://www.rfc-editor.org/rfc/rfc8707); a list sends the
   * parameter once per item).
   */
  tokenParams?: Record<string, string | string[]>;
  /**
   * How the client authenticates at the token endpoint. Default:
   * `"private_key_jwt"` when there is a `clientKey`; with a secret,
   * `"client_secret_basic"`, or for a token endpoint found from `issuer` the
   * first of `client_secret_basic`, `client_secret_post` and
   * `client_secret_jwt` its metadata lists (`token_endpoint_auth_methods_supported`);
   * else `"none"`. The mutual-TLS methods, `"tls_client_auth"` and
   * `"self_signed_tls_client_auth"`, need a `clientCertificate`.
   */
  clientAuth?: ClientAuthMethod;
  /**
   * The private key of `private_key_jwt`
   * ([RFC 7523 §2.2](https://www.rfc-editor.org/rfc/rfc7523#section-2.2)): a
   * `CryptoKey`, a private JWK, or a PEM string (PKCS#8; PKCS#1 and SEC1 too).
   * RS256, PS256, ES256 or EdDSA by the key's type. A key that cannot sign is
   * a `TypeError` when the client is created. Never shown by inspect, JSON or
   * errors; only a fingerprint of it goes into the storage key.
   */
  clientKey?: ClientKey;
  /** The `kid` of `clientKey`, sent in the assertions' header. Default: the JWK's `kid`, if any. */
  clientKeyId?: string;
  /**
   * The `aud` of client assertions: `"issuer"` (default: the issuer when
   * known, else the token endpoint), `"token_endpoint"` (Entra ID), or
   * `"endpoint"`, the URL each request goes to (Okta).
   */
  clientAssertionAudience?: ClientAssertionAudience;
  /**
   * The client's X.509 certificate and its private key, as PEM. With
   * `private_key_jwt`, the assertions carry the certificate's thumbprints
   * (`x5t#S256` and `x5t`, [RFC 7515 §4.1.8](https://www.rfc-editor.org/rfc/rfc7515#section-4.1.8)),
   * and its key signs them when `clientKey` is not given: the certificate
   * credentials of Microsoft Entra ID. With `clientAuth` `"tls_client_auth"`
   * or `"self_signed_tls_client_auth"`, or `boundAccessTokens`, it is
   * presented in the TLS handshake (mutual TLS,
   * [RFC 8705](https://www.rfc-editor.org/rfc/rfc8705)) to the token and
   * revocation endpoints (their `mtls_endpoint_aliases` when discovered), and
   * with `boundAccessTokens` to resources too, through a `Deno.HttpClient`
   * that `close()` frees: Deno only.
   */
  clientCertificate?: ClientCertificate;
  /**
   * Where tokens are kept. Default: the storage of the installed browser login
   * flow (see `useImplicitFlow`) when the client uses it; else, for the client
   * credentials grant or a grant whose `identity()` names its principal (see
   * {@linkcode Grant.identity}), `MemoryTokenStorage.shared`, one storage for
   * the whole process (the key names the endpoint, client, credential, grant,
   * identity and parameters); else (a browser login, a custom grant without
   * `identity()`) a `MemoryTokenStorage` of this client's own, so that two
   * users' clients never share a token.
   */
  storage?: TokenStorage;
  /**
   * How tokens are obtained. Default: the grant of the installed browser login
   * flow (see `useImplicitFlow`) if there is one, else the client credentials
   * grant ([RFC 6749 §4.4](https://www.rfc-editor.org/rfc/rfc6749#section-4.4)).
   */
  grant?: Grant;
  /** The transport for token and resource requests. Default: `globalThis.fetch`. */
  fetch?: typeof fetch;
  /** The clock for token expiry, in epoch milliseconds. Default: `Date.now`. */
  now?: () => number;
  /**
   * How long before a token expires to renew it, in milliseconds; never more
   * than half the token's lifetime. Default: 60 000. Not a timer: any finite
   * number >= 0 (a margin above half of every lifetime renews at half-life).
   */
  renewalMargin?: number;
  /**
   * How long one token request may take, in milliseconds, from 1 to
   * 2 147 483 647 (about 24.8 days: the longest a timer can wait; a longer
   * value is refused rather than firing at once). Default: 30 000.
   */
  tokenTimeout?: number;
  /**
   * What `fetch` does when the token endpoint answers with an HTTP error:
   * `"return"` its response (default, as alf did) or `"throw"` a
   * {@linkcode TokenError}.
   */
  tokenErrors?: "return" | "throw";
  /**
   * Allow plain `http:` to hosts that are not loopback hosts, for both the
   * token endpoint and the requests that carry the token. Without it, a
   * bearer token goes over `http:` only to `localhost`, `127.x.x.x` or
   * `[::1]` ([RFC 6750 §5.3](https://www.rfc-editor.org/rfc/rfc6750#section-5.3):
   * a client must use TLS), and `fetch` rejects any other `http:` URL with a
   * `TypeError` before a token is obtained. Default: `false`.
   */
  allowHttp?: boolean;
  /**
   * The most bytes of a streamed body kept for the replay after a 401: a
   * `ReadableStream` or an (async) iterable given as `init.body`, or the body
   * of a `Request` input. A longer body stops being copied once it passes the
   * limit (its memory is freed) and a 401 to it is returned as it is, while
   * the token is renewed for the next requests. With a finite limit a
   * `Request` input's body is counted on its way, so it is sent as a stream
   * (chunked). Default: `Infinity`, every body is replayed. Bodies given in
   * `init` as strings, bytes, `Blob`s, forms or `URLSearchParams` are always
   * replayed: they cost no stream copy.
   */
  maxReplayBytes?: number;
  /**
   * Sender-constrained tokens with DPoP
   * ([RFC 9449](https://www.rfc-editor.org/rfc/rfc9449)): `true` makes an
   * ES256 key pair for this client on first use (its private key cannot be
   * exported); `{ algorithm }` makes one of another type; `{ keyPair }` uses
   * yours (for tokens shared across processes, see the README). Every token
   * request and every resource request then carries a proof (`DPoP`
   * header, §4), tokens go as `Authorization: DPoP <token>` (§7), and the
   * servers' nonces are followed (§8, §9). Only DPoP-bound tokens are used: a
   * token endpoint that answers `token_type: Bearer` gets a `TokenError`
   * (`invalid_response`), never a silent downgrade. Default: off; a client
   * without DPoP refuses DPoP-bound tokens.
   */
  dpop?: boolean | DpopOptions;
  /** Receives token requests and background failures; see {@linkcode ClientEvent}. */
  onEvent?: (event: ClientEvent) => void;
  /**
   * Print every event to stderr, one line each, never a token or secret. Default: whether
   * `ALF_DEBUG` is set (read only when the env permission for it is granted, so never a prompt).
   */
  debug?: boolean;
}

/**
 * Every name of {@linkcode ClientOptions}: any other name is refused as a
 * misspelling. The type requires each name of the interface and no other, so
 * the two cannot drift apart.
 */
export const CLIENT_OPTION_NAMES = {
  tokenEndpoint: true,
  issuer: true,
  protectedResource: true,
  clientName: true,
  revocationEndpoint: true,
  clientId: true,
  clientSecret: true,
  scope: true,
  tokenParams: true,
  clientAuth: true,
  clientKey: true,
  clientKeyId: true,
  clientAssertionAudience: true,
  clientCertificate: true,
  storage: true,
  grant: true,
  fetch: true,
  now: true,
  renewalMargin: true,
  tokenTimeout: true,
  tokenErrors: true,
  allowHttp: true,
  maxReplayBytes: true,
  dpop: true,
  onEvent: true,
  debug: true,
} as const satisfies Record<keyof ClientOptions, true>;

/**
 * The `dpop` option of a {@linkcode ClientOptions} as an object: the key
 * pair to prove possession with, or the algorithm of the one to make.
 *
 * @example Your own key pair, kept across restarts
 * ```ts
 * import { Client, type DpopOptions } from "@alf/client";
 *
 * const keyPair = await crypto.subtle.generateKey(
 *   { name: "ECDSA", namedCurve: "P-256" },
 *   false,
 *   ["sign", "verify"],
 * );
 * const dpop: DpopOptions = { keyPair };
 * await using client = new Client({
 *   tokenEndpoint: "https://auth.example.com/token",
 *   clientId: "id",
 *   dpop,
 * });
 * ```
 */
export interface DpopOptions {
  /**
   * Your key pair: ECDSA P-256 (ES256), Ed25519 (EdDSA), RSASSA-PKCS1-v1_5
   * (RS256) or RSA-PSS (PS256), with SHA-256. Its public key must be
   * exportable (it goes into each proof); its private key need not be.
   */
  keyPair?: CryptoKeyPair;
  /** The algorithm of the key pair the client makes, when no `keyPair` is given. Default: `"ES256"`. */
  algorithm?: DpopAlgorithm;
}
