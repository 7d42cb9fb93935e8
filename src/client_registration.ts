/**
 * Dynamic client registration ([RFC 7591](https://www.rfc-editor.org/rfc/rfc7591)):
 * a client identifier from the authorization server, for a client that has none.
 *
 * @module
 */

import { checkDuration } from "./_duration.ts";
import { deadline } from "./_abort.ts";
import { readBounded } from "./_body.ts";
import { parseEndpointUrl } from "./_endpoint_url.ts";
import { checkKnownOptions } from "./_known_options.ts";
import { causeText, endpointName, requestFailure } from "./_request_outcome.ts";
import { TokenError } from "./token_error.ts";
import { errorDetail, parseErrorFields, parseJsonObject } from "./token_response.ts";

/**
 * The client metadata sent to the registration endpoint
 * ([RFC 7591 §2](https://www.rfc-editor.org/rfc/rfc7591#section-2)).
 *
 * @example A public client that logs in through the browser
 * ```ts
 * import type { ClientMetadata } from "@alf/client";
 *
 * const metadata: ClientMetadata = {
 *   redirect_uris: ["http://127.0.0.1:32000/callback"],
 *   token_endpoint_auth_method: "none",
 *   grant_types: ["authorization_code", "refresh_token"],
 *   response_types: ["code"],
 *   client_name: "My CLI",
 * };
 * ```
 */
export interface ClientMetadata {
  /** The redirect URIs of a client that logs in through the browser. */
  redirect_uris?: string[];
  /** How the client authenticates at the token endpoint; `"none"` for a public client. */
  token_endpoint_auth_method?: string;
  /** The grants the client uses. */
  grant_types?: string[];
  /** The response types of its authorization requests. */
  response_types?: string[];
  /** A name the server may show the user. */
  client_name?: string;
  /** The scopes the client may ask for, space-separated. */
  scope?: string;
  /** Any other member ([RFC 7591 §2](https://www.rfc-editor.org/rfc/rfc7591#section-2)). */
  [member: string]: unknown;
}

/**
 * The server's answer: the registered client
 * ([RFC 7591 §3.2.1](https://www.rfc-editor.org/rfc/rfc7591#section-3.2.1)).
 *
 * @example Using the identifier
 * ```ts
 * import type { ClientRegistration } from "@alf/client";
 *
 * function idOf(registration: ClientRegistration): string {
 *   return registration.client_id;
 * }
 * ```
 */
export interface ClientRegistration {
  /** The client identifier. */
  readonly client_id: string;
  /** The client secret, for a confidential client. */
  readonly client_secret?: string;
  /** When the secret expires, in epoch seconds; `0` for never. */
  readonly client_secret_expires_at?: number;
  /** When the identifier was issued, in epoch seconds. */
  readonly client_id_issued_at?: number;
  /** The registered metadata, as the server kept it, and any other member. */
  readonly [member: string]: unknown;
}

/**
 * Options of {@linkcode registerClient}.
 *
 * @example An initial access token the server requires
 * ```ts
 * import type { RegisterClientOptions } from "@alf/client";
 *
 * const options: RegisterClientOptions = { initialAccessToken: "ey...", timeout: 10_000 };
 * ```
 */
export interface RegisterClientOptions {
  /** The initial access token some servers require ([RFC 7591 §3](https://www.rfc-editor.org/rfc/rfc7591#section-3)). */
  initialAccessToken?: string;
  /** The transport. Default: `globalThis.fetch`. */
  fetch?: typeof fetch;
  /** Stops waiting. */
  signal?: AbortSignal;
  /** How long the request may take, in milliseconds. Default: 30 000. */
  timeout?: number;
  /** Allow a plain `http:` endpoint on a non-loopback host. Default: `false`. */
  allowHttp?: boolean;
}

const REGISTER_CLIENT_OPTION_NAMES = {
  initialAccessToken: true,
  fetch: true,
  signal: true,
  timeout: true,
  allowHttp: true,
} as const satisfies Record<keyof RegisterClientOptions, true>;

/** Largest registration answer read: 64 KiB. */
const MAX_BYTES = 64 * 1024;

