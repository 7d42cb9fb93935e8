/**
 * One token request: the form POST, its timeout, its bounded read, and the
 * outcome every grant shares ([RFC 6749 §3.2](https://www.rfc-editor.org/rfc/rfc6749#section-3.2),
 * [§5](https://www.rfc-editor.org/rfc/rfc6749#section-5)); and the server's
 * other endpoints, found from its issuer ([RFC 8414](https://www.rfc-editor.org/rfc/rfc8414)).
 *
 * @module
 */

import { deadline } from "./_abort.ts";
import { readBounded } from "./_body.ts";
import {
  causeText,
  endpointName,
  reportRequest,
  requestFailure,
  tokenRequestFailure,
} from "./_request_outcome.ts";
import {
  addClientAuthentication,
  type AssertionTarget,
  ClientAssertion,
} from "./client_assertion.ts";
import { type ClientAuthMethod, defaultClientAuth } from "./client_auth.ts";
import type { ClientEvent } from "./client_event.ts";
import { discover } from "./discovery.ts";
import { revokeToken } from "./revocation.ts";
import { type AuthorizationServerMetadata, metadataEndpoint } from "./server_metadata.ts";
import { TokenError } from "./token_error.ts";
import { parseTokenResponse } from "./token_response.ts";
import { errorResponse, secretsOf, type TokenResult } from "./token_result.ts";

export { type ErrorResponse, type TokenResult, toResponse } from "./token_result.ts";

/**
 * An answer of {@linkcode TokenEndpoint.prototype.post}: read whole, whatever
 * its status.
 *
 * @example Reading an answer
 * ```ts
 * import type { EndpointAnswer } from "@alf/client";
 *
 * function userCode(answer: EndpointAnswer): string | undefined {
 *   return answer.status === 200 ? JSON.parse(answer.body).user_code : undefined;
 * }
 * ```
 */
export interface EndpointAnswer {
  /** The HTTP status. */
  status: number;
  /** The response headers. */
  headers: Headers;
  /** The body as text (UTF-8), at most 1 MiB. */
  body: string;
}

/** Largest token response body read: 1 MiB. */
export const MAX_TOKEN_RESPONSE_BYTES = 1024 * 1024;

/**
 * Settings of a {@linkcode TokenEndpoint}.
 *
 * @example Settings for a public client
 * ```ts
 * import type { TokenEndpointOptions } from "@alf/client";
 *
 * const options: TokenEndpointOptions = {
 *   url: new URL("https://auth.example.com/token"),
 *   clientId: "id",
 *   clientAuth: "none",
 *   fetch,
 *   now: Date.now,
 *   timeout: 30_000,
 * };
 * ```
 */
