import assert from "node:assert/strict";
import { pollForChange, rampedInterval } from "../../src/storage/_shared_storage.ts";

Deno.test("rampedInterval() waits 1 ms after the first look, 1 ms more after each, up to the interval", () => {
  assert.deepEqual(
    [1, 2, 3, 10, 24, 25, 26, 1000].map((looks) => rampedInterval(looks, 25)),
    [1, 2, 3, 10, 24, 25, 25, 25],
  );
  assert.deepEqual([1, 2, 3].map((looks) => rampedInterval(looks, 2)), [1, 2, 2]);
});

Deno.test("pollForChange() asks for the wait after each look with the looks made so far", async () => {
  const asked: number[] = [];
  let looks = 0;
  await pollForChange({ timeout: 10_000 }, {
    poll: () => Promise.resolve(++looks === 4),
    interval: (made) => {
      asked.push(made);
      return 0;
    },
    listen: () => () => {},
  });
  assert.equal(looks, 4);
  assert.deepEqual(asked, [1, 2, 3]);
});
