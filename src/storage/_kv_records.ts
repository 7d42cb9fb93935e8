// What KvTokenStorage keeps in KV: the keys of one token, the lease record,
// and how long KV keeps a record after it is of no use.

import type { Token } from "../token.ts";

/** The KV keys of one token. */
export interface KvKeys {
  token: Deno.KvKey;
  lease: Deno.KvKey;
}

/** The value under a lease key. */
export interface LeaseRecord {
  id: string;
  /** When the lease ends, in epoch milliseconds of the wall clock. */
  expiresAt: number;
}

/**
 * How long KV keeps a record after it is of no use, in milliseconds. KV's
 * `expireIn` only cleans up (lazily): expiry is decided by `expiresAt` values.
 */
export const CLEANUP_GRACE = 60_000;

/** The keys of the token whose key hashes to `hash`, under `prefix`. */
export function kvKeys(prefix: Deno.KvKey, hash: string): KvKeys {
  return { token: [...prefix, "token", hash], lease: [...prefix, "lease", hash] };
}

/**
 * How long KV keeps a token record: its lifetime and a grace period, taken
 * from the token's own times so the client's clock and KV's need not agree.
 * A token with a refresh token, or without an expiry, is kept until replaced.
 */
export function cleanupDelay(token: Token): number | undefined {
  if (token.expiresAt === undefined || token.refreshToken !== undefined) return undefined;
  return Math.ceil(Math.max(0, token.expiresAt - token.issuedAt)) + CLEANUP_GRACE;
}

/** Whether `value` is a lease record that has not ended yet. */
export function isLive(value: unknown): value is LeaseRecord {
  return isLeaseRecord(value) && value.expiresAt > Date.now();
}

export function isLeaseRecord(value: unknown): value is LeaseRecord {
  const record = value as LeaseRecord | null;
  return typeof record === "object" && record !== null && typeof record.id === "string" &&
    typeof record.expiresAt === "number";
}

/** Whether `part` can be a part of a KV key. */
export function isKeyPart(part: unknown): boolean {
  return ["string", "number", "bigint", "boolean"].includes(typeof part) ||
    part instanceof Uint8Array;
}
