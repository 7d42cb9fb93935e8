/**
 * What a client reports about its work: token requests, failed token
 * requests, and the failures that no caller sees (a background renewal, a
 * storage outage).
 *
 * @module
 */

import type { TokenError } from "./token_error.ts";

/**
 * Why the client asked for a token.
 *
 * @example Counting renewals after a 401
 * ```ts
 * import type { ClientEvent, TokenReason } from "@alf/client";
 *
 * const counts = new Map<TokenReason, number>();
 * const onEvent = (event: ClientEvent) => {
 *   if (event.type === "token") counts.set(event.reason, (counts.get(event.reason) ?? 0) + 1);
 * };
 * ```
 */
export type TokenReason = "missing" | "expired" | "expiring" | "rejected";

/**
 * An event passed to the `onEvent` option of a {@linkcode Client}.
 *
 * - `token`: a new token was obtained from the token endpoint, and why:
 *   none was stored (`missing`), the stored one had expired (`expired`), it
 *   was inside its early-renewal window (`expiring`, renewed in the
 *   background), or a resource answered 401 (`rejected`).
 * - `error` with `phase: "token"`: a token could not be obtained, with the
 *   {@linkcode TokenError} (its `code` says why). Every failed token request is
 *   reported, whether a caller was waiting for it (and got the error or the
 *   endpoint's response as well) or it ran in the background.
 * - `error` with `phase: "renewal"`: a background renewal failed; the
 *   still-valid token stays in use. Reported besides the `token` event.
 * - `error` with `phase: "storage"`: a storage call failed; the client went on
 *   without it.
 * - `request`: one token request ended: see {@linkcode TokenRequestEvent}.
 * - `replay`: a request was sent again with a new token after a 401, and the
 *   resource answered `status` ([RFC 6750 §3.1](https://www.rfc-editor.org/rfc/rfc6750#section-3.1)).
 *
 * Events never carry a token or a secret.
 *
 * @example Counting token requests
 * ```ts
 * import { Client, type ClientEvent } from "@alf/client";
 *
 * let tokens = 0;
 * await using client = new Client({
 *   tokenEndpoint: "https://auth.example.com/token",
 *   clientId: "id",
 *   clientSecret: "secret",
 *   onEvent(event: ClientEvent) {
 *     if (event.type === "token") tokens++;
 *     if (event.type === "error" && event.phase === "token") console.warn(event.error.code);
 *     else if (event.type === "error") console.warn(event.phase, event.error);
 *   },
 * });
 * ```
 */
export type ClientEvent =
  | { type: "token"; reason: TokenReason; expiresAt?: number }
  | { type: "error"; phase: "token"; error: TokenError }
  | { type: "error"; phase: "renewal" | "storage"; error: unknown }
  | TokenRequestEvent
  | { type: "replay"; status: number };

/**
 * One token request, answered or not: where it went (origin and path, no
 * query), its `grant_type`, the HTTP status (`undefined` when no response
 * came), how long it took, and for a request that failed, why: the
 * endpoint's `error` code (`invalid_client`), else the {@linkcode TokenError}
 * code (`network_error`, `http_error`, ...). Never a token or a secret.
 *
 * @example Logging slow token requests
 * ```ts
 * import type { ClientEvent } from "@alf/client";
 *
 * const onEvent = (event: ClientEvent) => {
 *   if (event.type === "request" && event.durationMs > 1_000) {
 *     console.warn(`slow token request to ${event.endpoint}: ${event.durationMs} ms`);
 *   }
 * };
 * ```
 */
export interface TokenRequestEvent {
  /** Names the event kind. */
  type: "request";
  /** The token endpoint: origin and path. */
  endpoint: string;
  /** The `grant_type` sent, as the token endpoint saw it. */
  grant: string;
  /** The HTTP status; `undefined` when no response came. */
  status: number | undefined;
  /** From sending the request to its outcome, in milliseconds. */
  durationMs: number;
  /** Why the request failed: the endpoint's `error` code, else the `TokenError` code. */
  error?: string;
}
