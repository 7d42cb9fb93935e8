/**
 * The client credentials grant
 * ([RFC 6749 §4.4](https://www.rfc-editor.org/rfc/rfc6749#section-4.4)), the default.
 *
 * @module
 */

import type { Grant, GrantContext } from "../grant.ts";
import type { TokenResult } from "../token_endpoint.ts";

/**
 * The client credentials grant: the client asks for a token on its own behalf.
 *
 * The default grant of {@linkcode Client}; pass it explicitly to make the
 * choice visible, or wrap it.
 *
 * @example Choosing the grant explicitly
 * ```ts
 * import { Client, ClientCredentialsGrant } from "@alf/client";
 *
 * await using client = new Client({
 *   tokenEndpoint: "https://auth.example.com/token",
 *   clientId: "id",
 *   clientSecret: "secret",
 *   grant: new ClientCredentialsGrant(),
 * });
 * ```
 */
export class ClientCredentialsGrant implements Grant {
  /** The grant's name in storage keys. */
  readonly name = "client_credentials";

  /**
   * Sends `grant_type=client_credentials` with the client's parameters.
   *
   * @param context The endpoint, parameters and signal.
   * @returns The token, or the token endpoint's error response.
   */
  obtain(context: GrantContext): Promise<TokenResult> {
    const params = new URLSearchParams([
      ["grant_type", "client_credentials"],
      ...context.params,
    ]);
    return context.endpoint.request(params, context.signal);
  }
}
