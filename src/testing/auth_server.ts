/**
 * A stand-in authorization server and protected resource on 127.0.0.1, for
 * tests of code that uses `@alf/client`.
 *
 * @module
 */

import { type AuthorizationFailure, LoginDesk } from "./_authorization.ts";

export type { AuthorizationFailure };

/**
 * A request the {@linkcode AuthServer} received: what a test checks the
 * client sent.
 *
 * @example Checking what the client sent to the token endpoint and the resource
 * ```ts
 * import assert from "node:assert/strict";
 * import { Client } from "@alf/client";
 * import { type RecordedRequest, startAuthServer } from "@alf/client/testing";
 *
 * await using server = await startAuthServer();
 * await using client = new Client({
 *   tokenEndpoint: server.tokenEndpoint,
 *   clientId: "id",
 *   clientSecret: "secret",
 *   scope: ["read", "write"],
 * });
 * const response = await client.fetch(server.url("/resource/items"), {
 *   method: "POST",
 *   body: "hello",
 * });
 * await response.body?.cancel();
 *
 * const [tokenRequest]: RecordedRequest[] = server.tokenRequests;
 * assert.equal(tokenRequest.form.get("grant_type"), "client_credentials");
 * assert.equal(tokenRequest.form.get("scope"), "read write");
 * assert.equal(tokenRequest.headers.get("authorization"), `Basic ${btoa("id:secret")}`);
 *
 * const [resourceRequest]: RecordedRequest[] = server.resourceRequests;
 * assert.equal(resourceRequest.method, "POST");
 * assert.equal(resourceRequest.url, server.url("/resource/items"));
 * assert.equal(new TextDecoder().decode(resourceRequest.body), "hello");
 * assert.equal(resourceRequest.token, server.issuedTokens[0]);
 * ```
 */
export interface RecordedRequest {
  /** The HTTP method. */
  method: string;
  /** The full URL. */
  url: string;
  /** The request headers. */
  headers: Headers;
  /** The request body, whole. */
  body: Uint8Array;
  /** The form fields of a token request (empty for other requests). */
  form: URLSearchParams;
  /** The bearer token a resource request carried, if any. */
  token?: string;
}

/**
 * A scripted answer to the next token requests, for
 * {@linkcode AuthServer.failTokenRequests}.
 *
 * @example A rate-limited token endpoint, then a good one
 * ```ts
 * import assert from "node:assert/strict";
 * import { Client } from "@alf/client";
 * import { startAuthServer, type TokenFailure } from "@alf/client/testing";
 *
 * await using server = await startAuthServer();
 * const failure: TokenFailure = {
 *   status: 429,
 *   body: JSON.stringify({ error: "slow_down" }),
 *   headers: { "Content-Type": "application/json", "Retry-After": "1" },
 * };
 * server.failTokenRequests(1, failure);
 * await using client = new Client({ tokenEndpoint: server.tokenEndpoint, clientId: "id" });
 *
 * const refused = await client.fetch(server.resourceUrl); // the token endpoint's answer
 * assert.equal(refused.status, 429);
 * assert.equal(refused.headers.get("retry-after"), "1");
 * await refused.body?.cancel();
 *
 * const response = await client.fetch(server.resourceUrl); // only one request failed
 * assert.equal(response.status, 200);
 * await response.body?.cancel();
 * assert.equal(server.resourceRequests.length, 1);
 * ```
 */
export interface TokenFailure {
  /** The HTTP status. Default: 500. */
  status?: number;
  /** The body. Default: `{"error":"server_error"}`. */
  body?: BodyInit;
  /** The headers. Default: `Content-Type: application/json`. */
  headers?: HeadersInit;
}

