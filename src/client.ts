/**
 * The client: a `fetch` that obtains, caches and renews bearer tokens, and
 * replays a request once after a 401.
 *
 * @module
 */

import { discard } from "./_body.ts";
import { parseEndpointUrl } from "./_endpoint_url.ts";
import { redactInspect } from "./_redact.ts";
import { sha256Hex } from "./_sha256.ts";
import { CLIENT_AUTH_METHODS, type ClientAuthMethod } from "./client_auth.ts";
import type { ClientEvent } from "./client_event.ts";
import { checkGrant, type Grant } from "./grant.ts";
import { installedFlow } from "./flows/installed.ts";
import { ClientCredentialsGrant } from "./grants/client_credentials.ts";
import { MemoryTokenStorage } from "./storage/memory.ts";
import { checkTokenStorage, type TokenStorage } from "./storage/token_storage.ts";
import { authorizationValue, type Token } from "./token.ts";
import { type ErrorResponse, TokenEndpoint, toResponse } from "./token_endpoint.ts";
import { TokenProvider } from "./token_provider.ts";

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
  /** The token endpoint (RFC 6749 §3.2). Must be `https:` unless on a loopback host or `allowHttp` is set. */
  tokenEndpoint: string | URL;
  /** The client identifier (RFC 6749 §2.2). */
  clientId: string;
  /** The client secret; omit it (or pass `""`) for a public client. */
  clientSecret?: string;
  /** The requested scope: a space-separated string or a list, sent space-joined (RFC 6749 §3.3). */
  scope?: string | string[];
  /**
   * Extra parameters of every token request, such as `audience` or `resource`
   * (RFC 8707; a list sends the parameter once per item).
   */
  tokenParams?: Record<string, string | string[]>;
  /**
   * How the client authenticates at the token endpoint. Default:
   * `"client_secret_basic"` when there is a secret, else `"none"`.
   */
  clientAuth?: ClientAuthMethod;
  /**
   * Where tokens are kept. Default: the storage of the installed browser login
   * flow (see `useImplicitFlow`) when the client uses it, else a new
   * {@linkcode MemoryTokenStorage}.
   */
  storage?: TokenStorage;
  /**
   * How tokens are obtained. Default: the grant of the installed browser login
   * flow (see `useImplicitFlow`) if there is one, else the client credentials
   * grant (RFC 6749 §4.4).
   */
  grant?: Grant;
  /** The transport for token and resource requests. Default: `globalThis.fetch`. */
  fetch?: typeof fetch;
  /** The clock for token expiry, in epoch milliseconds. Default: `Date.now`. */
  now?: () => number;
  /**
   * How long before a token expires to renew it, in milliseconds; never more
   * than half the token's lifetime. Default: 60 000.
   */
  renewalMargin?: number;
  /** How long one token request may take, in milliseconds. Default: 30 000. */
  tokenTimeout?: number;
  /**
   * What `fetch` does when the token endpoint answers with an HTTP error:
   * `"return"` its response (default, as alf did) or `"throw"` a
   * {@linkcode TokenError}.
   */
  tokenErrors?: "return" | "throw";
  /** Allow a plain `http:` token endpoint on a non-loopback host. Default: `false`. */
  allowHttp?: boolean;
  /**
   * The most bytes of a `ReadableStream` given as `init.body` kept for the
   * replay after a 401 (a `Request` input's stream is always copied whole). A longer stream stops being copied once it passes the limit (its
   * memory is freed) and a 401 to it is returned as it is, while the token is
   * renewed for the next requests. Default: `Infinity`, every stream is
   * replayed. Bodies given as strings, bytes, `Blob`s or forms are always
   * replayed: they cost no copy.
   */
  maxReplayBytes?: number;
  /** Receives token requests and background failures; see {@linkcode ClientEvent}. */
  onEvent?: (event: ClientEvent) => void;
}

/**
 * Options of {@linkcode Client.prototype.getToken}.
 *
 * @example Giving up after a second
 * ```ts
 * import type { GetTokenOptions } from "@alf/client";
 *
 * const options: GetTokenOptions = { signal: AbortSignal.timeout(1000) };
 * ```
 */
export interface GetTokenOptions {
  /** Stops waiting for the token. */
  signal?: AbortSignal;
}

