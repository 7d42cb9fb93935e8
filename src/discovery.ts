/**
 * Authorization server metadata: finding the endpoints from the issuer
 * ([RFC 8414](https://www.rfc-editor.org/rfc/rfc8414),
 * [OpenID Connect Discovery 1.0](https://openid.net/specs/openid-connect-discovery-1_0.html)).
 *
 * @module
 */

import { abortable, deadline } from "./_abort.ts";
import { BodyTooLargeError, discard, readBounded } from "./_body.ts";
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
  /** Endpoints to use with mutual TLS ([RFC 8705 §5](https://www.rfc-editor.org/rfc/rfc8705#section-5)). */
  readonly mtls_endpoint_aliases?: Readonly<Record<string, string>>;
  /** Any other member, as sent. */
  readonly [member: string]: unknown;
}

/**
 * Options of {@linkcode discover}.
 *
 * @example A slow server on the local network
 * ```ts
 * import type { DiscoverOptions } from "@alf/client";
 *
 * const options: DiscoverOptions = { allowHttp: true, timeout: 60_000 };
 * ```
 */
export interface DiscoverOptions {
  /** The transport. Default: `globalThis.fetch`. Callers with the same transport share the cache. */
  fetch?: typeof fetch;
  /** Stops waiting; the shared request goes on for other callers. */
  signal?: AbortSignal;
  /** Allow plain `http:` issuer and endpoints on a non-loopback host. Default: `false`. */
  allowHttp?: boolean;
  /** How long the metadata request may take, in milliseconds. Default: 30 000. */
  timeout?: number;
  /** Fetch again, replacing what the cache holds (after the server changed). Default: `false`. */
  reload?: boolean;
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
] as const;

/** Largest metadata document read: 1 MiB. */
const MAX_METADATA_BYTES = 1024 * 1024;
const DEFAULT_TIMEOUT = 30_000;

interface Pending {
  promise: Promise<AuthorizationServerMetadata>;
  controller: AbortController;
  waiters: number;
  /** Removes this request from the cache, if it is still there. */
  forget(): void;
}

/** One cache per transport: metadata read through another `fetch` may differ. */
const cache = new WeakMap<typeof fetch, Map<string, Pending>>();

/**
 * Fetches an authorization server's metadata from its issuer identifier, once
 * per process.
 *
 * Reads the [RFC 8414 §3.1](https://www.rfc-editor.org/rfc/rfc8414#section-3.1)
 * location first (`https://host/tenant` reads
 * `https://host/.well-known/oauth-authorization-server/tenant`) and, when it
 * answers with no metadata (an error status, or a body that is not a JSON
 * object), the OpenID Connect one (`https://host/tenant/.well-known/openid-configuration`).
 * The document's `issuer` must equal the one asked for
 * ([RFC 8414 §3.3](https://www.rfc-editor.org/rfc/rfc8414#section-3.3)):
 * compared as strings, so `https://host` and `https://host/` differ. Its
 * endpoints must use `https:` (or `http:` on a loopback host, or with
 * `allowHttp`), and `token_endpoint` must be present.
 *
 * The result is kept for the life of the process: concurrent and later
 * callers of one issuer share one request. A failure is not kept.
 *
 * @example Finding the token endpoint
 * ```ts
 * import assert from "node:assert/strict";
 * import { discover } from "@alf/client";
 *
 * // A stand-in transport; without one, the server is asked over the network.
 * const fetch = (input: RequestInfo | URL) =>
 *   Promise.resolve(
 *     String(input) === "https://auth.example.com/.well-known/oauth-authorization-server"
 *       ? Response.json({
 *         issuer: "https://auth.example.com",
 *         token_endpoint: "https://auth.example.com/oauth/token",
 *       })
 *       : new Response(null, { status: 404 }),
 *   );
 * const metadata = await discover("https://auth.example.com", { fetch });
 * assert.equal(metadata.token_endpoint, "https://auth.example.com/oauth/token");
 * ```
 *
 * @param issuer The issuer identifier: an `https:` URL without query or fragment.
 * @param options The transport, signal, timeout and `http:` permission.
 * @returns The metadata, frozen.
 * @throws {TypeError} when the issuer is not such a URL, or an option is malformed.
 * @throws {TokenError} when no valid metadata can be had.
 */
