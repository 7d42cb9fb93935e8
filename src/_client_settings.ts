// A client's options checked, with every default filled in: the one place
// that parses `ClientOptions`.

import { parseClientCredentials } from "./_client_credentials.ts";
import { checkDuration } from "./_duration.ts";
import { parseEndpointUrl } from "./_endpoint_url.ts";
import { checkKnownOptions } from "./_known_options.ts";
import { parseParams, parseScope } from "./_token_params.ts";
import { CLIENT_OPTION_NAMES, type ClientOptions } from "./client_options.ts";
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
import { AuthorizationCodeGrant } from "./login/authorization_code_grant.ts";
import { MemoryTokenStorage } from "./storage/memory.ts";
import { checkTokenStorage, type TokenStorage } from "./storage/token_storage.ts";
import type { TokenEndpointOptions } from "./token_endpoint.ts";
import { withDebug } from "./_debug.ts";
import { type DpopKeySource, parseDpopOption } from "./_dpop_option.ts";

/** {@linkcode ClientOptions} checked, with every default filled in. */
export interface ClientSettings {
  /** For a client that starts from a protected resource: what its discovery starts from. */
  protectedResource:
    | { resource: URL; issuer?: string; clientId?: string; clientName?: string }
    | undefined;
  /** The token endpoint (or issuer), credentials, transport, clock and token timeout. */
  endpoint: TokenEndpointOptions & { dpop?: DpopKeySource };
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

/** The default grant: stateless, so one instance serves every client. */
const CLIENT_CREDENTIALS = new ClientCredentialsGrant();

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
  const protectedResource = options.protectedResource === undefined
    ? undefined
    : parseProtectedResource(options.protectedResource, allowHttp);
  if (protectedResource && options.tokenEndpoint !== undefined) {
    throw new TypeError(
      'Cannot create the client: give "protectedResource" or "tokenEndpoint", not both (the resource\'s metadata names the authorization server)',
    );
  }
  if (!protectedResource && options.tokenEndpoint === undefined && options.issuer === undefined) {
    throw new TypeError(
      'Cannot create the client: give "tokenEndpoint", "issuer" or "protectedResource"',
    );
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
  const { clientId, clientName } = options;
  if (
    (clientId !== undefined || !protectedResource) &&
    (typeof clientId !== "string" || clientId === "")
  ) {
    throw new TypeError('Cannot create the client: "clientId" must be a non-empty string');
  }
  if (clientName !== undefined && (clientId !== undefined || !protectedResource)) {
    throw new TypeError(
      'Cannot create the client: "clientName" names a registration: give it with "protectedResource" and no "clientId"',
    );
  }
  if (clientName !== undefined && (typeof clientName !== "string" || clientName === "")) {
    throw new TypeError('Cannot create the client: "clientName" must be a non-empty string');
  }
  for (const name of ["fetch", "now", "onEvent"] as const) {
    if (options[name] !== undefined && typeof options[name] !== "function") {
      throw new TypeError(`Cannot create the client: "${name}" must be a function`);
    }
  }
  const now = options.now ?? Date.now;
  const dpop = parseDpopOption(options.dpop, now);
  const onEvent = withDebug(options.onEvent, options.debug);
  const clientCertificate = parseClientCertificate(options.clientCertificate, options.clientAuth);
  const credentials = parseClientCredentials({
    ...options,
    clientId: clientId ?? "",
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
    options.grant ?? flow?.grant ??
      (protectedResource ? new AuthorizationCodeGrant() : CLIENT_CREDENTIALS),
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
  // RFC 8707: the token is for this resource.
  if (protectedResource && !params.has("resource")) {
    params.append("resource", protectedResource.href);
  }
  return {
    // A protected resource's client finds its issuer and identifier on first use.
    protectedResource: protectedResource &&
      { resource: protectedResource, issuer: issuer && String(issuer), clientId, clientName },
    endpoint: {
      url,
      issuer: protectedResource ? undefined : issuer,
      clientId: clientId ?? "",
      clientSecret: credentials.clientSecret,
      clientAuth: credentials.clientAuth,
      clientAssertion: credentials.clientAssertion,
      allowHttp,
      fetch: options.fetch ?? DEFAULT_FETCH,
      now,
      timeout,
      onEvent,
      dpop,
      // Filled in by the client: members of the literal, so the object has room for them.
      mtlsFetch: undefined,
      serverDiscovery: undefined,
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

/** The `protectedResource` option: an endpoint URL without a fragment. */
function parseProtectedResource(value: unknown, allowHttp: boolean): URL {
  const url = parseEndpointUrl(value, "client", "protectedResource", allowHttp);
  if (url.hash || String(value).includes("#")) {
    throw new TypeError('Cannot create the client: "protectedResource" must have no fragment');
  }
  if (url.search) {
    // RFC 8707 §2: a resource indicator should have no query, where secrets often are.
    throw new TypeError('Cannot create the client: "protectedResource" must have no query');
  }
  return url;
}
