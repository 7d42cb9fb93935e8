/**
 * One token request: the form POST, its timeout, its bounded read, and the
 * outcome every grant shares ([RFC 6749 §3.2](https://www.rfc-editor.org/rfc/rfc6749#section-3.2),
 * [§5](https://www.rfc-editor.org/rfc/rfc6749#section-5)); and the server's
 * other endpoints, found from its issuer ([RFC 8414](https://www.rfc-editor.org/rfc/rfc8414)).
 *
 * @module
 */

import { postForm, sendTokenRequest, type SentTokenRequest } from "./_token_request.ts";
import {
  addClientAuthentication,
  type AssertionTarget,
  ClientAssertion,
} from "./client_assertion.ts";
import { type ClientAuthMethod, defaultClientAuth } from "./client_auth.ts";
import { discover } from "./discovery.ts";
import { revokeToken } from "./revocation.ts";
import { type AuthorizationServerMetadata, metadataEndpoint } from "./server_metadata.ts";
import { keySource } from "./_dpop_option.ts";
import { DpopProver } from "./_dpop_prover.ts";
import type { DpopKey } from "./dpop.ts";
import { bindingDefect } from "./token.ts";
import { TokenError } from "./token_error.ts";
import { redact, secretsOf, type TokenResult } from "./token_result.ts";
import type { EndpointAnswer, TokenEndpointOptions } from "./token_endpoint_options.ts";

export { MAX_TOKEN_RESPONSE_BYTES } from "./_token_request.ts";
export { type ErrorResponse, type TokenResult, toResponse } from "./token_result.ts";
export type { EndpointAnswer, TokenEndpointOptions } from "./token_endpoint_options.ts";

/**
 * The token endpoint as grants see it: `request(params)` sends one
 * authenticated form POST and returns a {@linkcode TokenResult}.
 *
 * @example Sending one token request by hand
 * ```ts
 * import assert from "node:assert/strict";
 * import { TokenEndpoint } from "@alf/client";
 * import { startAuthServer } from "@alf/client/testing";
 *
 * await using server = await startAuthServer();
 * const endpoint = new TokenEndpoint({
 *   url: new URL(server.tokenEndpoint),
 *   clientId: "id",
 *   clientSecret: "secret",
 *   clientAuth: "client_secret_basic",
 *   fetch,
 *   now: Date.now,
 *   timeout: 30_000,
 * });
 * const result = await endpoint.request(new URLSearchParams({ grant_type: "client_credentials" }));
 * assert.ok("token" in result && result.token.tokenType === "Bearer");
 * ```
 */
