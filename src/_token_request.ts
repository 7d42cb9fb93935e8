// One token request on the wire: the POST, its timeout, its bounded read,
// and the outcome every grant shares (RFC 6749 §5): a token, the endpoint's
// error response, or a TokenError; and its `request` event.

import { deadline } from "./_abort.ts";
import { readBounded } from "./_body.ts";
import {
  causeText,
  endpointName,
  reportRequest,
  requestFailure,
  tokenRequestFailure,
} from "./_request_outcome.ts";
import type { ClientEvent } from "./client_event.ts";
import { TokenError } from "./token_error.ts";
import { parseTokenResponse } from "./token_response.ts";
import { errorResponse, secretsOf, type TokenResult } from "./token_result.ts";
import type { EndpointAnswer } from "./token_endpoint_options.ts";

/** Largest token response body read: 1 MiB. */
export const MAX_TOKEN_RESPONSE_BYTES = 1024 * 1024;

/** A token request ready to go: the form and headers carry the client's authentication. */
export interface TokenRequest {
  url: URL;
  form: URLSearchParams;
  headers: Headers;
  /** The client secret, if any: redacted from a returned error response. */
  clientSecret?: string;
  fetch: typeof fetch;
  /** The clock, epoch milliseconds: `expires_in` counts from the response. */
  now: () => number;
  /** How long the request may take, in milliseconds. */
  timeout: number;
  signal?: AbortSignal;
  onEvent?: (event: ClientEvent) => void;
  /**
   * Sees each answer's headers and status (and its `error` code, for an
   * error response) before it is returned: `true` asks for the request to be
   * sent again (a DPoP nonce challenge).
   */
  onAnswer?: (response: Response, error: string | undefined) => boolean;
}

/** What a token request ended in, and whether the caller should send it again. */
export interface SentTokenRequest {
  result: TokenResult;
  /** Whether the server asked for a new DPoP nonce ([RFC 9449 §8](https://www.rfc-editor.org/rfc/rfc9449#section-8)). */
  nonceChallenge: boolean;
}

/**
 * Sends one token request and reads its answer.
 *
 * @throws {TokenError} on network errors, timeouts and unusable responses.
 */
export async function sendTokenRequest(request: TokenRequest): Promise<SentTokenRequest> {
  const { url, form, headers, clientSecret, now, timeout } = request;
  const bound = deadline(request.signal, timeout, "The token request timed out");
  const maxBytes = MAX_TOKEN_RESPONSE_BYTES;
  const started = performance.now();
  let status: number | undefined;
  let failure: string | undefined;
  try {
    let response: Response;
    let body: Uint8Array;
    try {
      // Credentials are never re-posted to wherever a redirect points.
      response = await request.fetch(url, {
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
      const token = parseTokenResponse(text, receivedAt, status, type);
      request.onAnswer?.(response, undefined);
      return { result: { token }, nonceChallenge: false };
    }
    const refused = errorResponse(response, body, secretsOf(headers, form, clientSecret));
    failure = refused.error.error ?? refused.error.code;
    const nonceChallenge = request.onAnswer?.(response, refused.error.error) ?? false;
    return { result: { errorResponse: refused }, nonceChallenge };
  } catch (error) {
    failure = error instanceof TokenError ? error.code : "network_error";
    throw error;
  } finally {
    bound[Symbol.dispose]();
    const grant = form.get("grant_type") ?? "";
    reportRequest(request.onEvent, url, { grant, status, started, error: failure });
  }
}

/** A form POST to another endpoint of the server, ready to go. */
export interface FormPost {
  url: URL;
  form: URLSearchParams;
  headers: Headers;
  fetch: typeof fetch;
  /** How long the request may take, in milliseconds. */
  timeout: number;
  signal?: AbortSignal;
  /** The endpoint in messages: `"device authorization endpoint"`. */
  name: string;
}

/**
 * Sends a form POST and reads its answer whole, whatever its status.
 *
 * @throws {TokenError} on network errors, timeouts, aborts and a body past 1 MiB.
 */
export async function postForm(post: FormPost): Promise<EndpointAnswer> {
  const { url, form, headers, timeout, name } = post;
  const bound = deadline(post.signal, timeout, `The ${name} did not answer in time`);
  const maxBytes = MAX_TOKEN_RESPONSE_BYTES;
  let status: number | undefined;
  try {
    const response = await post.fetch(url, {
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
