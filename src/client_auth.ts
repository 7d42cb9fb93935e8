/**
 * Client authentication at the token endpoint
 * ([RFC 6749 §2.3](https://www.rfc-editor.org/rfc/rfc6749#section-2.3)).
 *
 * @module
 */

import { TLS_CLIENT_AUTH_METHODS, type TlsClientAuthMethod } from "./mtls.ts";

/**
 * How the client authenticates at the token endpoint.
 *
 * @example Sending the secret in the form
 * ```ts
 * import { Client, type ClientAuthMethod } from "@alf/client";
 *
 * const clientAuth: ClientAuthMethod = "client_secret_post";
 * await using client = new Client({
 *   tokenEndpoint: "https://auth.example.com/token",
 *   clientId: "id",
 *   clientSecret: "secret",
 *   clientAuth,
 * });
 * ```
 *
 * - `"client_secret_basic"`: HTTP Basic with the id and secret each
 *   form-encoded first ([RFC 6749 §2.3.1](https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1)).
 * - `"client_secret_post"`: `client_id` and `client_secret` in the form body.
 * - `"client_secret_jwt"`: a JWT signed with HS256 over the secret, which
 *   itself is never sent ([RFC 7523 §2.2](https://www.rfc-editor.org/rfc/rfc7523#section-2.2),
 *   [OpenID Connect Core §9](https://openid.net/specs/openid-connect-core-1_0.html#ClientAuthentication)).
 * - `"private_key_jwt"`: a JWT signed with the client's private key
 *   (`clientKey`); the server holds the public key.
 * - `"none"`: a public client; only `client_id` in the form body
 *   ([RFC 6749 §3.2.1](https://www.rfc-editor.org/rfc/rfc6749#section-3.2.1)).
 * - `"tls_client_auth"`, `"self_signed_tls_client_auth"`: mutual TLS; the
 *   client's `clientCertificate` is presented in the TLS handshake and only
 *   `client_id` goes in the form body
 *   ([RFC 8705 §2](https://www.rfc-editor.org/rfc/rfc8705#section-2)); see
 *   {@linkcode TlsClientAuthMethod}.
 */
export type ClientAuthMethod =
  | "client_secret_basic"
  | "client_secret_post"
  | "client_secret_jwt"
  | "private_key_jwt"
  | "none"
  | TlsClientAuthMethod;

/** The accepted values of {@linkcode ClientAuthMethod}. */
export const CLIENT_AUTH_METHODS: readonly ClientAuthMethod[] = [
  "client_secret_basic",
  "client_secret_post",
  "client_secret_jwt",
  "private_key_jwt",
  "none",
  ...TLS_CLIENT_AUTH_METHODS,
];

/** The methods {@linkcode authenticate} applies: those that need no signature. */
export type SecretAuthMethod = Exclude<ClientAuthMethod, "client_secret_jwt" | "private_key_jwt">;

/** What a client can authenticate with, for {@linkcode defaultClientAuth}. */
export interface ClientCredentialKinds {
  /** Whether the client has a secret. */
  secret: boolean;
  /** Whether the client has a private key. */
  key: boolean;
}

/**
 * The method of a client that did not choose one: `private_key_jwt` with a
 * key; with a secret, the first of `client_secret_basic`, `client_secret_post`
 * and `client_secret_jwt` the server lists in
 * `token_endpoint_auth_methods_supported`, or `client_secret_basic` when it
 * lists none of them or nothing (the default of
 * [RFC 8414 §2](https://www.rfc-editor.org/rfc/rfc8414#section-2)); else `none`.
 *
 * @param has Whether the client has a secret and a key.
 * @param supported The server's `token_endpoint_auth_methods_supported`, when discovered.
 */
export function defaultClientAuth(
  has: ClientCredentialKinds,
  supported?: readonly string[],
): ClientAuthMethod {
  if (has.key) return "private_key_jwt";
  if (!has.secret) return "none";
  const preferred = (["client_secret_basic", "client_secret_post", "client_secret_jwt"] as const)
    .find((method) => supported?.includes(method));
  return preferred ?? "client_secret_basic";
}

/** Form-encodes one value as `application/x-www-form-urlencoded` does. */
function formEncode(value: string): string {
  return new URLSearchParams([["", value]]).toString().slice(1);
}

/**
 * Adds the client's credentials to a token request.
 *
 * @param method The authentication method.
 * @param clientId The client identifier.
 * @param clientSecret The client secret (ignored for `"none"` and the mutual-TLS methods).
 * @param headers The request headers, changed in place.
 * @param form The request form, changed in place.
 */
export function authenticate(
  method: SecretAuthMethod,
  clientId: string,
  clientSecret: string | undefined,
  headers: Headers,
  form: URLSearchParams,
): void {
  switch (method) {
    case "client_secret_basic": {
      const pair = `${formEncode(clientId)}:${formEncode(clientSecret ?? "")}`;
      const bytes = new TextEncoder().encode(pair);
      headers.set("Authorization", `Basic ${btoa(String.fromCharCode(...bytes))}`);
      break;
    }
    case "client_secret_post":
      form.set("client_id", clientId);
      form.set("client_secret", clientSecret ?? "");
      break;
    case "none":
    // The certificate authenticates; the server needs the id to find it (RFC 8705 §2).
    case "tls_client_auth":
    case "self_signed_tls_client_auth":
      form.set("client_id", clientId);
      break;
  }
}
