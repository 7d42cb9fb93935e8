/**
 * Token revocation ([RFC 7009](https://www.rfc-editor.org/rfc/rfc7009)).
 *
 * @module
 */

import { deadline } from "./_abort.ts";
import { discard, readBounded } from "./_body.ts";
import { requestFailure } from "./_request_outcome.ts";
import { parseEndpointUrl } from "./_endpoint_url.ts";
import { checkKnownOptions } from "./_known_options.ts";
import {
  addClientAuthentication,
  type ClientAssertion,
  type ClientAssertionMethod,
} from "./client_assertion.ts";
import { CLIENT_AUTH_METHODS, type ClientAuthMethod } from "./client_auth.ts";
import { TokenError } from "./token_error.ts";
import { errorDetail, parseErrorFields } from "./token_response.ts";
import { redact, secretsOf } from "./token_result.ts";

/**
 * Options of {@linkcode revokeToken}: the client's credentials, as for its
 * token requests, and the hint.
 *
 * @example Revoking with client_secret_post
 * ```ts
 * import type { RevokeTokenOptions } from "@alf/client";
 *
 * const options: RevokeTokenOptions = {
 *   clientId: "id",
 *   clientSecret: "secret",
 *   clientAuth: "client_secret_post",
 *   tokenTypeHint: "refresh_token",
 * };
 * ```
 */
export interface RevokeTokenOptions {
  /** The client identifier. */
  clientId: string;
  /** The client secret, for the `client_secret_*` methods. */
  clientSecret?: string;
  /**
   * How the client authenticates. Default: the assertion's method when
   * `clientAssertion` is given, else `"client_secret_basic"` when there is a
   * secret, else `"none"`.
   */
  clientAuth?: ClientAuthMethod | ClientAssertionMethod;
  /** Signs the client assertion, for `private_key_jwt` and `client_secret_jwt`. */
  clientAssertion?: ClientAssertion;
  /** The issuer, for an assertion's `aud`. */
  issuer?: string;
  /** The token endpoint, for an assertion's `aud` (see `ClientAssertionAudience`). */
  tokenEndpoint?: string | URL;
  /**
   * What the token is, to help the server find it
   * ([RFC 7009 §2.1](https://www.rfc-editor.org/rfc/rfc7009#section-2.1)):
   * `"refresh_token"` or `"access_token"`. Omitted when not given.
   */
  tokenTypeHint?: "access_token" | "refresh_token" | (string & Record<never, never>);
  /** The transport. Default: `globalThis.fetch`. */
  fetch?: typeof fetch;
  /** Aborts the request. */
  signal?: AbortSignal;
  /** How long the request may take, in milliseconds. Default: 30 000. */
  timeout?: number;
  /** Allow a plain `http:` endpoint on a non-loopback host. Default: `false`. */
  allowHttp?: boolean;
}

/**
 * Every name of {@linkcode RevokeTokenOptions}: any other name is refused as
 * a misspelling.
 */
export const REVOKE_TOKEN_OPTION_NAMES = {
  clientId: true,
  clientSecret: true,
  clientAuth: true,
  clientAssertion: true,
  issuer: true,
  tokenEndpoint: true,
  tokenTypeHint: true,
  fetch: true,
  signal: true,
  timeout: true,
  allowHttp: true,
} as const satisfies Record<keyof RevokeTokenOptions, true>;

const DEFAULT_TIMEOUT = 30_000;
/** An error body is read for its fields only: 64 KiB is plenty. */
const MAX_ERROR_BYTES = 64 * 1024;

/**
 * Revokes a token at the revocation endpoint
 * ([RFC 7009 §2.1](https://www.rfc-editor.org/rfc/rfc7009#section-2.1)).
 *
 * Posts `token` and `token_type_hint` with the client's authentication. A
 * 2xx answer is success, including for a token the server does not know
 * (already revoked or expired,
 * [§2.2](https://www.rfc-editor.org/rfc/rfc7009#section-2.2)). Revoking a
 * refresh token usually revokes the access tokens issued with it too.
 *
 * @example Revoking a refresh token
 * ```ts
 * import assert from "node:assert/strict";
 * import { revokeToken } from "@alf/client";
 *
 * const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
 *   const form = new URLSearchParams(await req.text());
 *   assert.equal(form.get("token_type_hint"), "refresh_token");
 *   return new Response(null, { status: 200 });
 * });
 * await revokeToken(`http://127.0.0.1:${server.addr.port}/revoke`, "tGzv3JOkF0XG5Qx2TlKWIA", {
 *   clientId: "id",
 *   clientSecret: "secret",
 *   tokenTypeHint: "refresh_token",
 * });
 * await server.shutdown();
 * ```
 *
 * @param endpoint The revocation endpoint: `https:`, or `http:` on a loopback host.
 * @param token The token to revoke.
 * @param options The client's credentials, the hint, transport and timeout.
 * @throws {TypeError} when an argument is missing or malformed, or an option
 * is unknown.
 * @throws {TokenError} when the endpoint answers an error (its `error` code
 * and HTTP status are kept, e.g. `unsupported_token_type` or a 503), or
 * cannot be reached.
 */
