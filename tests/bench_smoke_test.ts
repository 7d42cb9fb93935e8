// A smoke run of the benchmarks: one short iteration of each, checking what
// they count (token requests, statuses), never how fast anything was.

import assert from "node:assert/strict";
import { runAll } from "../bench/run.ts";
import { redisSkipReason } from "./storage/_redis_server.ts";

Deno.test("runAll() runs every benchmark once in quick mode and counts one token request per burst", async () => {
  const { markdown, targets } = await runAll({ quick: true });
  const titles = [
    "Import cost",
    "Overhead",
    "Cold start",
    "Revocation storm",
    "Renewal",
    "Memory",
    "Tenants",
    "Processes",
    "Another process's wait for a KV renewal",
  ];
  // Redis runs where a redis-server exists (always in CI); elsewhere it says why it did not.
  titles.push(redisSkipReason === undefined ? "Redis: cached token" : "Redis\n\nSkipped: ");
  for (const title of titles) {
    assert.match(markdown, new RegExp(`### ${title}`));
  }
  // Single flight is behaviour, not timing: one token request per cold burst
  // (in one process, and in processes sharing a Redis) and one renewal per
  // revocation storm.
  const processesOnRedis = ["node-redis", "ioredis"].map((client) =>
    `processes, 2 × 10 on one Redis, @alf/client (Redis, ${client})`
  );
  for (
    const measure of [
      "cold start, @alf/client (memory)",
      "revocation storm, @alf/client (memory)",
      ...(redisSkipReason === undefined ? processesOnRedis : []),
    ]
  ) {
    const target = targets.find((t) => t.measure === measure);
    assert.equal(target?.met, true, `${measure}: ${target?.measured}`);
  }
  // The other process took the renewing process's token: it asked for none.
  for (const interval of [25, 5, 1]) {
    const measure = `KV wait, other process polling every ${interval} ms${
      interval === 25 ? " (default)" : ""
    }`;
    assert.match(
      targets.find((t) => t.measure === measure)?.measured ?? "",
      /its token requests 0$/,
    );
  }
  // Every request of every benchmark got a 200.
  assert.doesNotMatch(markdown, /\b(?!200)\d{3}×\d+/);
});