const DEFAULT_RENEWAL_MARGIN = 60_000;
const DEFAULT_TOKEN_TIMEOUT = 30_000;
/** Parameters the client or a grant sets itself (RFC 6749 §3.1: none may appear twice). */
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
 * An OAuth 2 client whose `fetch` sends `Authorization: Bearer <token>` and
 * does the token work itself.
 *
 * Before the first request it obtains a token (client credentials by
 * default), keeps it until it expires and renews it early, in the background.
 * A 401 from the resource renews the token and replays the request once, body
 * included. When the token endpoint answers with an HTTP error, `fetch`
 * returns that response and the resource is not called.
 *
 * @example Calling a protected API
 * ```ts
 * import assert from "node:assert/strict";
 * import { Client } from "@alf/client";
 * import { startAuthServer } from "@alf/client/testing";
 *
 * await using server = await startAuthServer();
 * await using client = new Client({
 *   tokenEndpoint: server.tokenEndpoint,
 *   clientId: "client-id",
 *   clientSecret: "secret",
 * });
 * const response = await client.fetch(server.resourceUrl);
 * assert(response.status === 200);
 * await response.body?.cancel();
 * ```
 */
export class Client implements AsyncDisposable {
  readonly #endpoint: TokenEndpoint;
  readonly #provider: TokenProvider;
  readonly #transport: typeof fetch;
  readonly #throwTokenErrors: boolean;
  readonly #maxReplayBytes: number;
  readonly #summary: Record<string, unknown>;
  #closed = false;