/**
 * Options of {@linkcode startAuthServer}: the credentials it requires, the
 * lifetime of its tokens and its clock.
 *
 * @example A server that checks the credentials and lets tokens expire on its own clock
 * ```ts
 * import assert from "node:assert/strict";
 * import { Client, TokenError } from "@alf/client";
 * import { type AuthServerOptions, startAuthServer } from "@alf/client/testing";
 *
 * let now = 1_000_000; // one clock for the server and the client, moved by hand
 * const options: AuthServerOptions = {
 *   clientId: "id",
 *   clientSecret: "secret",
 *   expiresIn: 60,
 *   now: () => now,
 * };
 * await using server = await startAuthServer(options);
 *
 * await using intruder = new Client({
 *   tokenEndpoint: server.tokenEndpoint,
 *   clientId: "id",
 *   clientSecret: "guess",
 * });
 * await assert.rejects(
 *   intruder.getToken(),
 *   (error) => error instanceof TokenError && error.error === "invalid_client",
 * );
 *
 * await using client = new Client({
 *   tokenEndpoint: server.tokenEndpoint,
 *   clientId: "id",
 *   clientSecret: "secret",
 *   now: () => now,
 * });
 * const token = await client.getToken();
 * assert.equal(token.expiresAt, now + 60_000);
 * assert(server.accepts(token.accessToken));
 * now += 60_000;
 * assert(!server.accepts(token.accessToken)); // expired on the server's clock
 * ```
 */
export interface AuthServerOptions {
  /**
   * The `expires_in` of issued tokens, in seconds; `null` leaves it out.
   * Default: 3600. Change it later with {@linkcode AuthServer.expiresIn}.
   */
  expiresIn?: number | null;
  /** When set, token requests must authenticate with this client id. */
  clientId?: string;
  /** When set, token requests must authenticate with this secret (Basic or form). */
  clientSecret?: string;
  /** The server's clock for token expiry, epoch milliseconds. Default: `Date.now`. */
  now?: () => number;
  /** The port to listen on. Default: 0, any free port. */
  port?: number;
  /**
   * Whether each refresh issues a new refresh token and revokes the old one
   * (rotation, RFC 9700 §4.14.2). Default: `false`, the refresh response
   * carries no refresh token and the old one stays valid.
   */
  rotateRefreshTokens?: boolean;
}

/**
 * A handler for a custom route of the {@linkcode AuthServer}, set with
 * {@linkcode AuthServer.route}: it answers instead of the resource, after the
 * request was recorded.
 *
 * @param request The request; its body was read into `recorded.body`.
 * @param recorded The request as recorded, with its bearer token.
 * @returns The response to send.
 *
 * @example An API endpoint that checks the token itself
 * ```ts
 * import assert from "node:assert/strict";
 * import { Client } from "@alf/client";
 * import { type RouteHandler, startAuthServer } from "@alf/client/testing";
 *
 * await using server = await startAuthServer();
 * const me: RouteHandler = (request, recorded) =>
 *   recorded.token !== undefined && server.accepts(recorded.token)
 *     ? Response.json({ user: "ada", method: request.method })
 *     : new Response(null, { status: 401 });
 * server.route("/api/me", me);
 *
 * await using client = new Client({ tokenEndpoint: server.tokenEndpoint, clientId: "id" });
 * const response = await client.fetch(server.url("/api/me"));
 * assert.deepEqual(await response.json(), { user: "ada", method: "GET" });
 * const anonymous = await fetch(server.url("/api/me"));
 * assert.equal(anonymous.status, 401);
 * await anonymous.body?.cancel();
 * ```
 */
export type RouteHandler = (
  request: Request,
  recorded: RecordedRequest,
) => Response | Promise<Response>;

interface Issued {
  expiresAt?: number;
  revoked: boolean;
}

/**
 * A running stand-in authorization server and protected resource.
 *
 * The token endpoint (`/token`) issues opaque tokens for the client
 * credentials grant; the resource (`/resource` and anything below it) answers
 * 200 with a JSON echo for a valid bearer token and 401 with
 * `WWW-Authenticate: Bearer error="invalid_token"` otherwise. Every request is
 * recorded. Failures, delays and revocations are scripted through methods.
 *
 * For browser logins, the authorization endpoint (`/authorize`) approves every
 * request at once and redirects to a loopback `redirect_uri`: with the token
 * in the fragment (`response_type=token`), or with a code (`response_type=code`,
 * PKCE S256 required) that `/token` exchanges, with a refresh token, for the
 * `authorization_code` grant; the `refresh_token` grant renews it.
 *
 * @example A test against the stand-in server
 * ```ts
 * import assert from "node:assert/strict";
 * import { Client } from "@alf/client";
 * import { startAuthServer } from "@alf/client/testing";
 *
 * await using server = await startAuthServer({ expiresIn: 60 });
 * await using client = new Client({
 *   tokenEndpoint: server.tokenEndpoint,
 *   clientId: "id",
 *   clientSecret: "secret",
 * });
 * await (await client.fetch(server.resourceUrl)).body?.cancel();
 * server.revoke();
 * const response = await client.fetch(server.resourceUrl); // renewed and replayed
 * assert(response.status === 200 && server.tokenRequests.length === 2);
 * await response.body?.cancel();
 * ```
 */
