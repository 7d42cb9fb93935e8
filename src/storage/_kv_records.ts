// What KvTokenStorage keeps in KV: the keys of one token and the lease
// record, and how long a lease another process holds is taken to last.

import { CLEANUP_GRACE } from "./_cleanup.ts";
import { KeyCache } from "./_shared_storage.ts";

export { CLEANUP_GRACE };

/** The KV keys of one token. */
export interface KvKeys {
  /** The SHA-256 of the token key, hex: names the pair in this process. */
  hash: string;
  token: Deno.KvKey;
  lease: Deno.KvKey;
}

/** The value under a lease key. */
export interface LeaseRecord {
  id: string;
  /**
   * When the lease ends, in epoch milliseconds of the writer's wall clock:
   * read only for records without `ttl` (written by earlier versions).
   */
  expiresAt: number;
  /** How long the lease lasts from its writing, in milliseconds. */
  ttl?: number;
}

/** The keys of the token whose key hashes to `hash`, under `prefix`. */
export function kvKeys(prefix: Deno.KvKey, hash: string): KvKeys {
  return { hash, token: [...prefix, "token", hash], lease: [...prefix, "lease", hash] };
}

export function isLeaseRecord(value: unknown): value is LeaseRecord {
  const record = value as LeaseRecord | null;
  return typeof record === "object" && record !== null && typeof record.id === "string" &&
    typeof record.expiresAt === "number" &&
    (record.ttl === undefined || typeof record.ttl === "number");
}

/**
 * Judges leases without another machine's clock: a lease record lasts its
 * `ttl` from the moment this process first saw it (or wrote it), on the
 * monotonic clock. A holder whose clock runs ten minutes fast blocks others
 * for its ttl, not for ten minutes; one whose clock runs slow never loses its
 * lease early. A record that changed (a new versionstamp) is a new lease.
 */
export class LeaseObserver {
  readonly #seen = new KeyCache<{ versionstamp: string; since: number }>();

  /** Notes that this process wrote the lease entry `versionstamp` at monotonic time `since`. */
  wrote(keys: KvKeys, versionstamp: string, since: number): void {
    this.#note(keys.hash, versionstamp, since);
  }

  /** Whether the lease entry read for `keys` holds a lease that has not ended. */
  isLive(keys: KvKeys, entry: Deno.KvEntryMaybe<unknown>): boolean {
    const record = entry.value;
    if (!isLeaseRecord(record) || entry.versionstamp === null) return false;
    // Records of earlier versions carry only their wall-clock end.
    if (record.ttl === undefined) return record.expiresAt > Date.now();
    const now = performance.now();
    let seen = this.#seen.get(keys.hash);
    if (seen?.versionstamp !== entry.versionstamp) {
      seen = this.#note(keys.hash, entry.versionstamp, now);
    }
    return now - seen.since < record.ttl;
  }

  /**
   * How long, in milliseconds, the lease last seen for `keys` has been seen
   * by this process (since it first read or wrote it); `Infinity` when it
   * has noted none, or only a record of an earlier version.
   */
  seenFor(keys: KvKeys): number {
    const seen = this.#seen.get(keys.hash);
    return seen === undefined ? Infinity : performance.now() - seen.since;
  }

  #note(hash: string, versionstamp: string, since: number) {
    const seen = { versionstamp, since };
    this.#seen.set(hash, seen);
    return seen;
  }
}

/** Whether `part` can be a part of a KV key. */
export function isKeyPart(part: unknown): boolean {
  return ["string", "number", "bigint", "boolean"].includes(typeof part) ||
    part instanceof Uint8Array;
}
