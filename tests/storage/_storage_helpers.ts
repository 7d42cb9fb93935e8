// What the tests of the storages shared by several processes (KV, Redis) use alike.

import assert from "node:assert/strict";
import type { ClientEvent, Token } from "../../mod.ts";
import type { WorkerReport } from "./_worker_process.ts";

export { sha256Hex } from "../../src/_sha256.ts";

/** A token record that expires in an hour, issued now. */
export const token = (accessToken: string, fields: Partial<Token> = {}): Token => ({
  accessToken,
  tokenType: "Bearer",
  issuedAt: Date.now(),
  expiresAt: Date.now() + 3_600_000,
  ...fields,
});

/** The client's storage error events. */
export const storageErrors = (events: ClientEvent[]): ClientEvent[] =>
  events.filter((event) => event.type === "error" && event.phase === "storage");

/**
 * Of the workers' bursts of `requests` requests each: one token request among
 * them all, and every request answered 200 without an error event.
 */
export function assertOneTokenRequest(reports: WorkerReport[], requests: number): void {
  assert.equal(reports.reduce((sum, report) => sum + report.tokenRequests, 0), 1);
  for (const report of reports) {
    assert.deepEqual(report.statuses, Array(requests).fill(200));
    assert.deepEqual(report.errors, []);
  }
}

/**
 * `target` as it is, with a count of its method calls that `counts` picks:
 * `calls(n)` resolves when the `n`th of them from now starts.
 */
export function countingCalls<T extends object>(
  target: T,
  counts: (method: PropertyKey, args: unknown[]) => boolean,
): { target: T; calls(n: number): Promise<void> } {
  let calls = 0;
  const waiting: { n: number; resolve: () => void }[] = [];
  const counted = new Proxy(target, {
    get(target, property) {
      const value = Reflect.get(target, property, target);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        if (counts(property, args)) {
          calls++;
          for (const w of waiting) if (calls >= w.n) w.resolve();
        }
        return value.apply(target, args);
      };
    },
  });
  return {
    target: counted,
    calls: (n) => {
      const { promise, resolve } = Promise.withResolvers<void>();
      waiting.push({ n: calls + n, resolve });
      return promise;
    },
  };
}
