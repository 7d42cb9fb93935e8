/**
 * A stand-in authorization server and protected resource on 127.0.0.1, for
 * tests of code that uses `@alf/client`.
 *
 * @module
 */

import { LoginDesk } from "./_authorization.ts";
import { authenticate, clientCredentials } from "./_client_auth.ts";
import type {
  AuthorizationFailure,
  AuthServerOptions,
  TokenFailure,
} from "./auth_server_options.ts";
import type { RecordedRequest, RouteHandler } from "./recorded_request.ts";

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
   * ([RFC 6749 §4.1.2.1](https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2.1),
   * [§4.2.2.1](https://www.rfc-editor.org/rfc/rfc6749#section-4.2.2.1)), such as the
   * user's refusal.
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
   * await assert.rejects(
   *   client.getToken(),
   *   (error: TokenError) => error.error === "access_denied",
   * );
   * ```
   */
  failAuthorizations(count: number, failure: AuthorizationFailure = {}): void {
    this.#logins.fail(count, failure);
  }

  /**
   * Redirects the next `count` authorization requests with a `state` other
   * than the one requested, as a forged redirect would
   * ([RFC 6749 §10.12](https://www.rfc-editor.org/rfc/rfc6749#section-10.12)).
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
    const authError = authenticate(recorded, this.#options);
    if (authError) return authError;
    const grantType = recorded.form.get("grant_type");
    if (grantType === "authorization_code") {
      return await this.#logins.exchange(recorded.form, clientCredentials(recorded).id);
    }
    if (grantType === "refresh_token") {
      return this.#logins.refresh(recorded.form, clientCredentials(recorded).id);
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
