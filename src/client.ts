/**
 * The client: a `fetch` that obtains, caches and renews bearer tokens, and
 * replays a request once after a 401.
 *
 * @module
 */

import { discard } from "./_body.ts";
import { checkKnownOptions } from "./_known_options.ts";
import { redactInspect } from "./_redact.ts";
import { installedFlow } from "./_installed_flow.ts";
import { parseClientOptions, type SharedSettings } from "./_client_settings.ts";
import { serverDiscoveryFor } from "./_resource_discovery.ts";
import { StepUp } from "./_step_up.ts";
import type { ClientOptions } from "./client_options.ts";
import { DpopProver } from "./_dpop_prover.ts";
import { type MtlsFetch, openClientCertificate } from "./mtls.ts";
import { ReplayableRequest } from "./replayable_request.ts";
import type { Token } from "./token.ts";
import { type ErrorResponse, TokenEndpoint, toResponse } from "./token_endpoint.ts";
import { TokenProvider } from "./token_provider.ts";

export type { ClientOptions } from "./client_options.ts";

/**
 * Options of {@linkcode Client.prototype.getToken}.
 *
 * @example Giving up after a second; a token valid for 10 more seconds will do
 * ```ts
 * import type { GetTokenOptions } from "@alf/client";
 *
 * const options: GetTokenOptions = { signal: AbortSignal.timeout(1000), minValidity: 10_000 };
 * ```
 */
export interface GetTokenOptions {
  /** Stops waiting for the token. */
  signal?: AbortSignal;
  /**
   * How long the returned token must still be valid, in milliseconds: a token
   * with no more than that left is renewed first (as with the renewal margin,
   * never more than half the token's lifetime). Default: the client's
   * `renewalMargin`, so `getToken()` never hands out a token its own requests
   * would renew.
   */
  minValidity?: number;
}

