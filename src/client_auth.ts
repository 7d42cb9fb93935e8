/**
 * Client authentication at the token endpoint
 * ([RFC 6749 §2.3](https://www.rfc-editor.org/rfc/rfc6749#section-2.3)).
 *
 * @module
 */

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
 * - `"none"`: a public client; only `client_id` in the form body
 *   ([RFC 6749 §3.2.1](https://www.rfc-editor.org/rfc/rfc6749#section-3.2.1)).
 */
export type ClientAuthMethod = "client_secret_basic" | "client_secret_post" | "none";

/** The accepted values of {@linkcode ClientAuthMethod}. */
export const CLIENT_AUTH_METHODS: readonly ClientAuthMethod[] = [
  "client_secret_basic",
  "client_secret_post",
  "none",
];

/** Form-encodes one value as `application/x-www-form-urlencoded` does. */
function formEncode(value: string): string {
  return new URLSearchParams([["", value]]).toString().slice(1);
}

/**
 * Adds the client's credentials to a token request.
 *
 * @param method The authentication method.
 * @param clientId The client identifier.
 * @param clientSecret The client secret (ignored for `"none"`).
 * @param headers The request headers, changed in place.
 * @param form The request form, changed in place.
 */
export function authenticate(
  method: ClientAuthMethod,
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
      form.set("client_id", clientId);
      break;
  }
}