/**
 * Registers a client ([RFC 7591 §3](https://www.rfc-editor.org/rfc/rfc7591#section-3)):
 * POSTs its metadata as JSON and returns what the server registered. Not
 * redirected (the metadata is not re-posted elsewhere); the answer is read up
 * to 64 KiB within the timeout.
 *
 * @param endpoint The registration endpoint (`registration_endpoint` of the server's metadata).
 * @param metadata The client's metadata.
 * @param options An initial access token, the transport, signal, timeout and `http:` permission.
 * @returns The registration: at least `client_id`.
 * @throws {TypeError} when the endpoint is not an `https:` URL (or loopback),
 *   or an option is malformed or unknown.
 * @throws {TokenError} with code `http_error` when the server refuses (its
 *   `error`, such as `invalid_redirect_uri` or `invalid_client_metadata`,
 *   [§3.2.2](https://www.rfc-editor.org/rfc/rfc7591#section-3.2.2)), `invalid_response`
 *   for an answer without `client_id`, and `network_error`, `timeout` or `aborted`.
 *
 * @example Registering a public client at the stand-in server
 * ```ts
 * import assert from "node:assert/strict";
 * import { registerClient } from "@alf/client";
 * import { startAuthServer } from "@alf/client/testing";
 *
 * await using server = await startAuthServer({ registration: true });
 * const registration = await registerClient(server.url("/register"), {
 *   redirect_uris: ["http://127.0.0.1:32000/callback"],
 *   token_endpoint_auth_method: "none",
 *   grant_types: ["authorization_code", "refresh_token"],
 * });
 * assert.ok(registration.client_id);
 * ```
 */
export async function registerClient(
  endpoint: string | URL,
  metadata: ClientMetadata,
  options: RegisterClientOptions = {},
): Promise<ClientRegistration> {
  checkKnownOptions(options, REGISTER_CLIENT_OPTION_NAMES, "registration");
  const allowHttp = options.allowHttp ?? false;
  const url = parseEndpointUrl(endpoint, "registration", "endpoint", allowHttp);
  const timeout = checkDuration(options.timeout, {
    context: "registration",
    option: "timeout",
    fallback: 30_000,
    min: 1,
  });
  const headers = new Headers({ "Content-Type": "application/json", Accept: "application/json" });
  if (options.initialAccessToken !== undefined) {
    headers.set("Authorization", `Bearer ${options.initialAccessToken}`);
  }
  const what = `the registration endpoint ${endpointName(url)}`;
  const bound = deadline(options.signal, timeout, "The registration request timed out");
  let status: number | undefined;
  let text: string;
  try {
    const response = await (options.fetch ?? globalThis.fetch)(url, {
      method: "POST",
      headers,
      body: JSON.stringify(metadata),
      redirect: "manual",
      signal: bound.signal,
    });
    status = response.status;
    text = new TextDecoder().decode(await readBounded(response, MAX_BYTES));
  } catch (cause) {
    throw requestFailure(cause, {
      signal: bound.signal,
      status,
      tooLarge: `Cannot register the client: ${what} answered more than ${MAX_BYTES} bytes`,
      timedOut: `Cannot register the client: ${what} did not answer within ${timeout} ms`,
      aborted: "Cannot register the client: the request was aborted",
      unreachable: (reason) =>
        `Cannot register the client: cannot reach ${what}: ${causeText(reason)}`,
    });
  } finally {
    bound[Symbol.dispose]();
  }
  const json = parseJsonObject(text);
  if (status < 200 || status > 299) {
    const fields = json ? parseErrorFields(json) : undefined;
    const detail = fields ? ` (${errorDetail(fields)})` : "";
    throw new TokenError(`Cannot register the client: ${what} answered ${status}${detail}`, {
      ...fields,
      code: "http_error",
      status,
    });
  }
  const clientId = json?.client_id;
  if (typeof clientId !== "string" || clientId === "") {
    throw new TokenError(`Cannot register the client: ${what} answered no "client_id"`, {
      code: "invalid_response",
      status,
    });
  }
  return Object.freeze({ ...json, client_id: clientId }) as ClientRegistration;
}