/** The options {@linkcode Client.prototype.getToken} knows: a misspelled one is refused. */
const GET_TOKEN_OPTION_NAMES = {
  signal: true,
  minValidity: true,
} as const satisfies Record<keyof GetTokenOptions, true>;

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
  /**
   * The client's settings, shared with its endpoint, its provider and each
   * request: a process may keep thousands of clients.
   */
  readonly #settings: SharedSettings;
  readonly #provider: TokenProvider;
  /** The token endpoint (or issuer) with the client's authentication; also revokes. */
  readonly #endpoint: TokenEndpoint;
  /** A protected resource's client: where its tokens go, and its step-ups. */
  readonly #stepUp: StepUp | undefined;
  /** The transport that presents the client's certificate, when it does; `close()` frees it. */
  readonly #mtls: MtlsFetch | undefined;

  static {
    // Built when asked for, from the settings: never a secret.
    redactInspect(Client, (client) => {
      const { issuer, url, serverDiscovery, clientId, scope, clientAuth, grant, dpop } =
        client.#settings;
      return {
        ...(issuer === undefined ? {} : { issuer: String(issuer) }),
        ...(url === undefined ? {} : { tokenEndpoint: url }),
        ...(serverDiscovery ? { protectedResource: serverDiscovery.resource.href } : {}),
        clientId,
        scope,
        clientAuth,
        grant: grant.name,
        ...(dpop ? { dpop: true } : {}),
        closed: client.#provider.closed,
      };
    });
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
    const settings = parseClientOptions(options, installedFlow);
    const { shared, clientCertificate: tls } = settings;
    // RFC 8705: the certificate goes to the token and revocation endpoints, and to resources
    // only for tokens bound to it (§3). The user's `fetch` stays the transport underneath.
    const mtls = this.#mtls = settings.presentsCertificate && tls
      ? openClientCertificate(tls, shared.fetch)
      : undefined;
    // Completed in place, not copied: the settings' literal has room for these members.
    shared.mtlsFetch = mtls?.fetch;
    if (tls?.boundAccessTokens && mtls) shared.transport = mtls.fetch;
    // The resources' nonces, apart from the token endpoint's (RFC 9449 §8, §9).
    shared.resourceDpop = shared.dpop && new DpopProver(shared.dpop);
    const discovery = shared.serverDiscovery = serverDiscoveryFor(
      settings.protectedResource,
      shared,
    );
    this.#stepUp = discovery && new StepUp(discovery.resource, shared.params, shared.now);
    this.#settings = shared;
    this.#endpoint = new TokenEndpoint(shared);
    this.#provider = new TokenProvider(this.#endpoint, shared);
    // Bound rather than an arrow: the arrow would keep the constructor's scope alive.
    this.fetch = this.#fetch.bind(this);
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
   * ..."`). Treat the result as a secret. A token inside its renewal margin
   * (or with no more than `minValidity` left) is renewed before it is returned,
   * so it does not expire in the caller's hands; a grant that would need the
   * user for a new one (a browser login) hands out its token until it expires.
   *
   * @param options A signal to stop waiting, and the validity the token must have left.
   * @throws {TokenError} when no token can be obtained.
   * @throws {RangeError} when `minValidity` is not a number of milliseconds >= 0.
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
    checkKnownOptions(options, GET_TOKEN_OPTION_NAMES, "token", "get");
    const { minValidity = this.#provider.renewalMargin } = options;
    if (typeof minValidity !== "number" || !(minValidity >= 0) || minValidity === Infinity) {
      throw new RangeError(
        'Cannot get a token: "minValidity" must be a finite number of milliseconds >= 0',
      );
    }
    const result = await this.#provider.token(options.signal, minValidity);
    if ("errorResponse" in result) throw result.errorResponse.error;
    // A copy: the client's cached record must not be changed from outside.
    return structuredClone(result.token);
  }

  /**
   * Logs out: revokes the login's refresh token, else its access token, at
   * the revocation endpoint (`revocationEndpoint`, else the issuer's metadata's,
   * [RFC 7009 §2.1](https://www.rfc-editor.org/rfc/rfc7009#section-2.1)),
   * with the client's authentication and a `token_type_hint`; then deletes
   * the stored access token and login record, so that the next request
   * obtains a new token (a browser login asks the user again). Whether the
   * server also ends the access tokens of a revoked refresh token is its
   * choice (it should).
   *
   * With no token at all it resolves at once, sending nothing. When the
   * revocation endpoint answers an error or cannot be reached, the records
   * are kept and the {@linkcode TokenError} is thrown: after a 503 the token
   * still exists ([§2.2.1](https://www.rfc-editor.org/rfc/rfc7009#section-2.2.1)).
   * A renewal under way finishes first, so that its token is the one revoked.
   *
   * @param options A signal to stop waiting (the request may still reach the server).
   * @returns Which token was revoked, `"refresh_token"` or `"access_token"`,
   * or `undefined` when there was none.
   * @throws {TypeError} when the client has no revocation endpoint: no
   * `revocationEndpoint`, and no `issuer` whose metadata names one.
   * @throws {TokenError} when the revocation endpoint answers an error
   * (its `error` and `status` kept) or cannot be reached in time.
   *
   * @example Revoking the token and starting afresh
   * ```ts
   * import assert from "node:assert/strict";
   * import { Client } from "@alf/client";
   * import { startAuthServer } from "@alf/client/testing";
   *
   * await using server = await startAuthServer();
   * await using client = new Client({
   *   tokenEndpoint: server.tokenEndpoint,
   *   revocationEndpoint: server.revocationEndpoint,
   *   clientId: "id",
   *   clientSecret: "secret",
   * });
   * const { accessToken } = await client.getToken();
   * assert.equal(await client.revoke(), "access_token");
   * assert.equal(server.accepts(accessToken), false);
   * assert.notEqual((await client.getToken()).accessToken, accessToken); // a new one
   * ```
   */
  async revoke(
    options: { signal?: AbortSignal } = {},
  ): Promise<"refresh_token" | "access_token" | undefined> {
    this.#checkOpen("revoke the token");
    const endpoint = this.#settings.revocationEndpoint;
    // Without an issuer no metadata can name one: say so before reading any token.
    if (endpoint === undefined && this.#endpoint.issuer === undefined && !this.#stepUp) {
      throw new TypeError(
        'Cannot revoke the token: the client has no revocation endpoint; set "revocationEndpoint"',
      );
    }
    const { signal } = options;
    // The token endpoint's authentication (method, assertion, certificate) and discovery.
    const revoked = await this.#provider.revoke(
      ({ token, hint }) => this.#endpoint.revoke(token, { endpoint, tokenTypeHint: hint, signal }),
      signal,
    );
    return revoked?.hint;
  }

  /**
   * Stops background renewals and the token request in flight, and waits for
   * them; then closes the connections of the client's certificate, if any.
   * Later calls reject.
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
    try {
      await this.#provider.close();
    } finally {
      this.#mtls?.close();
    }
  }

  /** Same as {@linkcode Client.prototype.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #checkOpen(action = "send the request"): void {
    // Closed is the provider's state: it stops at once, then waits for its work.
    if (this.#provider.closed) throw new Error(`Cannot ${action}: the client is closed`);
  }

  /** Prepare the request, get a token, send; after a 401 that a new token can fix, replay once. */
  async #fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
    this.#checkOpen();
    const request = new ReplayableRequest(input, init, this.#settings);
    try {
      // The cached token needs no promise; anything else is the provider's to decide.
      if (this.#stepUp && !this.#stepUp.covers(request.url)) throw this.#notUnderResource();
      const cached = this.#provider.cachedToken();
      const first = cached ? { token: cached } : await this.#provider.token(request.signal);
      if ("errorResponse" in first) return this.#tokenFailure(first.errorResponse);
      const response = await request.send(first.token);
      const scope = this.#stepUp?.scopeFor(response);
      if (scope) return await this.#steppedUp(request, response, first.token, scope);
      if (!request.isTokenRejected(response)) return response;
      // A token obtained for a rejection and rejected at once: the resource is
      // the problem. Its 401 is the answer, and the token stays in use.
      if (!this.#provider.willRenewAfterRejection(first.token)) return response;
      if (!request.holdForReplay()) {
        // Nothing to replay: renew for the next requests, return this answer.
        this.#provider.tokenAfterRejection(first.token).catch(() => {});
        return response;
      }
      // Not awaited: a body whose cancel never settles must not hold the request.
      void discard(response);
      const second = await this.#provider.tokenAfterRejection(first.token, request.signal);
      if ("errorResponse" in second) return this.#tokenFailure(second.errorResponse);
      const replayed = await request.replay(second.token);
      try {
        this.#settings.onEvent?.({ type: "replay", status: replayed.status });
      } catch {
        // A listener's failure is not the request's.
      }
      return replayed;
    } finally {
      request.release();
    }
  }

  /**
   * A step-up ([RFC 6750 §3.1](https://www.rfc-editor.org/rfc/rfc6750#section-3.1)):
   * one new authorization for the union of the scopes, then one replay; the
   * next answer is returned whatever it is.
   */
  async #steppedUp(
    request: ReplayableRequest,
    response: Response,
    token: Token,
    scope: string,
  ): Promise<Response> {
    if (!request.holdForReplay()) return response;
    void discard(response);
    const restore = this.#stepUp!.begin(scope);
    let next;
    try {
      next = await this.#provider.tokenAfterRejection(token, request.signal);
    } catch (error) {
      restore(); // refused: the next requests do not ask for it again
      throw error;
    }
    if ("errorResponse" in next) {
      restore();
      return this.#tokenFailure(next.errorResponse);
    }
    return await request.replay(next.token);
  }

  /** A protected resource's token goes under that resource only (RFC 8707 §2, RFC 6750 §5.3). */
  #notUnderResource(): TypeError {
    return new TypeError(
      `Cannot send the request: the client's tokens are for ${this.#settings.serverDiscovery?.resource.href} (its "protectedResource") and the requests under it, not for this URL`,
    );
  }

  #tokenFailure(error: ErrorResponse): Response {
    if (this.#settings.tokenErrors === "throw") throw error.error;
    return toResponse(error);
  }
}
