/**
 * The options of a {@linkcode Client}, and the one place that checks them and
 * fills in their defaults: a bad option fails when the client is created.
 *
 * @module
 */

import { parseClientCredentials } from "./_client_credentials.ts";
import { checkDuration } from "./_duration.ts";
import { parseEndpointUrl } from "./_endpoint_url.ts";
import { checkKnownOptions } from "./_known_options.ts";
import type { ClientAssertionAudience, ClientKey } from "./client_assertion.ts";
import type { ClientAuthMethod } from "./client_auth.ts";
import { parseParams, parseScope } from "./_token_params.ts";
import { parseIssuer } from "./discovery.ts";
import {
  certificateCredential,
  type ClientCertificate,
  parseClientCertificate,
  presentsCertificate,
} from "./mtls.ts";
import type { ClientEvent } from "./client_event.ts";
import { checkGrant, type Grant, namesPrincipal } from "./grant.ts";
import { ClientCredentialsGrant } from "./grants/client_credentials.ts";
import { MemoryTokenStorage } from "./storage/memory.ts";
import { checkTokenStorage, type TokenStorage } from "./storage/token_storage.ts";
import type { TokenEndpointOptions } from "./token_endpoint.ts";
import { withDebug } from "./_debug.ts";

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
   * The revocation endpoint of {@linkcode Client.prototype.revoke}
   * ([RFC 7009 §2](https://www.rfc-editor.org/rfc/rfc7009#section-2)); same rule as
   * `tokenEndpoint`. Default: the `revocation_endpoint` of the issuer's metadata.
   */
  revocationEndpoint?: string | URL;
  /** The client identifier ([RFC 6749 §2.2](https://www.rfc-editor.org/rfc/rfc6749#section-2.2)). */
  clientId: string;
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
  onEvent: true,
  debug: true,
} as const satisfies Record<keyof ClientOptions, true>;

/** {@linkcode ClientOptions} checked, with every default filled in. */
export interface ClientSettings {
  /** The token endpoint (or issuer), credentials, transport, clock and token timeout. */
  endpoint: TokenEndpointOptions;
  /**
   * What tells the client's credentials apart in the storage key (the
   * secret, or the key's public members or bytes): hashed there, never stored.
   */
  credential: string | undefined;
  /** The client's certificate and key, when given. */
  clientCertificate: ClientCertificate | undefined;
  /** Whether `clientCertificate` is presented in TLS: a mutual-TLS method, or `boundAccessTokens`. */
  presentsCertificate: boolean;
  /** The revocation endpoint, when given. */
  revocationEndpoint: URL | undefined;
  grant: Grant;
  storage: TokenStorage;
  /** Parameters of every token request: `tokenParams`, then `scope`. */
  params: URLSearchParams;
  /** The scope, space-joined; `undefined` when none was asked for. */
  scope: string | undefined;
  renewalMargin: number;
  maxReplayBytes: number;
  /** Whether plain `http:` may go to hosts that are not loopback hosts (token endpoint and resources). */
  allowHttp: boolean;
  tokenErrors: "return" | "throw";
  onEvent: ((event: ClientEvent) => void) | undefined;
}

/** The grant and storage a client without a grant of its own falls back to. */
export interface DefaultFlow {
  readonly grant: Grant;
  readonly storage: TokenStorage;
}

const DEFAULT_RENEWAL_MARGIN = 60_000;
const DEFAULT_TOKEN_TIMEOUT = 30_000;
/**
 * The one transport of clients without their own: discovery keeps one cache
 * per transport, so clients of one issuer share one metadata request.
 */
const DEFAULT_FETCH: typeof fetch = (input, init) => globalThis.fetch(input, init);

/**
 * Checks a client's options and fills in their defaults.
 *
 * @param options The options given to `new Client()`.
 * @param defaultFlow The installed browser login flow, if any: asked only when
 *   no `grant` is given.
 * @throws {TypeError} when an option is missing, malformed or unknown.
 * @throws {RangeError} when a number option is out of range.
 */
export function parseClientOptions(
  options: ClientOptions,
  defaultFlow: () => DefaultFlow | undefined,
): ClientSettings {
  if (typeof options !== "object" || options === null) {
    throw new TypeError("Cannot create the client: options must be an object");
  }
  checkKnownOptions(options, CLIENT_OPTION_NAMES, "client");
  const allowHttp = options.allowHttp ?? false;
  if (typeof allowHttp !== "boolean") {
    throw new TypeError('Cannot create the client: "allowHttp" must be a boolean');
  }
  if (options.tokenEndpoint === undefined && options.issuer === undefined) {
    throw new TypeError('Cannot create the client: give "tokenEndpoint" or "issuer"');
  }
  const url = options.tokenEndpoint === undefined
    ? undefined
    : parseTokenEndpoint(options.tokenEndpoint, allowHttp);
  const issuer = options.issuer === undefined
    ? undefined
    : (parseIssuer(options.issuer, "client", "issuer", allowHttp), options.issuer);
  const revocationEndpoint = options.revocationEndpoint === undefined
    ? undefined
    : parseEndpointUrl(options.revocationEndpoint, "client", "revocationEndpoint", allowHttp);
  const { clientId } = options;
  if (typeof clientId !== "string" || clientId === "") {
    throw new TypeError('Cannot create the client: "clientId" must be a non-empty string');
  }
  for (const name of ["fetch", "now", "onEvent"] as const) {
    if (options[name] !== undefined && typeof options[name] !== "function") {
      throw new TypeError(`Cannot create the client: "${name}" must be a function`);
    }
  }
  const now = options.now ?? Date.now;
  const onEvent = withDebug(options.onEvent, options.debug);
  const clientCertificate = parseClientCertificate(options.clientCertificate, options.clientAuth);
  const credentials = parseClientCredentials({
    ...options,
    clientId,
    certificate: clientCertificate?.cert,
    certificateKey: clientCertificate?.key,
    now,
    discovered: url === undefined,
  });
  const presents = presentsCertificate(clientCertificate, credentials.clientAuth);
  // A margin is compared with lifetimes, never waited for: any finite size.
  const renewalMargin = checkDuration(options.renewalMargin, {
    context: "client",
    option: "renewalMargin",
    fallback: DEFAULT_RENEWAL_MARGIN,
    min: 0,
    max: Infinity,
  });
  const timeout = checkDuration(options.tokenTimeout, {
    context: "client",
    option: "tokenTimeout",
    fallback: DEFAULT_TOKEN_TIMEOUT,
    min: 1,
  });
  const maxReplayBytes = options.maxReplayBytes ?? Infinity;
  if (typeof maxReplayBytes !== "number" || !(maxReplayBytes >= 0)) {
    throw new RangeError(
      'Cannot create the client: "maxReplayBytes" must be a number of bytes >= 0 (or Infinity)',
    );
  }
  const tokenErrors = options.tokenErrors ?? "return";
  if (tokenErrors !== "return" && tokenErrors !== "throw") {
    throw new TypeError('Cannot create the client: "tokenErrors" must be "return" or "throw"');
  }
  // A client without a grant of its own uses the installed browser login flow, if any.
  const flow = options.grant === undefined ? defaultFlow() : undefined;
  const grant = checkGrant(
    options.grant ?? flow?.grant ?? new ClientCredentialsGrant(),
    "create the client",
    "grant",
  );
  // The process-wide storage only where the key names whom a token is for.
  const storage = options.storage ?? flow?.storage ??
    (namesPrincipal(grant) ? MemoryTokenStorage.shared : new MemoryTokenStorage());
  checkTokenStorage(storage, "create the client");
  const scope = parseScope(options.scope);
  const params = parseParams(options.tokenParams);
  if (scope !== undefined) params.append("scope", scope);
  return {
    endpoint: {
      url,
      issuer,
      clientId,
      clientSecret: credentials.clientSecret,
      clientAuth: credentials.clientAuth,
      clientAssertion: credentials.clientAssertion,
      allowHttp,
      fetch: options.fetch ?? DEFAULT_FETCH,
      now,
      timeout,
      onEvent,
    },
    // Tokens obtained over one certificate are not another's (RFC 8705 §3).
    credential: presents
      ? certificateCredential(clientCertificate!.cert, credentials.credential)
      : credentials.credential,
    clientCertificate,
    presentsCertificate: presents,
    revocationEndpoint,
    grant,
    storage,
    params,
    scope,
    renewalMargin,
    maxReplayBytes,
    allowHttp,
    tokenErrors,
    onEvent,
  };
}

function parseTokenEndpoint(value: unknown, allowHttp: boolean): URL {
  return parseEndpointUrl(value, "client", "tokenEndpoint", allowHttp);
}