export async function revokeToken(
  endpoint: string | URL,
  token: string,
  options: RevokeTokenOptions,
): Promise<void> {
  const context = "revocation request";
  checkKnownOptions(options, REVOKE_TOKEN_OPTION_NAMES, context);
  const url = parseEndpointUrl(endpoint, context, "endpoint", options.allowHttp ?? false);
  if (typeof token !== "string" || token === "") {
    throw new TypeError(`Cannot create the ${context}: "token" must be a non-empty string`);
  }
  const { clientId, clientSecret, clientAssertion, tokenTypeHint } = options;
  if (typeof clientId !== "string" || clientId === "") {
    throw new TypeError(`Cannot create the ${context}: "clientId" must be a non-empty string`);
  }
  const clientAuth = options.clientAuth ??
    (clientAssertion?.method ?? (clientSecret ? "client_secret_basic" : "none"));
  const methods: readonly string[] = CLIENT_AUTH_METHODS;
  if (!methods.includes(clientAuth)) {
    throw new TypeError(
      `Cannot create the ${context}: "clientAuth" must be one of ${methods.join(", ")}`,
    );
  }
  if (
    clientAuth.startsWith("client_secret_") && clientAuth !== "client_secret_jwt" && !clientSecret
  ) {
    throw new TypeError(
      `Cannot create the ${context}: "clientAuth" ${clientAuth} needs a "clientSecret"`,
    );
  }
  if (clientAuth.endsWith("_jwt") && clientAssertion?.method !== clientAuth) {
    throw new TypeError(
      `Cannot create the ${context}: "clientAuth" ${clientAuth} needs a "clientAssertion" of that method`,
    );
  }
  if (clientAssertion !== undefined && clientAssertion.clientId !== clientId) {
    throw new TypeError(
      `Cannot create the ${context}: "clientAssertion" is for another client id`,
    );
  }
  if (tokenTypeHint !== undefined && (typeof tokenTypeHint !== "string" || tokenTypeHint === "")) {
    throw new TypeError(`Cannot create the ${context}: "tokenTypeHint" must be a non-empty string`);
  }
  const timeout = options.timeout ?? DEFAULT_TIMEOUT;
  if (typeof timeout !== "number" || !(timeout >= 1)) {
    throw new RangeError(
      `Cannot create the ${context}: "timeout" must be a number of milliseconds >= 1`,
    );
  }

  const form = new URLSearchParams({ token });
  if (tokenTypeHint !== undefined) form.set("token_type_hint", tokenTypeHint);
  const headers = new Headers({
    "Content-Type": "application/x-www-form-urlencoded",
    "Accept": "application/json",
  });
  await addClientAuthentication(
    { clientId, clientAuth, clientSecret, clientAssertion },
    { endpoint: url, tokenEndpoint: options.tokenEndpoint, issuer: options.issuer },
    headers,
    form,
  );

  const bound = deadline(options.signal, timeout, "The revocation request timed out");
  try {
    let response: Response;
    let body: Uint8Array;
    try {
      // Credentials and the token are never re-posted to wherever a redirect points.
      response = await (options.fetch ?? globalThis.fetch)(url, {
        method: "POST",
        headers,
        body: form,
        redirect: "manual",
        signal: bound.signal,
      });
      // RFC 7009 §2.2: the body of a success means nothing.
      if (response.status >= 200 && response.status < 300) return await discard(response);
      body = await readBounded(response, MAX_ERROR_BYTES);
    } catch (cause) {
      throw failure(cause, bound.signal, timeout);
    }
    // What the caller gets leaves out the token and credentials an echoing server sent back.
    const secrets = secretsOf(headers, form, clientSecret);
    const text = redact(new TextDecoder().decode(body), secrets);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    const fields = typeof json === "object" && json !== null && !Array.isArray(json)
      ? parseErrorFields(json as Record<string, unknown>)
      : undefined;
    const { status } = response;
    const answered = [...response.headers].map(([name, value]) => [name, redact(value, secrets)]);
    const answer = {
      code: "http_error",
      status,
      headers: answered as [string, string][],
      body: text,
    } as const;
    if (fields === undefined) {
      throw new TokenError(
        `Cannot revoke the token: the revocation endpoint answered ${status}`,
        answer,
      );
    }
    throw new TokenError(
      `Cannot revoke the token: the revocation endpoint answered ${status} (${
        errorDetail(fields)
      })`,
      { ...fields, ...answer },
    );
  } finally {
    bound[Symbol.dispose]();
  }
}

function failure(cause: unknown, signal: AbortSignal, timeout: number): TokenError {
  return requestFailure(cause, {
    signal,
    tooLarge: `Cannot revoke the token: the response exceeds ${MAX_ERROR_BYTES} bytes`,
    timedOut:
      `Cannot revoke the token: the revocation endpoint did not answer within ${timeout} ms`,
    aborted: "Cannot revoke the token: the request was aborted",
    unreachable: (reason) =>
      `Cannot reach the revocation endpoint: ${
        reason instanceof Error ? reason.message : String(reason)
      }`,
  });
}
