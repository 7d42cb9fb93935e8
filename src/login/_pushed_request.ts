/**
 * Pushed authorization requests ([RFC 9126](https://www.rfc-editor.org/rfc/rfc9126)): whether a
 * login pushes its request, the push itself, and the server's answer.
 *
 * @module
 */

import { parseEndpointUrl } from "../_endpoint_url.ts";
import type { GrantContext } from "../grant.ts";
import type { AuthorizationServerMetadata } from "../server_metadata.ts";
import type { EndpointAnswer } from "../token_endpoint.ts";
import { TokenError } from "../token_error.ts";
import { errorDetail, parseErrorResponse, parseJsonObject } from "../token_response.ts";
import type { AuthorizationCodeFlowOptions } from "./login_options.ts";

/** The endpoint's name in messages. */
const NAME = "pushed authorization request endpoint";

/** How a grant pushes its requests: the options of {@linkcode AuthorizationCodeFlowOptions}, checked. */
export interface PushSettings {
  /** The endpoint given; else the metadata's. */
  endpoint?: URL;
  /** `true`: always push; `false`: never; `undefined`: when an endpoint is known. */
  par?: boolean;
}

/** What the server answered a push with ([RFC 9126 §2.2](https://www.rfc-editor.org/rfc/rfc9126#section-2.2)). */
export interface PushedRequest {
  /** The reference the browser carries to the authorization endpoint. */
  requestUri: string;
  /** How long it may be used, in seconds. */
  expiresIn: number;
}

/**
 * Checks the pushed authorization request options of a grant.
 *
 * @throws {TypeError} when the endpoint is not a usable URL or `par` not a boolean.
 */
export function checkPushSettings(
  options: AuthorizationCodeFlowOptions,
  grant: string,
): PushSettings {
  const { pushedAuthorizationRequestEndpoint: endpoint, par } = options;
  if (par !== undefined && typeof par !== "boolean") {
    throw new TypeError(`Cannot create the ${grant}: "par" must be a boolean`);
  }
  return {
    endpoint: endpoint === undefined
      ? undefined
      : parseEndpointUrl(endpoint, grant, "pushedAuthorizationRequestEndpoint"),
    par,
  };
}

/**
 * Where a login pushes its request, or `undefined` when it does not push.
 *
 * @param settings The grant's settings; `undefined` for a grant that never
 *   pushes (the implicit grant).
 * @param metadata The server's metadata, when the client has an issuer.
 * @param discovered The pushed authorization request endpoint it names (its
 *   mutual-TLS alias for a client that presents a certificate), if any.
 * @throws {TokenError} (code `grant_failed`) when the server requires pushed
 *   requests ([RFC 9126 §5](https://www.rfc-editor.org/rfc/rfc9126#section-5)) and the
 *   login would not push, or the grant must push and knows no endpoint.
 */
export function pushEndpoint(
  settings: PushSettings | undefined,
  metadata: AuthorizationServerMetadata | undefined,
  discovered: URL | undefined,
): URL | undefined {
  const required = metadata?.require_pushed_authorization_requests === true;
  const fail = (why: string) => new TokenError(`Cannot log in: ${why}`, { code: "grant_failed" });
  if (settings === undefined) {
    if (!required) return undefined;
    throw fail(
      "the authorization server requires pushed authorization requests (require_pushed_authorization_requests, RFC 9126 §5), which the implicit grant does not send; use AuthorizationCodeGrant",
    );
  }
  if (settings.par === false) {
    if (!required) return undefined;
    throw fail(
      'the authorization server requires pushed authorization requests (require_pushed_authorization_requests, RFC 9126 §5), and "par" is false',
    );
  }
  const endpoint = settings.endpoint ?? discovered;
  if (endpoint === undefined && (settings.par === true || required)) {
    throw fail(
      `${
        required
          ? "the authorization server requires pushed authorization requests"
          : '"par" is true'
      }, but no pushed authorization request endpoint is known; give "pushedAuthorizationRequestEndpoint", or an issuer whose metadata names one`,
    );
  }
  return endpoint;
}

/**
 * Pushes an authorization request with the client's authentication
 * ([RFC 9126 §2.1](https://www.rfc-editor.org/rfc/rfc9126#section-2.1)).
 *
 * @param context The grant's context: its endpoint authenticates the client.
 * @param url The pushed authorization request endpoint.
 * @param params Every parameter of the authorization request.
 * @returns The `request_uri` and its lifetime.
 * @throws {TokenError} when the push fails or its answer is unusable; see
 *   {@linkcode parsePushedAnswer}.
 */
export async function pushAuthorizationRequest(
  context: GrantContext,
  url: URL,
  params: URLSearchParams,
): Promise<PushedRequest> {
  // With DPoP, the push carries a proof: the server binds the code to the key
  // ([RFC 9449 §10.1](https://www.rfc-editor.org/rfc/rfc9449#section-10.1)).
  const answer = await context.endpoint.post(url, params, {
    name: NAME,
    signal: context.signal,
    dpop: true,
  });
  return parsePushedAnswer(answer);
}

/**
 * Reads the answer to a push: a `201` with `request_uri` and `expires_in`
 * ([RFC 9126 §2.2](https://www.rfc-editor.org/rfc/rfc9126#section-2.2)), else an error
 * ([§2.3](https://www.rfc-editor.org/rfc/rfc9126#section-2.3)).
 *
 * @throws {TokenError} with code `http_error` for a status other than 2xx (with
 *   the RFC 6749 §5.2 fields when the body has them), and `invalid_response`
 *   for another 2xx than 201 or a body without a usable `request_uri` and
 *   `expires_in`. The body is not kept: it is the server's, not the caller's.
 */
export function parsePushedAnswer(answer: EndpointAnswer): PushedRequest {
  const { status, headers, body } = answer;
  if (status < 200 || status > 299) {
    const error = parseErrorResponse(body, status, headers);
    const fields = error.error === undefined
      ? undefined
      : { error: error.error, errorDescription: error.errorDescription, errorUri: error.errorUri };
    throw new TokenError(
      `Cannot log in: the ${NAME} answered ${status}${
        fields === undefined ? "" : ` (${errorDetail(fields)})`
      }`,
      { ...fields, code: "http_error", status, headers },
    );
  }
  const invalid = (why: string) =>
    new TokenError(`Cannot log in: the ${NAME}'s answer ${why} (RFC 9126 §2.2)`, {
      code: "invalid_response",
      status,
    });
  if (status !== 201) throw invalid(`has status ${status}, not 201`);
  const json = parseJsonObject(body);
  if (json === undefined) throw invalid("is not a JSON object");
  const { request_uri: requestUri, expires_in: expiresIn } = json;
  if (typeof requestUri !== "string" || requestUri === "") {
    throw invalid('has no "request_uri" string');
  }
  if (typeof expiresIn !== "number" || !Number.isInteger(expiresIn) || expiresIn <= 0) {
    throw invalid('has no "expires_in" positive integer');
  }
  return { requestUri, expiresIn };
}