  static {
    redactInspect(Client, (client) => ({ ...client.#summary, closed: client.#closed }));
  }

  /**
   * Sends a request like global `fetch`, with a bearer token.
   *
   * Same contract as `fetch(input, init)`, and works detached
   * (`const f: typeof fetch = client.fetch`). Rejects with a
   * {@linkcode TokenError} when no token can be obtained and there is no
   * error response to return.
   *
   * @example Detached use
   * ```ts
   * import assert from "node:assert/strict";
   * import { Client } from "@alf/client";
   * import { startAuthServer } from "@alf/client/testing";
   *
   * await using server = await startAuthServer();
   * await using client = new Client({
   *   tokenEndpoint: server.tokenEndpoint,
   *   clientId: "id",
   *   clientSecret: "secret",
   * });
   * const f: typeof fetch = client.fetch;
   * const response = await f(server.resourceUrl, { method: "POST", body: "hello" });
   * assert(response.ok);
   * await response.body?.cancel();
   * ```
   */
  readonly fetch: typeof fetch;

  /**
   * Creates a client. Nothing is sent until the first request.
   *
   * @param options The token endpoint, credentials and behaviour.
   * @throws {TypeError} when an option is missing or malformed.
   * @throws {RangeError} when a number option is out of range.
   */
  constructor(options: ClientOptions) {
    if (typeof options !== "object" || options === null) {
      throw new TypeError("Cannot create the client: options must be an object");
    }
    const url = parseTokenEndpoint(options.tokenEndpoint, options.allowHttp ?? false);
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
    const renewalMargin = checkDuration(
      "renewalMargin",
      options.renewalMargin,
      DEFAULT_RENEWAL_MARGIN,
      0,
    );
    const timeout = checkDuration("tokenTimeout", options.tokenTimeout, DEFAULT_TOKEN_TIMEOUT, 1);
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
    const flow = options.grant === undefined ? installedFlow() : undefined;
    const storage = options.storage ?? flow?.storage ?? new MemoryTokenStorage();
    checkTokenStorage(storage, "create the client");
    const grant = checkGrant(
      options.grant ?? flow?.grant ?? new ClientCredentialsGrant(),
      "create the client",
      "grant",
    );
    const scope = parseScope(options.scope);
    const params = parseParams(options.tokenParams);
    if (scope !== undefined) params.append("scope", scope);

    const transport = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    const now = options.now ?? Date.now;
    this.#transport = transport;
    this.#throwTokenErrors = tokenErrors === "throw";
    this.#maxReplayBytes = maxReplayBytes;
    this.#endpoint = new TokenEndpoint({
      url,
      clientId,
      clientSecret,
      clientAuth,
      fetch: transport,
      now,
      timeout,
    });
    this.#provider = new TokenProvider({
      grant,
      endpoint: this.#endpoint,
      params,
      storage,
      key: () => storageKey(url, clientId, grant, params),
      now,
      renewalMargin,
      timeout,
      onEvent: options.onEvent,
    });
    this.#summary = { tokenEndpoint: url.href, clientId, scope, clientAuth, grant: grant.name };
    this.fetch = (input, init) => this.#fetch(input, init);
  }

  /**
   * Sends a request with a bearer token: the seed's call shape,
   * `request(method, url, init)`.
   *
   * @param method The HTTP method.
   * @param url The resource URL.
   * @param init Other request settings (`body`, `headers`, `signal`, ...).
   * @returns The resource's response, or the token endpoint's error response.
   *
   * @example Posting JSON
   * ```ts
   * import assert from "node:assert/strict";
   * import { Client } from "@alf/client";
   * import { startAuthServer } from "@alf/client/testing";
   *
   * await using server = await startAuthServer();
   * await using client = new Client({
   *   tokenEndpoint: server.tokenEndpoint,
   *   clientId: "id",
   *   clientSecret: "secret",
   * });
   * const response = await client.request("POST", server.resourceUrl, {
   *   body: '{"name": "alf"}',
   *   headers: { "Content-Type": "application/json" },
   * });
   * assert(response.status === 200);
   * await response.body?.cancel();
   * ```
   */
  request(method: string, url: string | URL, init: RequestInit = {}): Promise<Response> {
    return this.#fetch(url, { ...init, method });
  }

  /**
   * Returns a token that can be sent now, obtaining one if needed.
   *
   * For tools that need the token itself (`curl -H "Authorization: Bearer
   * ..."`). Treat the result as a secret.
   *
   * @param options A signal to stop waiting.
   * @throws {TokenError} when no token can be obtained.
   *
   * @example Printing a token's expiry
   * ```ts
   * import assert from "node:assert/strict";
   * import { Client } from "@alf/client";
   * import { startAuthServer } from "@alf/client/testing";
   *
   * await using server = await startAuthServer({ expiresIn: 3600 });
   * await using client = new Client({
   *   tokenEndpoint: server.tokenEndpoint,
   *   clientId: "id",
   *   clientSecret: "secret",
   * });
   * const token = await client.getToken();
   * assert(token.expiresAt! > Date.now());
   * ```
   */
  async getToken(options: GetTokenOptions = {}): Promise<Token> {
    this.#checkOpen("get a token");
    const result = await this.#provider.token(options.signal);
    if ("errorResponse" in result) throw result.errorResponse.error;
    // A copy: the client's cached record must not be changed from outside.
    return structuredClone(result.token);
  }

  /**
   * Stops background renewals and the token request in flight, and waits for
   * them. Later calls reject.
   *
   * @example Closing explicitly
   * ```ts
   * import { Client } from "@alf/client";
   *
   * const client = new Client({ tokenEndpoint: "https://auth.example.com/token", clientId: "id" });
   * await client.close();
   * ```
   */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#provider.close();
  }

  /** Same as {@linkcode Client.prototype.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #checkOpen(action = "send the request"): void {
    if (this.#closed) throw new Error(`Cannot ${action}: the client is closed`);
  }

  async #fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
    this.#checkOpen();
    // A URL with no body, a string or a Blob can be sent twice as given: no
    // Request of our own is built on this, the common path. Anything else is
    // built into a Request whose body is cloned, before the first send, for a
    // possible replay. `request.body` is never read: that turns a static body
    // into a stream, sent chunked and teed by clone().
    let body = init?.body;
    // A stream over the replay limit stops being copied as soon as it passes it.
    const limit = { overflow: () => {} };
    let replayable = true;
    let pinned = false;
    if (body instanceof ReadableStream && this.#maxReplayBytes !== Infinity) {
      let size = 0;
      const max = this.#maxReplayBytes;
      body = body.pipeThrough(
        new TransformStream<Uint8Array, Uint8Array>({
          transform(chunk, controller) {
            size += chunk?.byteLength ?? 0;
            if (size > max) limit.overflow();
            controller.enqueue(chunk);
          },
        }),
      );
      init = { ...init, body };
    }
    const request = !(input instanceof Request) &&
        (body == null || typeof body === "string" || body instanceof Blob)
      ? undefined
      : new Request(input, init);
    // Without a Request of our own, fetch's own checks come only at the send:
    // make the cheap ones first, so bad input fails before any token request.
    checkInput(request ?? input as string | URL, init);
    const signal = request ? request.signal : init?.signal ?? undefined;
    signal?.throwIfAborted();
    let spare = request && request.method !== "GET" && request.method !== "HEAD"
      ? request.clone()
      : undefined;
    // Only a stream's clone holds a tee that must be cancelled.
    const streamed = body instanceof ReadableStream || (body === undefined && !!request);
    limit.overflow = () => {
      if (!replayable || pinned) return;
      replayable = false;
      // Cancelling the tee's spare branch frees what it buffered.
      if (spare) void discard(spare);
      spare = undefined;
    };
    const target = request ?? input as string | URL;
    try {
      const first = await this.#provider.token(signal);
      if ("errorResponse" in first) return this.#tokenFailure(first.errorResponse);
      const response = await this.#send(target, init, first.token);
      if (!isTokenRejected(response, target)) return response;
      if (!replayable) {
        // Nothing to replay: renew for the next requests, return this answer.
        this.#provider.tokenAfterRejection(first.token).catch(() => {});
        return response;
      }
      // From here the copy is needed whatever its size: an early 401 may come
      // while the first upload still reads the stream.
      pinned = true;
      // Not awaited: a body whose cancel never settles must not hold the request.
      void discard(response);
      const second = await this.#provider.tokenAfterRejection(first.token, signal);
      if ("errorResponse" in second) return this.#tokenFailure(second.errorResponse);
      const replay = spare ?? target;
      spare = undefined;
      return await this.#send(replay, init, second.token);
    } finally {
      if (spare && streamed) void discard(spare);
    }
  }

  /** Sends with `token`; the caller's input, init and headers are not changed. */
  #send(
    target: Request | string | URL,
    init: RequestInit | undefined,
    token: Token,
  ): Promise<Response> {
    const authorization = authorizationValue(token);
    if (target instanceof Request) {
      // Our own Request (built or cloned in #fetch): its headers are a copy.
      target.headers.set("Authorization", authorization);
      return this.#transport(target);
    }
    return this.#transport(target, {
      ...init,
      headers: withAuthorization(init?.headers, authorization),
    });
  }

  #tokenFailure(error: ErrorResponse): Response {
    if (this.#throwTokenErrors) throw error.error;
    return toResponse(error);
  }
}

