/**
 * The mix-up defence of a browser login
 * ([RFC 9207](https://www.rfc-editor.org/rfc/rfc9207)): the `iss` of the authorization
 * response names the server the request was sent to.
 *
 * @module
 */

import type { AuthorizationServerMetadata } from "../server_metadata.ts";
import { TokenError } from "../token_error.ts";

/**
 * Checks the `iss` of an authorization response
 * ([RFC 9207 §2.4](https://www.rfc-editor.org/rfc/rfc9207#section-2.4)), before anything
 * else in it is believed, an error included.
 *
 * With metadata (the client has an issuer): an `iss` must be the metadata's
 * `issuer`, compared as strings with no normalisation (RFC 3986 §6.2.1); a
 * response without one is refused when the metadata says
 * `authorization_response_iss_parameter_supported`. An `iss` the metadata does
 * not announce is still compared: some servers send it unannounced, and a
 * wrong one is a mix-up whatever the metadata says. Without metadata there is
 * no issuer to compare with, and `iss` is ignored (as oauth4webapi does since
 * its issue 226).
 *
 * @param answer The redirect's parameters.
 * @param metadata The server's metadata, when the client has an issuer.
 * @throws {TokenError} (code `login_failed`) when the response is refused:
 *   the login must not go on with it.
 */
export function checkResponseIssuer(
  answer: URLSearchParams,
  metadata: AuthorizationServerMetadata | undefined,
): void {
  if (metadata === undefined) return;
  const expected = metadata.issuer;
  const values = answer.getAll("iss");
  const refuse = (why: string) =>
    new TokenError(`Cannot log in: the authorization response ${why} (RFC 9207 §2.4)`, {
      code: "login_failed",
    });
  if (values.length > 1) throw refuse('has more than one "iss"');
  const [iss] = values;
  if (iss === undefined) {
    if (metadata.authorization_response_iss_parameter_supported !== true) return;
    throw refuse(
      `has no "iss", although the metadata of ${expected} says authorization_response_iss_parameter_supported`,
    );
  }
  if (iss !== expected) {
    throw refuse(
      `comes from ${
        JSON.stringify(iss.slice(0, 200))
      }, not from the issuer ${expected}: a possible mix-up`,
    );
  }
}