export function discover(
  issuer: string | URL,
  options: DiscoverOptions = {},
): Promise<AuthorizationServerMetadata> {
  const allowHttp = options.allowHttp ?? false;
  const url = parseEndpointUrl(issuer, "discovery request", "issuer", allowHttp);
  if (url.search || url.hash || String(issuer).includes("#")) {
    throw new TypeError(
      'Cannot create the discovery request: "issuer" must have no query or fragment',
    );
  }
  const timeout = options.timeout ?? DEFAULT_TIMEOUT;
  if (typeof timeout !== "number" || !(timeout >= 1)) {
    throw new RangeError(
      'Cannot create the discovery request: "timeout" must be a number of milliseconds >= 1',
    );
  }
  const transport = options.fetch ?? globalThis.fetch;
  if (typeof transport !== "function") {
    throw new TypeError('Cannot create the discovery request: "fetch" must be a function');
  }
  // A URL object cannot tell `https://host` from `https://host/`: either is the issuer asked for.
  const names = typeof issuer === "string"
    ? [issuer]
    : url.pathname === "/"
    ? [url.href, url.href.slice(0, -1)]
    : [url.href];
  const key = `${allowHttp}\n${names[0]}`;
  let entries = cache.get(transport);
  if (entries === undefined) cache.set(transport, entries = new Map());
  let pending = options.reload ? undefined : entries.get(key);
  if (pending === undefined) {
    const controller = new AbortController();
    const fetched = fetchMetadata(url, names, transport, timeout, allowHttp, controller.signal);
    const entry: Pending = {
      promise: fetched,
      controller,
      waiters: 0,
      forget: () => {
        if (entries.get(key) === entry) entries.delete(key);
      },
    };
    entries.set(key, entry);
    fetched.catch(entry.forget);
    pending = entry;
  }
  return wait(pending, options.signal);
}

/** Waits for a shared request; the last waiter to give up aborts it. */
async function wait(
  pending: Pending,
  signal: AbortSignal | undefined,
): Promise<AuthorizationServerMetadata> {
  pending.waiters++;
  try {
    return await abortable(pending.promise, signal);
  } finally {
    pending.waiters--;
    if (pending.waiters === 0 && signal?.aborted) {
      // Forgotten now, so that a caller arriving before the rejection settles asks anew.
      pending.forget();
      pending.controller.abort(signal.reason);
    }
  }
}

async function fetchMetadata(
  issuer: URL,
  names: string[],
  transport: typeof fetch,
  timeout: number,
  allowHttp: boolean,
  signal: AbortSignal,
): Promise<AuthorizationServerMetadata> {
  const asked = names[0] ?? issuer.href;
  using bound = deadline(signal, timeout, "The metadata request timed out");
  const failures: string[] = [];
  for (const location of wellKnownUrls(issuer)) {
    let response: Response;
    let text: string;
    try {
      response = await transport(location, {
        headers: { Accept: "application/json" },
        signal: bound.signal,
      });
    } catch (cause) {
      throw failure(asked, cause, bound.signal, timeout, `cannot reach ${location}`);
    }
    if (response.status < 200 || response.status > 299) {
      await discard(response);
      failures.push(`${location} answered ${response.status}`);
      continue;
    }
    try {
      text = new TextDecoder().decode(await readBounded(response, MAX_METADATA_BYTES));
    } catch (cause) {
      throw failure(asked, cause, bound.signal, timeout, `cannot read ${location}`);
    }
    const document = parseObject(text);
    if (document === undefined) {
      // A catch-all page (a single-page app's index.html) answers 200 to any path.
      failures.push(`${location} answered no JSON object`);
      continue;
    }
    if (response.url && response.redirected) {
      checkEndpoint(asked, "the metadata location", response.url, allowHttp);
    }
    return validate(document, asked, names, allowHttp);
  }
  throw new TokenError(`Cannot discover the metadata of ${asked}: ${failures.join("; ")}`);
}

