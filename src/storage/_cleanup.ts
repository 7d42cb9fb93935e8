// How long a storage keeps a record after it is of no use. A storage's own
// expiry (KV's `expireIn`, Redis's `PX`) only cleans up: whether a token can
// be used is decided by the record's `expiresAt`, by the client.

import type { Token } from "../token.ts";

/** How long a record is kept past its use, in milliseconds. */
export const CLEANUP_GRACE = 60_000;

/**
 * How long a storage keeps a token record, in milliseconds: its lifetime and
 * {@linkcode CLEANUP_GRACE}, taken from the token's own times so that the
 * client's clock and the storage's need not agree. A token with a refresh
 * token, without an expiry, or with a lifetime beyond
 * `Number.MAX_SAFE_INTEGER` milliseconds, is kept until it is replaced.
 */
export function cleanupDelay(token: Token): number | undefined {
  if (token.expiresAt === undefined || token.refreshToken !== undefined) return undefined;
  const ms = Math.ceil(Math.max(0, token.expiresAt - token.issuedAt)) + CLEANUP_GRACE;
  return Number.isSafeInteger(ms) ? ms : undefined;
}