/**
 * The caller's headers with `Authorization` set, in a new object. A plain
 * record stays a record: `fetch` reads one faster than a `Headers` object.
 */
function withAuthorization(headers: HeadersInit | undefined, value: string): HeadersInit {
  if (headers == null) return { Authorization: value };
  if (headers instanceof Headers || Symbol.iterator in headers) {
    const copy = new Headers(headers);
    copy.set("Authorization", value);
    return copy;
  }
  // No prototype: a header named "__proto__" stays a header where the
  // runtime has that accessor (Node, Bun; Deno removed it).
  const record: Record<string, string> = Object.create(null);
  for (const name of Object.keys(headers)) {
    // Header names are case-insensitive: the caller's own Authorization goes.
    if (name.toLowerCase() !== "authorization") record[name] = headers[name];
  }
  record.Authorization = value;
  return record;
}

/**
 * Whether a response rejects the token (RFC 6750 §3.1): a 401, unless its
 * challenge says the scope is insufficient, which a new token cannot fix, or
 * it came from another origin after a redirect, where the token was not sent.
 */
function isTokenRejected(response: Response, sent: Request | string | URL): boolean {
  if (response.status !== 401) return false;
  const url = sent instanceof Request ? sent.url : sent;
  if (response.redirected && response.url && origin(response.url) !== origin(url)) {
    return false;
  }
  const challenge = response.headers.get("www-authenticate") ?? "";
  return !/\berror\s*=\s*"?insufficient_scope\b/i.test(challenge);
}

function origin(url: string | URL): string {
  return new URL(url, baseUrl()).origin;
}

/** The base of relative URLs, as fetch has it: `location` when Deno runs with `--location`. */
function baseUrl(): string | undefined {
  return (globalThis as { location?: { href: string } }).location?.href;
}

/**
 * The checks fetch would make of the input, made before any token request.
 * A Request was parsed and checked by its constructor: only the scheme is
 * left; a URL input gets fetch's URL and body checks as well.
 */
function checkInput(target: Request | string | URL, init: RequestInit | undefined): void {
  let protocol: string;
  if (target instanceof Request) {
    protocol = target.url.slice(0, target.url.indexOf(":") + 1);
  } else {
    try {
      protocol = new URL(target, baseUrl()).protocol;
    } catch {
      throw new TypeError("Cannot send the request: the URL is not valid");
    }
    const method = init?.method?.toUpperCase();
    if (init?.body != null && (method === undefined || method === "GET" || method === "HEAD")) {
      throw new TypeError(
        `Cannot send the request: a ${method ?? "GET"} request cannot have a body`,
      );
    }
  }
  if (protocol !== "https:" && protocol !== "http:") {
    throw new TypeError(
      `Cannot send the request: a bearer token goes only to http: and https: URLs, not ${protocol}`,
    );
  }
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

function checkDuration(name: string, value: unknown, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value < min) {
    throw new RangeError(
      `Cannot create the client: "${name}" must be a finite number of milliseconds >= ${min}`,
    );
  }
  return value;
}

/**
 * Names a token by everything that changes it: endpoint, client, grant (and
 * the grant's identity, such as whose refresh token it holds) and parameters.
 * Hashed, so the key holds nothing in clear.
 */
async function storageKey(
  url: URL,
  clientId: string,
  grant: Grant,
  params: URLSearchParams,
): Promise<string> {
  const sorted = [...params].sort(([a, x], [b, y]) =>
    a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0
  );
  const identity = grant.identity?.() ?? null;
  const material = JSON.stringify(["alf/1", url.href, clientId, grant.name, identity, sorted]);
  return `alf1:${await sha256Hex(material)}`;
}
