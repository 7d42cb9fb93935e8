/**
 * A stand-in authorization server and protected resource on 127.0.0.1, for
 * tests of code that uses `@alf/client`.
 *
 * @module
 */

import { LoginDesk } from "./_authorization.ts";
import { ClientAuthenticator } from "./_client_auth.ts";
import { DeviceDesk, isDevicePath } from "./_device_routes.ts";
import { GrantDesk } from "./_grant_routes.ts";
import { IssuedTokens } from "./_issued_tokens.ts";
import { checkMetadataOptions, isWellKnown, metadataResponse } from "./_metadata_routes.ts";
import { scripted, Timers } from "./_plain_routes.ts";
import { protectedResourceResponse, resourceMetadataPath } from "./_protected_resource_route.ts";
import { ClientRegistry, REGISTRATION_PATH } from "./_registration_route.ts";
import { ResourceDesk } from "./_resource_route.ts";
import { revoke } from "./_revocation_route.ts";
import { type AuthServerOptions, checkAuthServerOptionNames } from "./auth_server_options.ts";
import type { RecordedRequest, RecordedRevocation, RouteHandler } from "./recorded_request.ts";
import type { AuthorizationFailure, TokenFailure } from "./scripted_failures.ts";

/**
 * A running stand-in authorization server and protected resource.
 *
 * The token endpoint (`/token`) issues opaque tokens for the client
 * credentials grant; the resource (`/resource` and anything below it) answers
 * 200 with a JSON echo for a valid bearer token and 401 with
 * `WWW-Authenticate: Bearer error="invalid_token"` otherwise (DPoP: see
 * {@linkcode AuthServerOptions.dpopNonce}); a path the server
 * does not serve answers 404 (recorded as a resource request). Every request is
 * recorded. Failures, delays and revocations are scripted through methods.
 *
 * For browser logins, the authorization endpoint (`/authorize`) approves every
 * request at once and redirects to a loopback `redirect_uri`: with the token
 * in the fragment (`response_type=token`), or with a code (`response_type=code`,
 * PKCE S256 required) that `/token` exchanges, with a refresh token, for the
 * `authorization_code` grant; the `refresh_token` grant renews it.
 *
 * The token endpoint also takes the JWT bearer and token exchange grants, and
 * clients that authenticate with signed JWTs; `/revoke` revokes tokens
 * ([RFC 7009](https://www.rfc-editor.org/rfc/rfc7009)); the metadata is served at
 * both well-known locations. See {@linkcode AuthServerOptions}.
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
  /** The issuer identifier: the origin, followed by `issuerPath` when given. */
  readonly issuer: string;
  /** The token endpoint URL. */
  readonly tokenEndpoint: string;
  /** The revocation endpoint URL, `/revoke` ([RFC 7009](https://www.rfc-editor.org/rfc/rfc7009)). */
  readonly revocationEndpoint: string;
  /** The protected resource's URL. */
  readonly resourceUrl: string;
  /** Where {@linkcode AuthServerOptions.protectedResource}'s metadata is served (404 without it). */
  readonly resourceMetadataUrl: string;
  /**
   * The scopes (space-separated) a token must have for the resource, else `403`
   * `insufficient_scope` ([RFC 6750 §3.1](https://www.rfc-editor.org/rfc/rfc6750#section-3.1));
   * see {@linkcode AuthServerOptions.protectedResource}. Default: none.
   */
  requiredScope: string | undefined = undefined;
  /**
   * The authorization endpoint of browser logins, `/authorize`; also served
   * at `/token/authorize`, the default a browser login derives from the token
   * endpoint.
   */
  readonly authorizationEndpoint: string;
  /** Every authorization request received, in order. */
  readonly authorizationRequests: RecordedRequest[] = [];
  /** Every pushed authorization request (`/par`, RFC 9126) received, in order. */
  readonly pushedAuthorizationRequests: RecordedRequest[] = [];
  /** Every token request received, in order. */
  readonly tokenRequests: RecordedRequest[] = [];
  /** Every resource request received, in order (custom routes and unknown paths included). */
  readonly resourceRequests: RecordedRequest[] = [];
  /** Every request to a well-known path (metadata), in order, answered or 404. */
  readonly metadataRequests: RecordedRequest[] = [];
  /** Every request to `/register`, in order; see {@linkcode AuthServerOptions.registration}. */
  readonly registrations: RecordedRequest[] = [];
  /** Every revocation request received, in order, authenticated or not. */
  readonly revocationRequests: RecordedRequest[] = [];
  /** Every revocation the revocation endpoint performed, in order. */
  readonly revocations: RecordedRevocation[] = [];
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
  readonly #tokens = new IssuedTokens(() => this.#now(), () => this.expiresIn);
  readonly #failures: TokenFailure[] = [];
  readonly #revocationFailures: TokenFailure[] = [];
  readonly #timers = new Timers();
  readonly #logins: LoginDesk;
  readonly #clients: ClientAuthenticator;
  readonly #grants: GrantDesk;
  readonly #devices: DeviceDesk;
  readonly #resource: ResourceDesk;
  readonly #registry: ClientRegistry;
  readonly #now = (): number => (this.#options.now ?? Date.now)();

  /** Use {@linkcode startAuthServer}. @internal */
  constructor(options: AuthServerOptions = {}) {
    checkAuthServerOptionNames(options);
    checkMetadataOptions(options);
    this.#options = options;
    this.expiresIn = options.expiresIn === undefined ? 3600 : options.expiresIn;
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: options.port ?? 0, onListen() {} },
      (request) => this.#handle(request),
    );
    this.origin = `http://127.0.0.1:${this.#server.addr.port}`;
    this.issuer = `${this.origin}${options.issuerPath ?? ""}`;
    this.tokenEndpoint = `${this.origin}/token`;
    this.revocationEndpoint = `${this.origin}/revoke`;
    this.resourceUrl = `${this.origin}/resource`;
    this.authorizationEndpoint = `${this.origin}/authorize`;
    this.resourceMetadataUrl = `${this.origin}${resourceMetadataPath(options)}`;
    const registry = this.#registry = new ClientRegistry(options, () => this.#now());
    this.#logins = new LoginDesk(options, this.issuer, {
      now: () => this.#now(),
      issue: (scope, audience) => this.#tokens.issue(scope, audience),
      registry,
    });
    this.#clients = new ClientAuthenticator(options, this, () => this.#now(), registry);
    this.#grants = new GrantDesk(options, this.#clients.context, this.#logins, this.#tokens);
    this.#devices = new DeviceDesk(options, this.origin, this.#now, this.#clients, this.#logins);
    const dpop = this.#grants.dpop;
    this.#resource = new ResourceDesk(
      options,
      this,
      this.#tokens,
      dpop,
      (t) => this.#timers.wait(t),
    );
    const ready = Promise.all([this.#clients.import(), this.#grants.import()]);
    ready.catch(() => {}); // awaited by startAuthServer
    imports.set(this, ready);
  }

  /** The port the server listens on. */
  get port(): number {
    return this.#server.addr.port;
  }

  /** The access tokens issued so far, in order. */
  get issuedTokens(): string[] {
    return this.#tokens.list;
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
    this.#tokens.revoke(token);
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
    this.#resource.route(path, handler);
  }

  /** Whether `token` was issued here and would be accepted now (with a proof, if DPoP-bound). */
  accepts(token: string): boolean {
    return this.#tokens.accepts(token);
  }

  /** A token's audience: the `resource`s of its request (RFC 8707); `undefined` for any or none. */
  audienceOf(token: string): string[] | undefined {
    return this.#tokens.audienceOf(token);
  }

  /** The ids of the clients registered and not forgotten; see {@linkcode AuthServerOptions.registration}. */
  registeredClients(): string[] {
    return this.#registry.ids;
  }

  /** Forgets a registered client, as a server that lost its registrations: it is then refused. */
  forgetClient(clientId: string): void {
    this.#registry.forget(clientId);
  }

  /** The current DPoP nonce ([RFC 9449 §8](https://www.rfc-editor.org/rfc/rfc9449#section-8)). */
  get dpopNonce(): string {
    return this.#grants.dpop.nonce;
  }

  /** Replaces {@linkcode AuthServer.dpopNonce}: a proof with the old one is refused from now on. */
  rotateDpopNonce(): string {
    return this.#grants.dpop.rotateNonce();
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
   * @param failure The `error` (default `"access_denied"`) and `error_description`; see
   *   {@linkcode AuthorizationFailure} for an example.
   */
  failAuthorizations(count: number, failure: AuthorizationFailure = {}): void {
    this.#logins.fail(count, failure);
  }

  /**
   * Redirects the next `count` authorization requests with a `state` other
   * than the one requested, as a forged redirect would
   * ([RFC 6749 §10.12](https://www.rfc-editor.org/rfc/rfc6749#section-10.12)); see
   * {@linkcode AuthServerOptions.authorizationResponseIssuers} for an example.
   *
   * @param count How many redirects carry a wrong state.
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

  /**
   * Answers the next `count` revocation requests with a failure instead of
   * revoking ([RFC 7009 §2.2.1](https://www.rfc-editor.org/rfc/rfc7009#section-2.2.1)).
   *
   * @param count How many requests fail.
   * @param failure The status, body and headers to answer with.
   */
  failRevocationRequests(count: number, failure: TokenFailure = {}): void {
    for (let i = 0; i < count; i++) this.#revocationFailures.push(failure);
  }

  /** Stops the server and every response it was still delaying. */
  async close(): Promise<void> {
    this.#timers.stopAll();
    await this.#server.shutdown();
  }

  /** Same as {@linkcode AuthServer.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
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
    const token = url.pathname === "/token";
    if (token || url.pathname === "/revoke") {
      recorded.form = new URLSearchParams(new TextDecoder().decode(body));
      (token ? this.tokenRequests : this.revocationRequests).push(recorded);
      if (token && this.tokenDelay > 0) await this.#timers.wait(this.tokenDelay);
      return await this.#token(recorded, token ? this.tokenEndpoint : this.revocationEndpoint);
    }
    if (url.pathname === "/authorize" || url.pathname === "/token/authorize") {
      this.authorizationRequests.push(recorded);
      return this.#logins.authorize(url);
    }
    if (url.pathname === "/par") return await this.#logins.push(recorded, this.#clients, this);
    if (isDevicePath(url.pathname)) return await this.#devices.handle(url, recorded);
    if (url.pathname === REGISTRATION_PATH) return this.#registry.register(recorded, this);
    if (isWellKnown(url.pathname)) {
      this.metadataRequests.push(recorded);
      return protectedResourceResponse(url.pathname, this.#options, this) ??
        metadataResponse(url.pathname, this.#options, this, this.#clients);
    }
    return await this.#resource.handle(request, url, recorded);
  }

  /** A request to the token or the revocation endpoint: both authenticate the client first. */
  async #token(recorded: RecordedRequest, endpoint: string): Promise<Response> {
    const revocation = endpoint === this.revocationEndpoint;
    const failure = (revocation ? this.#revocationFailures : this.#failures).shift();
    if (failure) return scripted(failure);
    const { clientId, error } = await this.#clients.authenticate(recorded, endpoint);
    if (error) return error;
    return revocation
      ? revoke(recorded, clientId, this.#tokens, this.#logins, this.revocations)
      : await this.#grants.grant(recorded, clientId, () => this.#devices.token(recorded, clientId));
  }
}

/**
 * Starts an {@linkcode AuthServer} on 127.0.0.1.
 *
 * @param options Token lifetime, expected credentials, clock and port.
 * @returns The running server; close it with `await using` or `close()`.
 * @throws {TypeError} when an option is malformed or unknown (a misspelled name).
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
export async function startAuthServer(options: AuthServerOptions = {}): Promise<AuthServer> {
  const server = new AuthServer(options);
  await imports.get(server)?.catch(async (error) => {
    await server.close();
    throw error;
  });
  return server;
}

/** Each server's import of its registered keys, which {@linkcode startAuthServer} waits for. */
const imports = new WeakMap<AuthServer, Promise<unknown>>();