export class AuthServer implements AsyncDisposable {
  /** The origin, e.g. `http://127.0.0.1:41234`. */
  readonly origin: string;
  /** The token endpoint URL. */
  readonly tokenEndpoint: string;
  /** The protected resource's URL. */
  readonly resourceUrl: string;
  /**
   * The authorization endpoint of browser logins, `/authorize`; also served
   * at `/token/authorize`, the default a browser login derives from the token
   * endpoint.
   */
  readonly authorizationEndpoint: string;
  /** Every authorization request received, in order. */
  readonly authorizationRequests: RecordedRequest[] = [];
  /** Every token request received, in order. */
  readonly tokenRequests: RecordedRequest[] = [];
  /** Every resource request received, in order (custom routes included). */
  readonly resourceRequests: RecordedRequest[] = [];
  /** The `expires_in` of the next issued tokens, in seconds; `null` leaves it out. */
  expiresIn: number | null;
  /** Delay before answering each token request, in milliseconds. */
  tokenDelay = 0;
  /**
   * Delay before answering each resource request (custom routes included),
   * in milliseconds: a slow API, for timeouts and aborts.
   */
  resourceDelay = 0;

  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  readonly #options: AuthServerOptions;
  readonly #issued = new Map<string, Issued>();
  readonly #routes = new Map<string, RouteHandler>();
  readonly #failures: TokenFailure[] = [];
  readonly #pending = new Set<AbortController>();
  readonly #logins: LoginDesk;
  #count = 0;