export interface TokenEndpointOptions {
  /**
   * The token endpoint URL. Give it, or `issuer` to find it by discovery on
   * the first request, or both: then this one is used, and the issuer names
   * the server in client assertions and finds its other endpoints.
   */
  url?: URL;
  /**
   * The authorization server's issuer identifier
   * ([RFC 8414 §2](https://www.rfc-editor.org/rfc/rfc8414#section-2)), whose
   * metadata names the endpoints; see {@linkcode discover}.
   */
  issuer?: string | URL;
  /** The client identifier. */
  clientId: string;
  /** The client secret, if any. */
  clientSecret?: string;
  /**
   * How the client authenticates. Default: `"private_key_jwt"` with a
   * `clientAssertion` of that method; else, with a secret,
   * `"client_secret_basic"` (for an endpoint found by discovery, the first of
   * `client_secret_basic`, `client_secret_post` and `client_secret_jwt` its
   * metadata lists); else `"none"`.
   */
  clientAuth?: ClientAuthMethod;
  /**
   * Signs the client assertions of `private_key_jwt` and `client_secret_jwt`.
   * Default for `client_secret_jwt`: one over `clientSecret`.
   */
  clientAssertion?: ClientAssertion;
  /**
   * Allow plain `http:` to hosts that are not loopback hosts, for the issuer
   * and the endpoints its metadata names. Default: `false`.
   */
  allowHttp?: boolean;
  /** The transport. */
  fetch: typeof fetch;
  /** Sends token and revocation requests with the client's certificate, to mTLS aliases if any. */
  mtlsFetch?: typeof fetch;
  /** The clock, epoch milliseconds. */
  now: () => number;
  /** How long one token request may take, in milliseconds. */
  timeout: number;
  /** Receives a `request` event for each token request; see {@linkcode ClientEvent}. */
  onEvent?: (event: ClientEvent) => void;
}

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
  /** The issuer as a URL, standing for the token endpoint until discovery finds it. */
  readonly #issuerUrl?: URL;
  /** The metadata, once discovered: kept for the endpoint's life. */
  #metadata?: AuthorizationServerMetadata;
  #discoveredUrl?: URL;
  /** The assertion signer of `client_secret_jwt` when none was given. */
  #secretAssertion?: ClientAssertion;

  /**
   * Creates the endpoint a grant sends its token requests to. Nothing is sent
   * until the first request.
   *
   * @param options The endpoint (or the issuer), credentials, transport, clock and timeout.
   * @throws {TypeError} when neither `url` nor `issuer` is given, or `issuer` is not a URL.
   */
  constructor(options: TokenEndpointOptions) {
    const { url, issuer } = options ?? {};
    if (url === undefined && issuer === undefined) {
      throw new TypeError('Cannot create the TokenEndpoint: give "url" or "issuer"');
    }
    if (issuer !== undefined) {
      try {
        this.#issuerUrl = new URL(issuer);
      } catch {
        throw new TypeError('Cannot create the TokenEndpoint: "issuer" is not a valid URL');
      }
    }
    this.#options = options;
  }

  /**
   * The token endpoint URL. For an endpoint found by discovery: the issuer
   * until the first request (or {@linkcode TokenEndpoint.prototype.resolve})
   * has found it; use `resolve()` to be sure.
   */
  get url(): URL {
    return this.#options.url ?? this.#discoveredUrl ?? this.#issuerUrl!;
  }

  /**
   * The issuer identifier, when the endpoint has one: as its metadata names
   * it once discovered, else as given.
   */
  get issuer(): string | undefined {
    const { issuer } = this.#options;
    return this.#metadata?.issuer ?? (issuer === undefined ? undefined : String(issuer));
  }

  /** The client identifier. */
  get clientId(): string {
    return this.#options.clientId;
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
    const { issuer, fetch, mtlsFetch, allowHttp, timeout } = this.#options;
    if (this.#metadata !== undefined || issuer === undefined) return this.#metadata;
    const metadata = await discover(issuer, { fetch, signal, allowHttp, timeout });
    this.#discoveredUrl ??= new URL(metadataEndpoint(metadata, "token_endpoint", !!mtlsFetch)!);
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
    if (this.#options.url !== undefined) return this.#options.url;
    await this.metadata(signal);
    return this.#discoveredUrl!;
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
    const { clientSecret, now, timeout } = this.#options;
    const form = new URLSearchParams(params);
    const headers = new Headers({
      "Content-Type": "application/x-www-form-urlencoded",
      "Accept": "application/json",
    });
    const { method, assertion } = this.#credentials();
    await addClientAuthentication(
      { clientId: this.clientId, clientAuth: method, clientSecret, clientAssertion: assertion },
      this.#target(url, url),
      headers,
      form,
    );

    const bound = deadline(signal, timeout, "The token request timed out");
    const maxBytes = MAX_TOKEN_RESPONSE_BYTES;
    const started = performance.now();
    let status: number | undefined;
    let failure: string | undefined;
    try {
      let response: Response;
      let body: Uint8Array;
      try {
        // Credentials are never re-posted to wherever a redirect points.
        response = await (this.#options.mtlsFetch ?? this.#options.fetch)(url, {
          method: "POST",
          headers,
          body: form,
          redirect: "manual",
          signal: bound.signal,
        });
      } catch (cause) {
        const what = `Cannot reach the token endpoint ${endpointName(url)}`;
        throw tokenRequestFailure(cause, { signal: bound.signal, what, timeout, maxBytes });
      }
      status = response.status;
      // expires_in counts from the response, not from the end of its body:
      // [RFC 6749 §5.1](https://www.rfc-editor.org/rfc/rfc6749#section-5.1).
      const receivedAt = now();
      try {
        body = await readBounded(response, maxBytes);
      } catch (cause) {
        const what = "Cannot read the token response";
        throw tokenRequestFailure(cause, { signal: bound.signal, what, status, timeout, maxBytes });
      }
      if (status > 599) {
        // A Response cannot carry such a status: there is nothing to return.
        throw new TokenError(
          `Cannot obtain a token: the token endpoint answered an invalid status ${status}`,
          { code: "invalid_response", status },
        );
      }
      if (status >= 200 && status < 300) {
        const text = new TextDecoder().decode(body);
        const type = response.headers.get("content-type");
        return { token: parseTokenResponse(text, receivedAt, status, type) };
      }
      const refused = errorResponse(response, body, secretsOf(headers, form, clientSecret));
      failure = refused.error.error ?? refused.error.code;
      return { errorResponse: refused };
    } catch (error) {
      failure = error instanceof TokenError ? error.code : "network_error";
      throw error;
    } finally {
      bound[Symbol.dispose]();
      const grant = form.get("grant_type") ?? "";
      reportRequest(this.#options.onEvent, url, { grant, status, started, error: failure });
    }
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
   *   endpoint"`); `signal`: aborts the request.
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
    options: { name: string; signal?: AbortSignal },
  ): Promise<EndpointAnswer> {
    const { name, signal } = options;
    const tokenEndpoint = await this.resolve(signal);
    const { clientSecret, timeout } = this.#options;
    const form = new URLSearchParams(params);
    const headers = new Headers({
      "Content-Type": "application/x-www-form-urlencoded",
      "Accept": "application/json",
    });
    const { method, assertion } = this.#credentials();
    await addClientAuthentication(
      { clientId: this.clientId, clientAuth: method, clientSecret, clientAssertion: assertion },
      this.#target(url, tokenEndpoint),
      headers,
      form,
    );
    const bound = deadline(signal, timeout, `The ${name} did not answer in time`);
    const maxBytes = MAX_TOKEN_RESPONSE_BYTES;
    let status: number | undefined;
    try {
      const response = await (this.#options.mtlsFetch ?? this.#options.fetch)(url, {
        method: "POST",
        headers,
        body: form,
        redirect: "manual",
        signal: bound.signal,
      });
      status = response.status;
      const body = new TextDecoder().decode(await readBounded(response, maxBytes));
      return { status, headers: response.headers, body };
    } catch (cause) {
      throw requestFailure(cause, {
        signal: bound.signal,
        status,
        tooLarge: `Cannot read the ${name}'s answer: the body exceeds ${maxBytes} bytes`,
        timedOut: `Cannot reach the ${name}: it did not answer within ${timeout} ms`,
        aborted: `Cannot reach the ${name}: the request was aborted`,
        unreachable: (reason) =>
          `Cannot reach the ${name} ${endpointName(url)}: ${causeText(reason)}`,
      });
    } finally {
      bound[Symbol.dispose]();
    }
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
    const { clientSecret, fetch, mtlsFetch, timeout, allowHttp } = this.#options;
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
    const { clientId, clientSecret, clientAssertion, clientAuth, now } = this.#options;
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

  /** Where a request goes, for an assertion's `aud`. */
  #target(endpoint: URL | string, tokenEndpoint: URL): AssertionTarget {
    return { endpoint, tokenEndpoint, issuer: this.issuer };
  }
}
