// Retrying the Deno KV operations that fail for a moment: several processes
// on one SQLite file make commits fail at once with "database is locked"
// (SQLite does not wait for the lock here), and a remote KV can time out.

import { delay } from "../_abort.ts";

/** How many times an operation runs at most, the first time included. */
const MAX_ATTEMPTS = 8;
/** The first backoff step, in milliseconds; doubles each retry. */
const BASE_DELAY = 5;
/** The longest backoff step, in milliseconds: all retries take at most ~1 s. */
const MAX_DELAY = 250;

const TRANSIENT =
  /database is (locked|busy)|SQLITE_BUSY|timed out|timeout|temporar|unavailable|try again|too many requests|connection (reset|refused|closed)/i;

/** Whether a KV error may go away if the operation is run again. */
export function isTransientKvError(error: unknown): boolean {
  if (!(error instanceof Error) || error instanceof Deno.errors.BadResource) return false;
  return TRANSIENT.test(error.message);
}

/**
 * Runs `operation`, running it again after a transient KV error with a short
 * exponential backoff (full jitter, so that processes that collided do not
 * collide again). Other errors, and the last transient one, are thrown.
 */
export async function retryTransient<T>(
  operation: () => Promise<T>,
  signal?: AbortSignal,
): Promise<T> {
  for (let attempt = 1;; attempt++) {
    try {
      return await operation();
    } catch (error) {
      if (attempt >= MAX_ATTEMPTS || !isTransientKvError(error)) throw error;
      await delay(Math.random() * Math.min(MAX_DELAY, BASE_DELAY * 2 ** attempt), signal);
    }
  }
}
