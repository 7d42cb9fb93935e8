// A smoke run of the benchmarks: one short iteration of each, checking what
// they count (token requests, statuses), never how fast anything was.

import assert from "node:assert/strict";
import { runAll } from "../bench/run.ts";

Deno.test("runAll() runs every benchmark once in quick mode and counts one token request per burst", async () => {
  const { markdown, targets } = await runAll({ quick: true });
  for (
    const title of ["Overhead", "Cold start", "Revocation storm", "Renewal", "Memory", "Processes"]
  ) {
    assert.match(markdown, new RegExp(`### ${title}`));
  }
  // Single flight is behaviour, not timing: one token request per cold burst
  // and one renewal per revocation storm.
  for (
    const measure of ["cold start, @alf/client (memory)", "revocation storm, @alf/client (memory)"]
  ) {
    const target = targets.find((t) => t.measure === measure);
    assert.equal(target?.met, true, `${measure}: ${target?.measured}`);
  }
  // Every request of every benchmark got a 200.
  assert.doesNotMatch(markdown, /\b(?!200)\d{3}×\d+/);
});
