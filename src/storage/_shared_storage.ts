// What the storages shared by several processes (KV, Redis) do alike: their
// keys are the prefix and the SHA-256 of the token key, hashed once; they
// remember what a waiter last saw of each key; and a waiter polls, with
// jitter, until a change, a notification or its timeout.

import { delay } from "../_abort.ts";
import { sha256Hex } from "../_sha256.ts";
import type { WaitForChangeOptions } from "./token_storage.ts";

/** Token keys a storage keeps something for in memory; a process rarely has more than a few. */
const MAX_CACHED_KEYS = 1_000;

/** What a storage keeps in memory per token key: a map that starts over once it is full. */
export class KeyCache<V> extends Map<string, V> {
  override set(key: string, value: V): this {
    if (this.size >= MAX_CACHED_KEYS && !this.has(key)) this.clear();
    return super.set(key, value);
  }

  /** The value of `key`, made by `create` when there is none. */
  ensure(key: string, create: () => V): V {
    let value = this.get(key);
    if (value === undefined) this.set(key, value = create());
    return value;
  }
}

/**
 * A storage's keys of each token key, made by `build` from the SHA-256 of the
 * token key (so that they hold neither credentials nor scopes), and kept; a
 * failed hash is tried again.
 */
export function hashedKeys<K>(build: (hash: string) => K): (key: string) => Promise<K> {
  const cache = new KeyCache<Promise<K>>();
  return (key) =>
    cache.ensure(key, () => {
      const keys = sha256Hex(key).then(build);
      keys.catch(() => cache.delete(key));
      return keys;
    });
}

/**
 * What a waiter last saw of a key, as the storage tells values apart (KV's
 * versionstamps, Redis's raw values): `null` for none, `undefined` for not
 * seen yet.
 */
export interface Seen {
  token?: string | null;
  lease?: string | null;
}

/** How {@linkcode pollForChange} looks and listens. */
export interface Poller {
  /** One look: whether the key changed since what the waiter saw (then it stops). */
  poll(): Promise<boolean>;
  /** The time until the next look, in milliseconds, before jitter. */
  interval(): number;
  /** Calls `wake` when a notification says the key may have changed; returns what stops it. */
  listen(wake: () => void): () => void | Promise<void>;
}

/**
 * Resolves when a poll sees a change, when a notification wakes the wait, or
 * after `options.timeout` milliseconds; rejects with the signal's reason when
 * it aborts. Polls are `interval()` apart, ±50 % so that waiting processes
 * spread out; the listener and the timers are stopped before it settles.
 */
export async function pollForChange(options: WaitForChangeOptions, poller: Poller): Promise<void> {
  const { timeout, signal } = options;
  const end = performance.now() + timeout;
  const woken = new AbortController();
  const stopListening = poller.listen(() => woken.abort());
  const wakeOrAbort = signal ? AbortSignal.any([woken.signal, signal]) : woken.signal;
  try {
    while (!woken.signal.aborted) {
      if (await poller.poll()) return;
      const remaining = end - performance.now();
      if (remaining <= 0) return;
      try {
        await delay(Math.min(poller.interval() * (0.5 + Math.random()), remaining), wakeOrAbort);
      } catch (error) {
        signal?.throwIfAborted();
        if (!woken.signal.aborted) throw error;
      }
    }
  } finally {
    await stopListening();
  }
}

/**
 * The wait between a waiter's looks when no notification can reach it (a KV
 * file written by another process), in milliseconds: a quarter of the time
 * the renewal has been under way as this process saw it (`waited`), at least
 * 1 ms and at most `interval`. A renewal mostly ends tens of milliseconds after
 * it starts, and the sooner it ends the sooner a look sees it: a renewal of
 * 20 ms is seen about 5 ms after it ends at most, one that takes longer at most
 * a quarter of its time, or `interval`, later. Counted from the renewal's
 * start, not from each wait's, so a waiter that waits in slices does not start
 * over: about 4 × ln(interval / 4) + 4 looks more than at `interval` alone,
 * per renewal.
 */
export function rampedInterval(waited: number, interval: number): number {
  return Math.min(interval, Math.max(1, waited / 4));
}

/**
 * Checks a duration in milliseconds: a positive finite number, at most `max`.
 *
 * @param action What cannot be done otherwise, for the message: `take the lease`.
 * @throws {RangeError} when `value` is not such a number.
 */
export function checkPositiveMs(
  value: unknown,
  action: string,
  option: string,
  max = Infinity,
): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0 || value > max) {
    throw new RangeError(
      `Cannot ${action}: "${option}" must be a positive number of milliseconds`,
    );
  }
  return value;
}
