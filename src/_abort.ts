// Waiting on a shared promise while honouring one caller's AbortSignal.

import { MAX_TIMER_DELAY } from "./_duration.ts";

/**
 * Settles like `promise`, or rejects with `signal.reason` as soon as `signal`
 * aborts. The shared promise goes on for its other waiters.
 */
export function abortable<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

/**
 * Resolves after `ms` milliseconds, or rejects when `signal` aborts; the timer
 * is always cleared, so nothing outlives the wait.
 */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, Math.min(ms, MAX_TIMER_DELAY));
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** A time bound on an operation; see {@linkcode deadline}. */
export interface Deadline extends Disposable {
  /** Aborts when the parent signal does, or when the time is up. */
  readonly signal: AbortSignal;
  /** Aborts only when the time is up, with a `TimeoutError`. */
  readonly expired: AbortSignal;
}

/**
 * Bounds an operation to `ms` milliseconds: `signal` follows `parent` and
 * aborts with a `TimeoutError` named by `message` when the time is up.
 * Disposing clears the timer and the listener, so nothing outlives the bound.
 */
export function deadline(parent: AbortSignal | undefined, ms: number, message: string): Deadline {
  const controller = new AbortController();
  const expired = new AbortController();
  const onAbort = () => controller.abort(parent?.reason);
  if (parent?.aborted) onAbort();
  parent?.addEventListener("abort", onAbort, { once: true });
  const timer = setTimeout(() => {
    const reason = new DOMException(message, "TimeoutError");
    controller.abort(reason);
    expired.abort(reason);
  }, Math.min(ms, MAX_TIMER_DELAY));
  return {
    signal: controller.signal,
    expired: expired.signal,
    [Symbol.dispose]() {
      clearTimeout(timer);
      parent?.removeEventListener("abort", onAbort);
    },
  };
}
