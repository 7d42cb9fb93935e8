import assert from "node:assert/strict";
import { rampedInterval } from "../../src/storage/_shared_storage.ts";

Deno.test("rampedInterval() waits a quarter of the renewal's age, at least 1 ms, at most the interval", () => {
  assert.deepEqual(
    [0, 2, 4, 20, 40, 100, 400, 10_000, Infinity].map((waited) => rampedInterval(waited, 25)),
    [1, 1, 1, 5, 10, 25, 25, 25, 25],
  );
  assert.deepEqual([0, 100, 4_000, 8_000].map((waited) => rampedInterval(waited, 1_000)), [
    1,
    25,
    1_000,
    1_000,
  ]);
});
