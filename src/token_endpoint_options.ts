/**
 * The settings of a {@linkcode TokenEndpoint}, and the answers of its
 * {@linkcode TokenEndpoint.prototype.post}.
 *
 * @module
 */

import type { ClientAssertion } from "./client_assertion.ts";
import type { ClientAuthMethod } from "./client_auth.ts";
import type { ClientEvent } from "./client_event.ts";
import type { DpopKey } from "./dpop.ts";

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
  /**
   * The body as text (UTF-8), at most 1 MiB; a credential of the request it
   * echoes (the client secret, the Basic credential, an assertion) reads
   * `[redacted]`, in the headers too.
   */
  body: string;
}

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
  url?: string | URL;
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
  /**
   * The DPoP key ([RFC 9449](https://www.rfc-editor.org/rfc/rfc9449)), or a
   * function that makes it on the first request (called once): every token
   * request then carries a proof, a `use_dpop_nonce` answer is retried once
   * with the server's nonce (§8), and only DPoP-bound tokens are accepted.
   */
  dpop?: DpopKey | (() => Promise<DpopKey>);
  /**
   * For a client that starts from a protected resource
   * ([RFC 9728](https://www.rfc-editor.org/rfc/rfc9728)) and has no `url` or
   * `issuer`: `find` names the issuer and the client identifier (given, or
   * registered, [RFC 7591](https://www.rfc-editor.org/rfc/rfc7591)) on the
   * first request; `forget` drops a registration the server answered
   * `invalid_client` to, so that the next request registers anew. `resource`
   * stands for the token endpoint until then.
   */
  serverDiscovery?: {
    resource: URL;
    find(signal?: AbortSignal): Promise<{
      issuer: string;
      clientId: string;
      /** A registration's secret, when the server made the client confidential. */
      clientSecret?: string;
      /** A registration's `token_endpoint_auth_method`, when it has a secret. */
      clientAuth?: ClientAuthMethod;
    }>;
    forget(clientId: string): Promise<void>;
  };
}
