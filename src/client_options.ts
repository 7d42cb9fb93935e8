/**
 * The options of a {@linkcode Client}, and the one place that checks them and
 * fills in their defaults: a bad option fails when the client is created.
 *
 * @module
 */

import { checkDuration } from "./_duration.ts";
import { parseEndpointUrl } from "./_endpoint_url.ts";
import { checkKnownOptions } from "./_known_options.ts";
import { CLIENT_AUTH_METHODS, type ClientAuthMethod } from "./client_auth.ts";
import type { ClientEvent } from "./client_event.ts";
import { checkGrant, type Grant } from "./grant.ts";
import { ClientCredentialsGrant } from "./grants/client_credentials.ts";
import { MemoryTokenStorage } from "./storage/memory.ts";
import { checkTokenStorage, type TokenStorage } from "./storage/token_storage.ts";
import type { TokenEndpointOptions } from "./token_endpoint.ts";

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
   * `https:` unless on a loopback host or `allowHttp` is set.
   */
  tokenEndpoint: string | URL;
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
   * `"client_secret_basic"` when there is a secret, else `"none"`.
   */
  clientAuth?: ClientAuthMethod;
  /**
   * Where tokens are kept. Default: the storage of the installed browser login
   * flow (see `useImplicitFlow`) when the client uses it, else
   * `MemoryTokenStorage.shared`, one storage for the whole process (the key
   * names the endpoint, client, credential, grant and parameters).
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
}

/**
 * Every name of {@linkcode ClientOptions}: any other name is refused as a
 * misspelling. The type requires each name of the interface and no other, so
 * the two cannot drift apart.
 */
export const CLIENT_OPTION_NAMES = {
  tokenEndpoint: true,
  clientId: true,
  clientSecret: true,
  scope: true,
  tokenParams: true,
  clientAuth: true,
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
} as const satisfies Record<keyof ClientOptions, true>;

/** {@linkcode ClientOptions} checked, with every default filled in. */
export interface ClientSettings {
  /** The token endpoint, credentials, transport, clock and token timeout. */
  endpoint: TokenEndpointOptions;
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
 * Parameters the client or a grant sets itself
 * ([RFC 6749 §3.1](https://www.rfc-editor.org/rfc/rfc6749#section-3.1): none may appear twice).
 */
const RESERVED_PARAMS = new Set([
  "grant_type",
  "client_id",
  "client_secret",
  "scope",
  "redirect_uri",
  "response_type",
  "state",
  "code",
  "code_verifier",
  "code_challenge",
  "code_challenge_method",
  "refresh_token",
]);

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
  const url = parseTokenEndpoint(options.tokenEndpoint, allowHttp);
  const { clientId, clientSecret } = options;
  if (typeof clientId !== "string" || clientId === "") {
    throw new TypeError('Cannot create the client: "clientId" must be a non-empty string');
  }
  if (clientSecret !== undefined && typeof clientSecret !== "string") {
    throw new TypeError('Cannot create the client: "clientSecret" must be a string');
  }
  const clientAuth = options.clientAuth ?? (clientSecret ? "client_secret_basic" : "none");
  if (!CLIENT_AUTH_METHODS.includes(clientAuth)) {
    throw new TypeError(
      `Cannot create the client: "clientAuth" must be one of ${CLIENT_AUTH_METHODS.join(", ")}`,
    );
  }
  if (clientAuth !== "none" && !clientSecret) {
    throw new TypeError(
      `Cannot create the client: "clientAuth" ${clientAuth} needs a "clientSecret"`,
    );
  }
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
  for (const name of ["fetch", "now", "onEvent"] as const) {
    if (options[name] !== undefined && typeof options[name] !== "function") {
      throw new TypeError(`Cannot create the client: "${name}" must be a function`);
    }
  }
  // A client without a grant of its own uses the installed browser login flow, if any.
  const flow = options.grant === undefined ? defaultFlow() : undefined;
  const storage = options.storage ?? flow?.storage ?? MemoryTokenStorage.shared;
  checkTokenStorage(storage, "create the client");
  const grant = checkGrant(
    options.grant ?? flow?.grant ?? new ClientCredentialsGrant(),
    "create the client",
    "grant",
  );
  const scope = parseScope(options.scope);
  const params = parseParams(options.tokenParams);
  if (scope !== undefined) params.append("scope", scope);
  return {
    endpoint: {
      url,
      clientId,
      clientSecret,
      clientAuth,
      fetch: options.fetch ?? ((input, init) => globalThis.fetch(input, init)),
      now: options.now ?? Date.now,
      timeout,
    },
    grant,
    storage,
    params,
    scope,
    renewalMargin,
    maxReplayBytes,
    allowHttp,
    tokenErrors,
    onEvent: options.onEvent,
  };
}

function parseTokenEndpoint(value: unknown, allowHttp: boolean): URL {
  return parseEndpointUrl(value, "client", "tokenEndpoint", allowHttp);
}

function parseScope(scope: unknown): string | undefined {
  if (scope === undefined) return undefined;
  const parts = typeof scope === "string" ? [scope] : scope;
  if (!Array.isArray(parts) || parts.some((part) => typeof part !== "string")) {
    throw new TypeError('Cannot create the client: "scope" must be a string or a list of strings');
  }
  const joined = parts.join(" ").trim().split(/\s+/).filter(Boolean).join(" ");
  return joined === "" ? undefined : joined;
}

function parseParams(params: unknown): URLSearchParams {
  const form = new URLSearchParams();
  if (params === undefined) return form;
  if (typeof params !== "object" || params === null) {
    throw new TypeError('Cannot create the client: "tokenParams" must be an object');
  }
  for (const [name, value] of Object.entries(params)) {
    if (RESERVED_PARAMS.has(name)) {
      throw new TypeError(
        `Cannot create the client: "tokenParams" cannot set "${name}"; use its own option`,
      );
    }
    const values = Array.isArray(value) ? value : [value];
    if (values.some((item) => typeof item !== "string")) {
      throw new TypeError(
        `Cannot create the client: "tokenParams.${name}" must be a string or a list of strings`,
      );
    }
    for (const item of values) form.append(name, item);
  }
  return form;
}
