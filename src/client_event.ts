/**
 * What a client reports about its work: token requests and the failures that
 * no caller sees (a background renewal, a storage outage).
 *
 * @module
 */

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
 * - `error`: a failure no caller was given: a background renewal that failed
 *   (the still-valid token stays in use) or a storage that failed (the client
 *   went on without it).
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
 *     if (event.type === "error") console.warn(event.phase, event.error);
 *   },
 * });
 * ```
 */
export type ClientEvent =
  | { type: "token"; reason: TokenReason; expiresAt?: number }
  | { type: "error"; phase: "renewal" | "storage"; error: unknown };