  /** Use {@linkcode startAuthServer}. @internal */
  constructor(options: AuthServerOptions = {}) {
    this.#options = options;
    this.expiresIn = options.expiresIn === undefined ? 3600 : options.expiresIn;
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: options.port ?? 0, onListen() {} },
      (request) => this.#handle(request),
    );
    this.origin = `http://127.0.0.1:${this.#server.addr.port}`;
    this.tokenEndpoint = `${this.origin}/token`;
    this.resourceUrl = `${this.origin}/resource`;
    this.authorizationEndpoint = `${this.origin}/authorize`;
    this.#logins = new LoginDesk({
      now: () => this.#now(),
      clientId: options.clientId,
      rotateRefreshTokens: options.rotateRefreshTokens ?? false,
      issue: (scope) => this.#issue(scope),
    });
  }

  /** The port the server listens on. */
  get port(): number {
    return this.#server.addr.port;
  }

  /** The access tokens issued so far, in order. */
  get issuedTokens(): string[] {
    return [...this.#issued.keys()];
  }

  /**
   * A URL on this server.
   *
   * @param path The path, e.g. `"/resource/items"`.
   */
  url(path: string): string {
    return new URL(path, this.origin).href;
  }

  /**
   * Revokes a token, or every token issued so far.
   *
   * @param token The access token; all of them when omitted.
   */
  revoke(token?: string): void {
    for (const [value, issued] of this.#issued) {
      if (token === undefined || token === value) issued.revoked = true;
    }
  }

  /**
   * Answers the next `count` token requests with a failure instead of a token.
   *
   * @param count How many requests fail.
   * @param failure The status, body and headers to answer with.
   */
  failTokenRequests(count: number, failure: TokenFailure = {}): void {
    for (let i = 0; i < count; i++) this.#failures.push(failure);
  }

  /**
   * Serves `handler` at `path` (exact match), instead of the resource.
   *
   * @param path The path, e.g. `"/redirect"`.
   * @param handler Makes the response; the request is recorded first.
   */
  route(path: string, handler: RouteHandler): void {
    this.#routes.set(path, handler);
  }

  /** Whether `token` is a token this server issued and would accept now. */
  accepts(token: string): boolean {
    const issued = this.#issued.get(token);
    if (!issued || issued.revoked) return false;
    return issued.expiresAt === undefined || this.#now() < issued.expiresAt;
  }

  /** The refresh tokens issued so far, in order. */
  get issuedRefreshTokens(): string[] {
    return this.#logins.refreshTokens;
  }

  /**
   * Answers the next `count` authorization requests with an error redirect
   * (RFC 6749 §4.1.2.1, §4.2.2.1), such as the user's refusal.
   *
   * @param count How many requests fail.
   * @param failure The `error` (default `"access_denied"`) and `error_description`.
   *
   * @example A user who refuses the login
   * ```ts
   * import assert from "node:assert/strict";
   * import { Client, ImplicitGrant, TokenError } from "@alf/client";
   * import { ScriptedBrowser, startAuthServer } from "@alf/client/testing";
   *
   * await using server = await startAuthServer();
   * server.failAuthorizations(1, { errorDescription: "The user said no" });
   * await using browser = new ScriptedBrowser();
   * await using client = new Client({
   *   tokenEndpoint: server.tokenEndpoint,
   *   clientId: "cli",
   *   grant: new ImplicitGrant({ openBrowser: browser.open, portRange: [0, 0] }),
   * });
   * await assert.rejects(client.getToken(), (error: TokenError) => error.error === "access_denied");
   * ```
   */
  failAuthorizations(count: number, failure: AuthorizationFailure = {}): void {
    this.#logins.fail(count, failure);
  }

  /**
   * Redirects the next `count` authorization requests with a `state` other
   * than the one requested, as a forged redirect would (RFC 6749 §10.12).
   *
   * @param count How many redirects carry a wrong state.
   *
   * @example A forged redirect is ignored; the real one completes the login
   * ```ts
   * import assert from "node:assert/strict";
   * import { Client, ImplicitGrant } from "@alf/client";
   * import { ScriptedBrowser, startAuthServer } from "@alf/client/testing";
   *
   * await using server = await startAuthServer();
   * server.answerWithWrongState(1);
   * await using browser = new ScriptedBrowser();
   * await using client = new Client({
   *   tokenEndpoint: server.tokenEndpoint,
   *   clientId: "cli",
   *   grant: new ImplicitGrant({
   *     portRange: [0, 0],
   *     openBrowser: async (url) => {
   *       await browser.open(url); // wrong state: an error page, the login waits on
   *       await browser.open(url); // the right state: the login completes
   *     },
   *   }),
   * });
   * await client.getToken();
   * await browser.close(); // waits for the last page
   * assert.deepEqual(browser.pages.map((page) => page.status), [400, 200]);
   * ```
   */
  answerWithWrongState(count: number): void {
    this.#logins.wrongState(count);
  }

  /**
   * Revokes a refresh token, or every one issued so far: refreshing with it
   * is then answered `invalid_grant`.
   *
   * @param token The refresh token; all of them when omitted.
   */
  revokeRefreshTokens(token?: string): void {
    this.#logins.revokeRefreshTokens(token);
  }

  /** Stops the server and every response it was still delaying. */
  async close(): Promise<void> {
    for (const controller of this.#pending) controller.abort();
    await this.#server.shutdown();
  }

  /** Same as {@linkcode AuthServer.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #now(): number {
    return (this.#options.now ?? Date.now)();
  }

  async #handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const body = new Uint8Array(await request.arrayBuffer());
    const recorded: RecordedRequest = {
      method: request.method,
      url: request.url,
      headers: new Headers(request.headers),
      body,
      form: new URLSearchParams(),
    };
    if (url.pathname === "/token") {
      recorded.form = new URLSearchParams(new TextDecoder().decode(body));
      this.tokenRequests.push(recorded);
      if (this.tokenDelay > 0) await this.#wait(this.tokenDelay);
      return await this.#token(recorded);
    }
    if (url.pathname === "/authorize" || url.pathname === "/token/authorize") {
      this.authorizationRequests.push(recorded);
      return this.#logins.authorize(url);
    }
    const auth = request.headers.get("authorization") ?? "";
    const match = /^Bearer (\S+)$/i.exec(auth);
    if (match) recorded.token = match[1];
    this.resourceRequests.push(recorded);
    if (this.resourceDelay > 0) await this.#wait(this.resourceDelay);
    const route = this.#routes.get(url.pathname);
    if (route) return await route(request, recorded);
    if (!recorded.token || !this.accepts(recorded.token)) {
      return new Response(JSON.stringify({ error: "invalid_token" }), {
        status: 401,
        headers: {
          "Content-Type": "application/json",
          "WWW-Authenticate": 'Bearer error="invalid_token"',
        },
      });
    }
    return Response.json({ method: request.method, path: url.pathname, bytes: body.byteLength });
  }

  async #token(recorded: RecordedRequest): Promise<Response> {
    const failure = this.#failures.shift();
    if (failure) {
      return new Response(failure.body ?? JSON.stringify({ error: "server_error" }), {
        status: failure.status ?? 500,
        headers: failure.headers ?? { "Content-Type": "application/json" },
      });
    }
    const authError = this.#authenticate(recorded);
    if (authError) return authError;
    const grantType = recorded.form.get("grant_type");
    if (grantType === "authorization_code") {
      return await this.#logins.exchange(recorded.form, this.#credentials(recorded).id);
    }
    if (grantType === "refresh_token") {
      return this.#logins.refresh(recorded.form, this.#credentials(recorded).id);
    }
    if (grantType !== "client_credentials") {
      return Response.json({ error: "unsupported_grant_type" }, { status: 400 });
    }
    const body = this.#issue(recorded.form.get("scope"));
    return Response.json(body, { headers: { "Cache-Control": "no-store" } });
  }

  /** Issues an access token: the members of its token response. */
  #issue(scope: string | null): Record<string, unknown> {
    const accessToken = `at-${++this.#count}-${crypto.randomUUID()}`;
    const issued: Issued = { revoked: false };
    const body: Record<string, unknown> = { access_token: accessToken, token_type: "Bearer" };
    if (this.expiresIn !== null) {
      body.expires_in = this.expiresIn;
      if (this.expiresIn > 0) issued.expiresAt = this.#now() + this.expiresIn * 1000;
    }
    if (scope !== null) body.scope = scope;
    this.#issued.set(accessToken, issued);
    return body;
  }

  #authenticate(recorded: RecordedRequest): Response | undefined {
    const { clientId, clientSecret } = this.#options;
    if (clientId === undefined && clientSecret === undefined) return undefined;
    const { id, secret } = this.#credentials(recorded);
    const idOk = clientId === undefined || id === clientId;
    const secretOk = clientSecret === undefined || secret === clientSecret;
    if (idOk && secretOk) return undefined;
    return Response.json(
      { error: "invalid_client", error_description: "Client authentication failed" },
      { status: 401, headers: { "WWW-Authenticate": 'Basic realm="token"' } },
    );
  }

  /** The client id and secret of a token request, from Basic or the form. */
  #credentials(recorded: RecordedRequest): { id: string | null; secret: string | null } {
    let id = recorded.form.get("client_id");
    let secret = recorded.form.get("client_secret");
    const basic = /^Basic (\S+)$/i.exec(recorded.headers.get("authorization") ?? "");
    if (basic) {
      const decoded = new TextDecoder().decode(
        Uint8Array.from(atob(basic[1]), (c) => c.charCodeAt(0)),
      );
      const colon = decoded.indexOf(":");
      const form = (s: string) => new URLSearchParams(`v=${s}`).get("v");
      id = form(decoded.slice(0, colon));
      secret = form(decoded.slice(colon + 1));
    }
    return { id, secret };
  }

  #wait(ms: number): Promise<void> {
    const controller = new AbortController();
    this.#pending.add(controller);
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      controller.signal.addEventListener("abort", () => {
        clearTimeout(timer);
        resolve();
      });
    }).finally(() => this.#pending.delete(controller));
  }
}

/**
 * Starts an {@linkcode AuthServer} on 127.0.0.1.
 *
 * @param options Token lifetime, expected credentials, clock and port.
 * @returns The running server; close it with `await using` or `close()`.
 *
 * @example Scripting a token endpoint failure
 * ```ts
 * import assert from "node:assert/strict";
 * import { Client } from "@alf/client";
 * import { startAuthServer } from "@alf/client/testing";
 *
 * await using server = await startAuthServer();
 * server.failTokenRequests(1, { status: 503 });
 * await using client = new Client({ tokenEndpoint: server.tokenEndpoint, clientId: "id" });
 * const response = await client.fetch(server.resourceUrl);
 * assert(response.status === 503 && server.resourceRequests.length === 0);
 * await response.body?.cancel();
 * ```
 */
export function startAuthServer(options: AuthServerOptions = {}): Promise<AuthServer> {
  return Promise.resolve(new AuthServer(options));
}
