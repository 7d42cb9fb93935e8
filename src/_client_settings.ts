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
import { checkGrant, type Grant, namesPrincipal } from "./grant.ts";
import { ClientCredentialsGrant } from "./grants/client_credentials.ts";
import { AuthorizationCodeGrant } from "./login/authorization_code_grant.ts";
import { MemoryTokenStorage } from "./storage/memory.ts";
import { checkTokenStorage, type TokenStorage } from "./storage/token_storage.ts";
import type { TokenEndpointOptions } from "./token_endpoint.ts";
import type { TokenProviderOptions } from "./token_provider.ts";
import type { ReplayableRequestOptions } from "./replayable_request.ts";
import { withDebug } from "./_debug.ts";
import { type DpopKeySource, parseDpopOption } from "./_dpop_option.ts";

/**
 * The settings the parts of one client read while it lives, in one object
 * rather than one per part (a process may keep thousands of clients): the
 * token endpoint's, the token provider's (its records' too), each request's,
 * and the client's own. Members a part does not read are no concern of it.
 */
export interface SharedSettings
  extends TokenEndpointOptions, TokenProviderOptions, ReplayableRequestOptions {
  /** The token endpoint as its `href`: a `URL` is made when one is needed. */
  url: string | undefined;
  /** The DPoP key, made on first use, for a client with DPoP. */
  dpop: DpopKeySource | undefined;
  /** The scope, space-joined, as given; `undefined` when none was asked for. */
  scope: string | undefined;
  tokenErrors: "return" | "throw";
  /** The revocation endpoint, when given. */
  revocationEndpoint: URL | undefined;
}

/** {@linkcode ClientOptions} checked, with every default filled in. */
export interface ClientSettings {
  /** For a client that starts from a protected resource: what its discovery starts from. */
  protectedResource:
    | { resource: URL; issuer?: string; clientId?: string; clientName?: string }
    | undefined;
  /** What the client and its parts keep. */
  shared: SharedSettings;
  /** The client's certificate and key, when given. */
  clientCertificate: ClientCertificate | undefined;
  /** Whether `clientCertificate` is presented in TLS: a mutual-TLS method, or `boundAccessTokens`. */
  presentsCertificate: boolean;
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
 * The parameters of every client without any: one instance, which nothing
 * changes (a step-up and a resource's scope change only a protected
 * resource's client's parameters, which name the resource; grants get a copy).
 */
const NO_PARAMS = new URLSearchParams();

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
  const fetch = options.fetch ?? DEFAULT_FETCH;
  return {
    // A protected resource's client finds its issuer and identifier on first use.
    protectedResource: protectedResource &&
      { resource: protectedResource, issuer: issuer && String(issuer), clientId, clientName },
    shared: {
      // The token endpoint's (TokenEndpointOptions).
      url: url?.href,
      issuer: protectedResource ? undefined : issuer,
      clientId: clientId ?? "",
      clientSecret: credentials.clientSecret,
      clientAuth: credentials.clientAuth,
      clientAssertion: credentials.clientAssertion,
      allowHttp,
      fetch,
      now,
      timeout,
      onEvent,
      dpop,
      // The token provider's and its records' (TokenProviderOptions).
      grant,
      storage,
      params: params.size === 0 ? NO_PARAMS : params,
      // Tokens obtained over one certificate are not another's (RFC 8705 §3).
      credential: presents
        ? certificateCredential(clientCertificate!.cert, credentials.credential)
        : credentials.credential,
      // A token bound to one DPoP key is useless with another: each key has its records.
      boundTo: dpop && (async () => await (await dpop()).thumbprint()),
      renewalMargin,
      // Each request's (ReplayableRequestOptions), with `allowHttp` above. No limit is
      // `undefined`: a number member would hold Infinity in a box of its own.
      transport: fetch,
      maxReplayBytes: maxReplayBytes === Infinity ? undefined : maxReplayBytes,
      // The client's own.
      scope,
      tokenErrors,
      revocationEndpoint,
      // Filled in by the client: members of the literal, so the object has room for them.
      mtlsFetch: undefined,
      serverDiscovery: undefined,
      resourceDpop: undefined,
    },
    clientCertificate,
    presentsCertificate: presents,
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
