// Whose turn it is to renew a login: the holder of the storage's renewal
// lease, across processes; with a storage that has no lease, one client at a
// time within this process (among the clients that share that storage
// object). The others wait, then take the token the holder obtained.

import { abortable } from "./_abort.ts";
import type { TokenRecords } from "./_token_records.ts";
import type { TokenLease, TokenStorage } from "./storage/token_storage.ts";
import { isUsable, type Token } from "./token.ts";
import type { TokenResult } from "./token_endpoint.ts";
import { TokenError } from "./token_error.ts";

/** The longest single wait for another holder's renewal before looking again. */
const WAIT_SLICE = 1_000;

/** Settings of {@linkcode renewInTurn}. */
export interface TurnOptions {
  records: TokenRecords;
  storage: TokenStorage;
  /** How long the lease lasts, in milliseconds: longer than a renewal may take. */
  ttl: number;
  /** Aborted when the client closes. */
  signal: AbortSignal;
  /** The access token being replaced, if any. */
  stale: string | undefined;
  /** The client's clock, epoch milliseconds. */
  now: () => number;
}

/** The renewals under way of storages without a lease, by storage object and login key. */
const turns = new WeakMap<TokenStorage, Map<string, Promise<unknown>>>();

/**
 * Runs `renew` in this client's turn: holding the storage's lease on the
 * login (passed to `renew`) when the storage has leases, else once no other
 * client of the process that shares the storage renews that login. When
 * another holder renewed meanwhile, its token is the result and `renew` does
 * not run.
 */
export async function renewInTurn(
  options: TurnOptions,
  renew: (lease?: TokenLease) => Promise<TokenResult>,
): Promise<TokenResult> {
  const { records, ttl, signal } = options;
  signal.throwIfAborted();
  if (!records.leasing) return await turnInProcess(options, renew);
  // Judged on this process's monotonic clock, like the lease itself.
  const giveUpAt = performance.now() + 2 * ttl;
  while (true) {
    let lease: TokenLease | undefined;
    try {
      lease = await records.acquireLease(ttl, signal);
    } catch {
      signal.throwIfAborted();
      // A storage that cannot coordinate must not stop requests (the guard reported it).
      return await renew();
    }
    if (lease) {
      try {
        // Another holder may have renewed while we waited for the lease.
        const current = await records.read();
        if (renewedByOther(current, options)) return { token: current };
        return await renew(lease);
      } finally {
        await records.release(lease);
      }
    }
    // The holder may have finished between our read and the failed lease.
    const renewed = await records.read();
    if (renewedByOther(renewed, options)) return { token: renewed };
    if (performance.now() > giveUpAt) {
      throw new TokenError(
        "Cannot obtain a token: the holder of the storage's renewal lease did not finish in time",
        { code: "lease_timeout" },
      );
    }
    try {
      // A short slice: a change that happened before the wait began is not
      // missed for long, whatever the storage's notifications do.
      await records.waitForChange(Math.min(ttl, WAIT_SLICE), signal);
    } catch {
      signal.throwIfAborted();
      return await renew();
    }
    // Woken: the holder's token, if it wrote one, ends the wait without a
    // lease round trip (taking, then releasing, a lease nobody needs).
    const woken = await records.read();
    if (renewedByOther(woken, options)) return { token: woken };
  }
}

/**
 * A storage without a lease cannot stop two processes from refreshing one
 * login at once (the loser's refresh token is refused, and it tries the
 * rotated one), but the clients of one process wait for each other.
 */
async function turnInProcess(
  options: TurnOptions,
  renew: () => Promise<TokenResult>,
): Promise<TokenResult> {
  const { records, storage, signal } = options;
  let key: string;
  try {
    key = await records.loginKey();
  } catch {
    return await renew(); // the storage calls report it
  }
  let running = turns.get(storage);
  if (!running) turns.set(storage, running = new Map());
  // Each renewal is bounded in time, so each wait is.
  for (let other = running.get(key); other; other = running.get(key)) {
    await abortable(other.then(() => {}, () => {}), signal);
    const renewed = await records.read();
    if (renewedByOther(renewed, options)) return { token: renewed };
  }
  const mine = renew();
  running.set(key, mine);
  try {
    return await mine;
  } finally {
    if (running.get(key) === mine) running.delete(key);
  }
}

/** Whether `current` is a usable token other than the stale one: another holder's renewal. */
function renewedByOther(current: Token | undefined, options: TurnOptions): current is Token {
  return current !== undefined && current.accessToken !== options.stale &&
    isUsable(current, options.now());
}
