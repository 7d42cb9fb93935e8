// The token provider's calls to its storage: each bounded in time, a storage
// that hangs skipped until it answers again, and one report per outage.

import { abortable, deadline } from "./_abort.ts";

/** The shortest bound on one storage call: KV retries a locked database for about 1.3 s. */
export const MIN_STORAGE_BOUND = 5_000;
/** While a storage is skipped, how often one call tries it again, on the client's clock. */
export const PROBE_INTERVAL = 5_000;

/** Settings of a {@linkcode StorageGuard}. */
export interface StorageGuardOptions {
  /** The bound on one call, in milliseconds (at least {@linkcode MIN_STORAGE_BOUND}). */
  bound: number;
  /** The client's clock, for the probe interval. */
  now: () => number;
  /** A cheap call that tells whether the storage answers again (a read). */
  probe: () => Promise<unknown>;
  /** Receives the first failure of each outage. */
  report: (error: unknown) => void;
  /** Once aborted, failures are the client's closing, not the storage's: not reported. */
  closed: AbortSignal;
}

/**
 * Runs storage calls so that one request pays for at most one storage bound.
 *
 * A call that fails is reported once per outage (until a call succeeds). A
 * call that times out marks the storage down: later calls fail at once,
 * without waiting, and at most once per {@linkcode PROBE_INTERVAL} one of
 * them starts a probe in the background; the first call that succeeds ends
 * the outage.
 */
export class StorageGuard {
  readonly #options: StorageGuardOptions;
  #down = false;
  #reported = false;
  #probedAt = -Infinity;
  #probing = false;
  /** Calls under way, so that the client's close() can wait for them. */
  readonly #pending = new Set<Promise<unknown>>();

  constructor(options: StorageGuardOptions) {
    this.#options = options;
  }

  /** The calls under way (probes included), each bounded. */
  get pending(): Promise<unknown>[] {
    return [...this.#pending];
  }

  /**
   * Runs `call`, bounded by the guard's bound plus `extra` milliseconds (a
   * call that waits on purpose). Rejects at once while the storage is down.
   */
  call<T>(call: () => Promise<T>, extra = 0): Promise<T> {
    if (this.#down) {
      this.#probeNow();
      return Promise.reject(
        new Error("Cannot use the token storage: it did not answer, and is skipped until it does"),
      );
    }
    return this.#track(this.#bounded(call, extra));
  }

  #probeNow(): void {
    const now = this.#options.now();
    const since = now - this.#probedAt;
    // A clock that went back allows a probe rather than none for a long time.
    if (this.#probing || (since >= 0 && since < PROBE_INTERVAL)) return;
    this.#probing = true;
    this.#probedAt = now;
    this.#track(this.#bounded(this.#options.probe, 0))
      .catch(() => {})
      .finally(() => this.#probing = false);
  }

  async #bounded<T>(call: () => Promise<T>, extra: number): Promise<T> {
    const bound = Math.max(this.#options.bound, MIN_STORAGE_BOUND) + extra;
    using limit = deadline(undefined, bound, `The token storage did not answer within ${bound} ms`);
    try {
      const result = await abortable(call(), limit.expired);
      this.#down = false;
      this.#reported = false;
      return result;
    } catch (error) {
      if (!this.#options.closed.aborted) {
        if (limit.expired.aborted) {
          this.#down = true;
          this.#probedAt = this.#options.now();
        }
        if (!this.#reported) {
          this.#reported = true;
          this.#options.report(error);
        }
      }
      throw error;
    }
  }

  #track<T>(pending: Promise<T>): Promise<T> {
    this.#pending.add(pending);
    const forget = () => this.#pending.delete(pending);
    pending.then(forget, forget);
    return pending;
  }
}
