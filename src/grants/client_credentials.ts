/**
 * The client credentials grant (RFC 6749 §4.4), the default.
 *
 * @module
 */

import type { Grant, GrantContext } from "../grant.ts";
import type { TokenResult } from "../token_endpoint.ts";

/** The client credentials grant: the client asks for a token on its own behalf. */
export class ClientCredentialsGrant implements Grant {
  /** The grant's name in storage keys. */
  readonly name = "client_credentials";

  /** Sends `grant_type=client_credentials` with the client's parameters. */
  obtain(context: GrantContext): Promise<TokenResult> {
    const params = new URLSearchParams([
      ["grant_type", "client_credentials"],
      ...context.params,
    ]);
    return context.endpoint.request(params, context.signal);
  }
}
