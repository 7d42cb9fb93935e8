// The token provider's calls to its storage: each bounded in time, a storage
// that fails, hangs or is slow skipped until it answers quickly again, and one
// report per outage.

import { abortable, deadline } from "./_abort.ts";

/** The shortest bound on one storage call: KV retries a locked database for about 1.3 s. */
export const MIN_STORAGE_BOUND = 5_000;
/** While a storage is skipped, how often one call tries it again, on the client's clock. */
export const PROBE_INTERVAL = 5_000;
/** A call that answers within this share of the bound shows the storage healthy. */
const QUICK_SHARE = 1 / 10;
/** Once the slow calls since the last quick answer took this share of the bound, the storage is skipped. */
const SLOW_SHARE = 1 / 2;

/**
 * What a {@linkcode StorageGuard} guards the storage for (a client's token
 * records): its bound, its clock, its probe, and where an outage goes. Methods
 * of the host rather than closures of its own: a process may hold thousands.
 */
export interface StorageGuardHost {
  /** The bound on one call, in milliseconds (at least {@linkcode MIN_STORAGE_BOUND}). */
  readonly storageBound: number;
  /** Once true, failures are the client's closing, not the storage's: not reported. */
  readonly closed: boolean;
  /** The client's clock, for the probe interval. */
  now(): number;
  /** A cheap call that tells whether the storage answers again (a read). */
  probeStorage(): Promise<unknown>;
  /** Receives the first failure of each outage. */
  reportStorageFailure(error: unknown): void;
}

/** The default monotonic clock: one function for every guard. */
const performanceNow = (): number => performance.now();

/**
 * Runs storage calls so that one request pays for at most one storage bound.
 *
 * A call that fails, by throwing (a Redis client's own command timeout, a
 * refused connection) or by not answering within the bound, marks the
 * storage down: later calls fail at once, without waiting, and at most once
 * per {@linkcode PROBE_INTERVAL} one of them starts a probe in the
 * background; a quick answer (of the probe, or of a call begun before) ends
 * the outage. Each outage is reported once, by its first failure.
 *
 * A storage that answers, but slowly, fails too: a request makes several
 * calls one after another (read, lease, login record, two writes, release),
 * so calls just inside the bound would each cost nearly a bound. The guard
 * knows calls, not requests, so it counts time: calls that take more than a
 * tenth of the bound add up, and once they took half the bound since the
 * storage last answered quickly, the storage is down; a call is also bounded
 * by what is left of one bound. So slow calls cost at most one bound in all
 * (a call at 0.9× the bound is the last one waited for), whichever requests
 * pay it, while a storage that is slow now and then (KV retrying a locked
 * database) keeps being used.
 */
export class StorageGuard {
  readonly #host: StorageGuardHost;
  readonly #monotonic: () => number;
  #down = false;
  /** Time the slow calls since the last quick answer took, in milliseconds. */
  #slow = 0;
  /** When the last probe started (or the last failure was), on the client's clock; `undefined`: never. */
  #probedAt: number | undefined;
  #probing = false;
  /** Calls under way, so that the client's close() can wait for them; made while there are any. */
  #pending: Set<Promise<unknown>> | undefined;

  /**
   * @param host The bound, clock, probe and report.
   * @param monotonic A monotonic clock in milliseconds, for how long calls take. Default: `performance.now`.
   */
  constructor(host: StorageGuardHost, monotonic: () => number = performanceNow) {
    this.#host = host;
    this.#monotonic = monotonic;
  }

  /**
   * Whether the guard is as a new one would be: the storage up, no slow calls
   * counted, nothing under way. Then its holder may drop it, and make a new
   * one for the next call.
   */
  get atRest(): boolean {
    return !this.#down && this.#slow === 0 && !this.#probing && this.#pending === undefined;
  }

  /** The calls under way (probes included), each bounded. */
  get pending(): Promise<unknown>[] {
    return [...this.#pending ?? []];
  }

  /**
   * Runs `call`, bounded by what is left of the guard's bound plus `extra`
   * milliseconds (a call that waits on purpose; that wait is not slowness).
   * Rejects at once while the storage is down.
   */
  call<T>(call: () => Promise<T>, extra = 0): Promise<T> {
    if (this.#down) {
      this.#probeNow();
      return Promise.reject(
        new Error(
          "Cannot use the token storage: it failed or was slow, and is skipped until it answers in time",
        ),
      );
    }
    return this.#track(this.#bounded(call, extra, false));
  }

  get #bound(): number {
    return Math.max(this.#host.storageBound, MIN_STORAGE_BOUND);
  }

  #probeNow(): void {
    const now = this.#host.now();
    const since = this.#probedAt === undefined ? Infinity : now - this.#probedAt;
    // A clock that went back allows a probe rather than none for a long time.
    if (this.#probing || (since >= 0 && since < PROBE_INTERVAL)) return;
    this.#probing = true;
    this.#probedAt = now;
    this.#track(this.#bounded(() => this.#host.probeStorage(), 0, true))
      .catch(() => {})
      .finally(() => this.#probing = false);
  }

  async #bounded<T>(call: () => Promise<T>, extra: number, probe: boolean): Promise<T> {
    const bound = this.#bound;
    // While up, #slow is under half the bound: at least half of it is left.
    const ms = Math.round((probe ? bound : bound - this.#slow) + extra);
    const started = this.#monotonic();
    let result: T;
    // Disposed by hand: the core runs on Node 20, which has no `using`.
    const limit = deadline(undefined, ms, `The token storage did not answer within ${ms} ms`);
    try {
      result = await abortable(call(), limit.expired);
    } catch (error) {
      this.#failed(error);
      throw error;
    } finally {
      limit[Symbol.dispose]();
    }
    const took = Math.max(0, this.#monotonic() - started - extra);
    if (took < bound * QUICK_SHARE) {
      this.#down = false;
      this.#slow = 0;
    } else if (!probe) {
      this.#slow += took;
      if (this.#slow >= bound * SLOW_SHARE) {
        this.#failed(
          new Error(
            `Cannot use the token storage: its calls took ${
              Math.round(this.#slow)
            } ms, half the ${bound} ms bound or more; it is skipped until it answers within ${
              Math.round(bound * QUICK_SHARE)
            } ms`,
          ),
        );
      }
    }
    return result;
  }

  /** Marks the storage down, and reports the first failure of an outage. */
  #failed(error: unknown): void {
    if (this.#host.closed) return;
    this.#probedAt = this.#host.now();
    if (this.#down) return;
    this.#down = true;
    this.#host.reportStorageFailure(error);
  }

  #track<T>(pending: Promise<T>): Promise<T> {
    const calls = this.#pending ??= new Set();
    calls.add(pending);
    const forget = () => {
      calls.delete(pending);
      if (calls.size === 0 && this.#pending === calls) this.#pending = undefined;
    };
    pending.then(forget, forget);
    return pending;
  }
}