export class TokenEndpoint {
  readonly #options: TokenEndpointOptions;
  /** The metadata, once discovered: kept for the endpoint's life. */
  #metadata?: AuthorizationServerMetadata;
  /** The assertion signer of `client_secret_jwt` when none was given. */
  #secretAssertion?: ClientAssertion;
  /** What the server discovery found: the issuer, the client identifier, a registration's secret. */
  #found?: {
    issuer: string;
    clientId: string;
    clientSecret?: string;
    clientAuth?: ClientAuthMethod;
  };

  /** The client secret: a registration's, else the one given. */
  get #secret(): string | undefined {
    return this.#found ? this.#found.clientSecret : this.#options.clientSecret;
  }
  /** The DPoP key and the authorization server's nonces. */
  readonly #dpop?: DpopProver;

  /**
   * Creates the endpoint a grant sends its token requests to. Nothing is sent
   * until the first request.
   *
   * @param options The endpoint (or the issuer), credentials, transport, clock and timeout.
   * @throws {TypeError} when neither `url` nor `issuer` is given, or either is not a URL.
   */
  constructor(options: TokenEndpointOptions) {
    const { url, issuer, serverDiscovery } = options ?? {};
    if (url === undefined && issuer === undefined && serverDiscovery === undefined) {
      throw new TypeError('Cannot create the TokenEndpoint: give "url" or "issuer"');
    }
    // Kept as given (a URL is made when one is needed): checked now.
    for (const [name, value] of [["url", url], ["issuer", issuer]] as const) {
      if (value === undefined || URL.canParse(value)) continue;
      throw new TypeError(`Cannot create the TokenEndpoint: "${name}" is not a valid URL`);
    }
    this.#options = options;
    if (options.dpop !== undefined) this.#dpop = new DpopProver(keySource(options.dpop));
  }

  /** The token endpoint the metadata names, once discovered. */
  get #discoveredUrl(): string | undefined {
    return metadataEndpoint(this.#metadata, "token_endpoint", !!this.#options.mtlsFetch);
  }

  /** Whether token requests carry DPoP proofs, and only DPoP-bound tokens are accepted. */
  get dpop(): boolean {
    return this.#dpop !== undefined;
  }

  /**
   * The token endpoint URL. For an endpoint found by discovery: the issuer
   * until the first request (or {@linkcode TokenEndpoint.prototype.resolve})
   * has found it; use `resolve()` to be sure. A new `URL` at each read.
   */
  get url(): URL {
    const { url, issuer, serverDiscovery } = this.#options;
    return new URL(url ?? this.#discoveredUrl ?? issuer ?? serverDiscovery!.resource);
  }

  /**
   * The issuer identifier, when the endpoint has one: as its metadata names
   * it once discovered, else as given.
   */
  get issuer(): string | undefined {
    const issuer = this.#options.issuer ?? this.#found?.issuer;
    return this.#metadata?.issuer ?? (issuer === undefined ? undefined : String(issuer));
  }

  /** The client identifier. */
  get clientId(): string {
    return this.#found?.clientId ?? this.#options.clientId;
  }

  /** The client's clock, epoch milliseconds: a grant that gets a token elsewhere dates it by it. */
  get now(): () => number {
    return this.#options.now;
  }

  /**
   * The authorization server's metadata, found from the issuer on the first
   * call ({@linkcode discover}: one request per issuer per process) and kept;
   * `undefined` for an endpoint without an issuer. Grants read the other
   * endpoints here: `authorization_endpoint`,
   * `device_authorization_endpoint`, `revocation_endpoint`, ...
   *
   * @param signal Stops waiting.
   * @throws {TokenError} when the metadata cannot be had, or fails a check
   * (an issuer mismatch, no `token_endpoint`).
   *
   * @example Finding the authorization endpoint
   * ```ts
   * import assert from "node:assert/strict";
   * import { TokenEndpoint } from "@alf/client";
   * import { startAuthServer } from "@alf/client/testing";
   *
   * await using server = await startAuthServer();
   * const endpoint = new TokenEndpoint({
   *   issuer: server.issuer,
   *   clientId: "id",
   *   fetch,
   *   now: Date.now,
   *   timeout: 30_000,
   * });
   * const metadata = await endpoint.metadata();
   * assert.equal(metadata?.authorization_endpoint, server.authorizationEndpoint);
   * assert.equal((await endpoint.resolve()).href, server.tokenEndpoint);
   * ```
   */
  async metadata(signal?: AbortSignal): Promise<AuthorizationServerMetadata | undefined> {
    const { fetch, allowHttp, timeout, serverDiscovery } = this.#options;
    if (serverDiscovery && !this.#found) this.#found = await serverDiscovery.find(signal);
    const issuer = this.#options.issuer ?? this.#found?.issuer;
    if (this.#metadata !== undefined || issuer === undefined) return this.#metadata;
    const metadata = await discover(issuer, { fetch, signal, allowHttp, timeout });
    return this.#metadata ??= metadata;
  }

  /**
   * The token endpoint URL: the one given, else the one the issuer's
   * metadata names.
   *
   * @param signal Stops waiting for the discovery.
   * @throws {TokenError} when it must be discovered, and cannot be.
   */
  async resolve(signal?: AbortSignal): Promise<URL> {
    if (this.#options.url !== undefined) return new URL(this.#options.url);
    await this.metadata(signal);
    return new URL(this.#discoveredUrl!);
  }

  /**
   * Sends one token request.
   *
   * @param params The grant's form parameters (`grant_type` and the rest).
   * @param signal Aborts the request (the timeout applies as well).
   * @throws {TokenError} on network errors, timeouts and unusable responses,
   * and when the endpoint must be discovered and cannot be.
   */
  async request(params: URLSearchParams, signal?: AbortSignal): Promise<TokenResult> {
    const url = await this.resolve(signal);
    const dpop = await this.#dpopKey();
    let sent = await this.#send(url, params, signal);
    // One retry with the nonce the server asked for: RFC 9449 §8.
    if (sent.nonceChallenge) sent = await this.#send(url, params, signal);
    const { result } = sent;
    const found = this.#found;
    if (
      found && "errorResponse" in result && result.errorResponse.error.error === "invalid_client"
    ) {
      // A server that forgot its registration: the next request registers anew.
      this.#found = undefined;
      await this.#options.serverDiscovery?.forget(found.clientId);
    }
    if ("token" in result) {
      const defect = bindingDefect(result.token.tokenType, dpop !== undefined);
      if (defect) {
        throw new TokenError(`Cannot use the token: ${defect}`, {
          code: "invalid_response",
          status: 200,
        });
      }
    }
    return result;
  }

  /** One token request, with the client's authentication and, with DPoP, a proof. */
  async #send(
    url: URL,
    params: URLSearchParams,
    signal: AbortSignal | undefined,
  ): Promise<SentTokenRequest> {
    const { form, headers } = await this.#authenticated(params, url, url);
    const dpop = this.#dpop;
    const signed = dpop && await dpop.sign("POST", url);
    if (signed) headers.set("DPoP", signed.proof);
    return await sendTokenRequest({
      ...this.#options,
      url,
      form,
      headers,
      signal,
      fetch: this.#options.mtlsFetch ?? this.#options.fetch,
      onAnswer: signed &&
        ((response, error) => dpop!.serverAnswered(url, response, error, signed.nonce)),
    });
  }

  /** The DPoP key, checked against the server's metadata; `undefined` without DPoP. */
  #dpopKey(): Promise<DpopKey | undefined> {
    return this.#dpop?.checkedKey(this.#metadata?.dpop_signing_alg_values_supported) ??
      Promise.resolve(undefined);
  }

  /**
   * Sends a form POST with the client's authentication to another endpoint of
   * the authorization server: the requests that come before a token request,
   * such as device authorization
   * ([RFC 8628 §3.1](https://www.rfc-editor.org/rfc/rfc8628#section-3.1)) and
   * pushed authorization
   * ([RFC 9126 §2.1](https://www.rfc-editor.org/rfc/rfc9126#section-2.1)).
   * Same transport, timeout, redirect rule and response bound (1 MiB) as a
   * token request; the caller reads the answer.
   *
   * @param url The endpoint.
   * @param params The form (`client_id` and the client's credentials are added).
   * @param options `name`: the endpoint in messages (`"device authorization
   *   endpoint"`); `signal`: aborts the request; `dpop`: with a DPoP key, the
   *   request carries a proof, and a `use_dpop_nonce` answer is retried once
   *   with its nonce (the pushed authorization request,
   *   [RFC 9449 §10.1](https://www.rfc-editor.org/rfc/rfc9449#section-10.1)).
   * @returns The status, headers and body text of the answer, whatever its status.
   * @throws {TokenError} with code `network_error`, `timeout`, `aborted` or
   *   `invalid_response` (a body past its bound); and when the token endpoint
   *   must be discovered (for an assertion's audience) and cannot be.
   *
   * @example Asking for a device code by hand
   * ```ts
   * import assert from "node:assert/strict";
   * import { TokenEndpoint } from "@alf/client";
   * import { startAuthServer } from "@alf/client/testing";
   *
   * await using server = await startAuthServer();
   * const endpoint = new TokenEndpoint({
   *   url: new URL(server.tokenEndpoint),
   *   clientId: "id",
   *   clientSecret: "secret",
   *   fetch,
   *   now: Date.now,
   *   timeout: 30_000,
   * });
   * const answer = await endpoint.post(
   *   new URL(server.url("/device_authorization")),
   *   new URLSearchParams({ scope: "read" }),
   *   { name: "device authorization endpoint" },
   * );
   * assert.equal(answer.status, 200);
   * assert.ok(JSON.parse(answer.body).user_code);
   * ```
   */
  async post(
    url: URL,
    params: URLSearchParams,
    options: { name: string; signal?: AbortSignal; dpop?: boolean },
  ): Promise<EndpointAnswer> {
    const { name, signal } = options;
    const tokenEndpoint = await this.resolve(signal);
    const dpop = options.dpop && await this.#dpopKey() && this.#dpop;
    const { timeout } = this.#options;
    const fetch = this.#options.mtlsFetch ?? this.#options.fetch;
    const send = async (proof?: string) => {
      // A new assertion each time: its `jti` is single-use.
      const { form, headers } = await this.#authenticated(params, url, tokenEndpoint);
      if (proof !== undefined) headers.set("DPoP", proof);
      const answer = await postForm({ url, form, headers, fetch, timeout, signal, name });
      // A server that echoes the request never gets the client's secret into an error.
      return redactedAnswer(answer, secretsOf(headers, form, this.#secret));
    };
    // With a proof, once more with the nonce the server asks for (RFC 9449 §8, §10.1).
    return dpop ? await dpop.withNonceRetry(url, send) : await send();
  }

  /**
   * The URL of one of the server's endpoints, as its metadata names it: for
   * a client that presents its certificate, its alias in
   * `mtls_endpoint_aliases` when there is one
   * ([RFC 8705 §5](https://www.rfc-editor.org/rfc/rfc8705#section-5)).
   * `undefined` for an endpoint without an issuer, or a member the metadata
   * lacks.
   *
   * @param name The metadata member, e.g. `"pushed_authorization_request_endpoint"`.
   * @param signal Stops waiting for the discovery.
   * @throws {TokenError} when the metadata cannot be had.
   */
  async endpoint(name: string, signal?: AbortSignal): Promise<URL | undefined> {
    const url = metadataEndpoint(await this.metadata(signal), name, !!this.#options.mtlsFetch);
    return url === undefined ? undefined : new URL(url);
  }

  /**
   * Revokes a token ([RFC 7009](https://www.rfc-editor.org/rfc/rfc7009)) with
   * the client's authentication, at `options.endpoint` or else the
   * `revocation_endpoint` of the issuer's metadata; see {@linkcode revokeToken}.
   *
   * @param token The token to revoke.
   * @param options The revocation endpoint, the `token_type_hint`, and a signal.
   * @throws {TypeError} when no revocation endpoint is known.
   * @throws {TokenError} when the endpoint answers an error or cannot be reached.
   *
   * @example Revoking at the endpoint the metadata names
   * ```ts
   * import { TokenEndpoint } from "@alf/client";
   * import { startAuthServer } from "@alf/client/testing";
   *
   * await using server = await startAuthServer();
   * const endpoint = new TokenEndpoint({
   *   issuer: server.issuer,
   *   clientId: "id",
   *   fetch,
   *   now: Date.now,
   *   timeout: 30_000,
   * });
   * await endpoint.revoke("a-refresh-token", { tokenTypeHint: "refresh_token" });
   * ```
   */
  async revoke(
    token: string,
    options: { endpoint?: URL; tokenTypeHint?: string; signal?: AbortSignal } = {},
  ): Promise<void> {
    const { signal, tokenTypeHint } = options;
    const metadata = await this.metadata(signal);
    const { fetch, mtlsFetch, timeout, allowHttp } = this.#options;
    const clientSecret = this.#secret;
    const endpoint = options.endpoint ??
      metadataEndpoint(metadata, "revocation_endpoint", !!mtlsFetch);
    if (endpoint === undefined) {
      throw new TypeError(
        "Cannot revoke the token: no revocation endpoint is known; give one, or an issuer whose metadata names one",
      );
    }
    const { method, assertion } = this.#credentials();
    const tokenEndpoint = await this.resolve(signal);
    await revokeToken(endpoint, token, {
      clientId: this.clientId,
      clientSecret,
      clientAuth: method,
      clientAssertion: assertion,
      tokenEndpoint,
      issuer: this.issuer,
      tokenTypeHint,
      fetch: mtlsFetch ?? fetch,
      signal,
      timeout,
      allowHttp,
    });
  }

  /**
   * The method and assertion signer of the next request: as chosen, else by
   * the credentials and the metadata (see `defaultClientAuth`).
   */
  #credentials(): { method: ClientAuthMethod; assertion?: ClientAssertion } {
    const { clientId, clientAssertion, now } = this.#options;
    const clientSecret = this.#secret;
    // A registration's own method, else the one given or chosen.
    const clientAuth = this.#found?.clientAuth ?? this.#options.clientAuth;
    const method = clientAuth ?? defaultClientAuth(
      { secret: !!clientSecret, key: clientAssertion?.method === "private_key_jwt" },
      this.#options.url === undefined
        ? this.#metadata?.token_endpoint_auth_methods_supported
        : undefined,
    );
    if (method !== "client_secret_jwt" || clientAssertion?.method === method || !clientSecret) {
      return { method, assertion: clientAssertion };
    }
    this.#secretAssertion ??= new ClientAssertion({ clientId, clientSecret, now });
    return { method, assertion: this.#secretAssertion };
  }

  /**
   * A form POST's body and headers, with the client's authentication (a new
   * assertion each time: its `jti` is single-use).
   *
   * @param endpoint Where it goes, and the token endpoint: for an assertion's `aud`.
   */
  async #authenticated(
    params: URLSearchParams,
    endpoint: URL,
    tokenEndpoint: URL,
  ): Promise<{ form: URLSearchParams; headers: Headers }> {
    const form = new URLSearchParams(params);
    const headers = new Headers({
      "Content-Type": "application/x-www-form-urlencoded",
      "Accept": "application/json",
    });
    const { method, assertion } = this.#credentials();
    const target: AssertionTarget = { endpoint, tokenEndpoint, issuer: this.issuer };
    await addClientAuthentication(
      {
        clientId: this.clientId,
        clientAuth: method,
        clientSecret: this.#secret,
        clientAssertion: assertion,
      },
      target,
      headers,
      form,
    );
    return { form, headers };
  }
}

/** An answer with every credential of its request replaced by `[redacted]`. */
function redactedAnswer(answer: EndpointAnswer, secrets: string[]): EndpointAnswer {
  const headers = new Headers();
  for (const [name, value] of answer.headers) headers.append(name, redact(value, secrets));
  return { status: answer.status, headers, body: redact(answer.body, secrets) };
}