/**
 * The two locations of the metadata: RFC 8414 §3.1 inserts the well-known
 * path before the issuer's path; OpenID Connect Discovery §4 appends it.
 * Both drop a terminating `/` of the path first.
 */
export function wellKnownUrls(issuer: URL): [URL, URL] {
  const path = issuer.pathname.replace(/\/$/, "");
  return [
    new URL(`/.well-known/oauth-authorization-server${path}`, issuer.origin),
    new URL(`${path}/.well-known/openid-configuration`, issuer.origin),
  ];
}

function validate(
  document: Record<string, unknown>,
  asked: string,
  names: string[],
  allowHttp: boolean,
): AuthorizationServerMetadata {
  const what = `Cannot use the metadata of ${asked}`;
  if (typeof document.issuer !== "string" || !names.includes(document.issuer)) {
    // RFC 8414 §3.3: a document for another issuer is an impersonation attempt.
    throw new TokenError(
      `${what}: it names the issuer ${JSON.stringify(document.issuer)} (RFC 8414 §3.3)`,
    );
  }
  if (document.token_endpoint === undefined) {
    throw new TokenError(`${what}: "token_endpoint" is missing`);
  }
  for (const name of ENDPOINTS) {
    if (document[name] !== undefined) checkEndpoint(asked, `"${name}"`, document[name], allowHttp);
  }
  for (const name of LISTS) {
    const list = document[name];
    if (list !== undefined && !(Array.isArray(list) && list.every((v) => typeof v === "string"))) {
      throw new TokenError(`${what}: "${name}" is not a list of strings`);
    }
  }
  const aliases = document.mtls_endpoint_aliases;
  if (aliases !== undefined) {
    if (typeof aliases !== "object" || aliases === null || Array.isArray(aliases)) {
      throw new TokenError(`${what}: "mtls_endpoint_aliases" is not an object`);
    }
    for (const [name, value] of Object.entries(aliases)) {
      checkEndpoint(asked, `"mtls_endpoint_aliases.${name}"`, value, allowHttp);
    }
    Object.freeze(aliases);
  }
  for (const name of LISTS) Object.freeze(document[name]);
  // The issuer as asked: a URL object's `https://host/` matches a document's `https://host`.
  return Object.freeze({ ...document, issuer: document.issuer }) as AuthorizationServerMetadata;
}

function checkEndpoint(asked: string, name: string, value: unknown, allowHttp: boolean): void {
  try {
    parseEndpointUrl(value, "metadata", "endpoint", allowHttp);
  } catch (cause) {
    const message = cause instanceof Error ? cause.message : String(cause);
    // parseEndpointUrl says `Cannot create the metadata: "endpoint" <reason>`.
    const reason = message.slice(message.indexOf('"endpoint" ') + '"endpoint" '.length);
    throw new TokenError(`Cannot use the metadata of ${asked}: ${name} ${reason}`, { cause });
  }
}

function parseObject(text: string): Record<string, unknown> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  return value as Record<string, unknown>;
}

function failure(
  asked: string,
  cause: unknown,
  signal: AbortSignal,
  timeout: number,
  what: string,
): TokenError {
  const prefix = `Cannot discover the metadata of ${asked}`;
  if (cause instanceof BodyTooLargeError) {
    return new TokenError(`${prefix}: the document exceeds ${MAX_METADATA_BYTES} bytes`, {
      cause,
    });
  }
  if (signal.aborted && signal.reason instanceof DOMException) {
    if (signal.reason.name === "TimeoutError") {
      return new TokenError(`${prefix}: the server did not answer within ${timeout} ms`, {
        cause: signal.reason,
      });
    }
  }
  if (signal.aborted) {
    return new TokenError(`${prefix}: the request was aborted`, { cause: signal.reason });
  }
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new TokenError(`${prefix}: ${what}: ${reason}`, { cause });
}
