// The guard on a client's storage calls: a storage that fails or is slow
// costs one request at most one storage bound, and is skipped until a probe
// answers quickly. Durations come from an injected monotonic clock, so slow
// calls cost no real time; only the bound's own timer is real.

import assert from "node:assert/strict";
import { MIN_STORAGE_BOUND, PROBE_INTERVAL, StorageGuard } from "../src/_storage_guard.ts";
import type { TokenStorage } from "../src/storage/token_storage.ts";
import { startAuthServer } from "../testing.ts";
import { clientFor, fetchText, ManualClock } from "./_helpers.ts";

const BOUND = MIN_STORAGE_BOUND;

/** A guard on a stand-in storage call, with the client's clock and a monotonic one, both manual. */
function guarded(storage: () => Promise<string>) {
  const clock = new ManualClock();
  const monotonic = { time: 0 };
  const reports: unknown[] = [];
  const guard = new StorageGuard({
    storageBound: 100, // raised to the minimum bound
    closed: false,
    now: clock.now,
    probeStorage: storage,
    reportStorageFailure: (error) => reports.push(error),
  }, () => monotonic.time);
  /** Calls the storage as `times` calls of one request would, one after another. */
  const request = async (times = 1) => {
    const outcomes: string[] = [];
    for (let i = 0; i < times; i++) {
      outcomes.push(await guard.call(storage).catch((error) => `failed: ${error.message}`));
    }
    return outcomes;
  };
  return { guard, clock, monotonic, reports, request };
}

const SKIPPED = "failed: Cannot use the token storage: it failed or was slow, " +
  "and is skipped until it answers in time";

Deno.test("StorageGuard.call() skips a storage whose call threw, until a probe answers", async () => {
  let calls = 0;
  let failing = true;
  const { guard, clock, reports, request } = guarded(async () => {
    calls++;
    await Promise.resolve();
    if (failing) throw new Error("storage down");
    return "ok";
  });
  assert.deepEqual(await request(5), ["failed: storage down", ...Array(4).fill(SKIPPED)]);
  assert.equal(calls, 1, "one call failed; the other four did not try the storage");
  clock.advance(PROBE_INTERVAL - 1);
  assert.deepEqual(await request(), [SKIPPED]);
  assert.equal(calls, 1, "no probe before the interval");
  clock.advance(1);
  assert.deepEqual(await request(3), Array(3).fill(SKIPPED), "the probe runs in the background");
  await Promise.all(guard.pending);
  assert.equal(calls, 2, "one probe per interval");
  failing = false;
  clock.advance(PROBE_INTERVAL);
  assert.deepEqual(await request(), [SKIPPED]);
  await Promise.all(guard.pending);
  assert.deepEqual(await request(2), ["ok", "ok"], "a probe that answered ends the outage");
  assert.equal(calls, 5);
  assert.equal(reports.length, 1, "one report for the outage");
  assert.match(String(reports[0]), /storage down/);
  failing = true;
  assert.deepEqual(await request(2), ["failed: storage down", SKIPPED]);
  assert.equal(reports.length, 2, "one more for the next outage");
});

Deno.test("StorageGuard.atRest is true only while the storage is up, no slow call is counted and none is under way", async () => {
  let takes = 0;
  let failing = false;
  const { guard, monotonic, request } = guarded(async () => {
    monotonic.time += takes;
    await Promise.resolve();
    if (failing) throw new Error("storage down");
    return "ok";
  });
  assert.equal(guard.atRest, true, "a new guard");
  const call = guard.call(() => Promise.resolve("ok"));
  assert.equal(guard.atRest, false, "a call under way");
  await call;
  assert.equal(guard.atRest, true, "a quick answer");
  takes = 0.2 * BOUND;
  await request();
  assert.equal(guard.atRest, false, "a slow call counted");
  takes = 0;
  await request();
  assert.equal(guard.atRest, true, "a quick answer clears the count");
  failing = true;
  await request();
  assert.equal(guard.atRest, false, "the storage down");
});

Deno.test("StorageGuard.call() skips a storage after one call at 0.9× the bound", async () => {
  let calls = 0;
  let takes = 0.9 * BOUND;
  const { guard, clock, monotonic, reports, request } = guarded(() => {
    calls++;
    monotonic.time += takes;
    return Promise.resolve("late");
  });
  // The calls of one request: read, lease, read, login record, two writes, release.
  assert.deepEqual(await request(7), ["late", ...Array(6).fill(SKIPPED)]);
  assert.equal(calls, 1, "one slow call, then the storage is skipped");
  assert.equal(reports.length, 1);
  assert.match(
    String(reports[0]),
    /^Error: Cannot use the token storage: its calls took 4500 ms, half the 5000 ms bound or more; it is skipped until it answers within 500 ms$/,
  );
  // A probe that answers, but slowly, does not end the outage.
  clock.advance(PROBE_INTERVAL);
  assert.deepEqual(await request(), [SKIPPED]);
  await Promise.all(guard.pending);
  assert.equal(calls, 2);
  assert.deepEqual(await request(), [SKIPPED]);
  takes = 0.1 * BOUND - 1;
  clock.advance(PROBE_INTERVAL);
  await request();
  await Promise.all(guard.pending);
  assert.deepEqual(await request(2), ["late", "late"], "a quick probe ends the outage");
  assert.equal(reports.length, 1);
});

Deno.test("StorageGuard.call() waits for slow calls up to half the bound in all, unless quick ones come between", async () => {
  let calls = 0;
  const durations: number[] = [];
  const { monotonic, reports, request } = guarded(() => {
    calls++;
    monotonic.time += durations.shift() ?? 0;
    return Promise.resolve("ok");
  });
  // A storage slow now and then (KV retrying a locked database) keeps being used.
  durations.push(0.3 * BOUND, 10, 0.3 * BOUND, 0.1 * BOUND - 1, 0.3 * BOUND, 10);
  assert.deepEqual(await request(6), Array(6).fill("ok"));
  assert.equal(reports.length, 0);
  // Slow calls one after another: two of 0.3× the bound reach half of it.
  durations.push(0.3 * BOUND, 0.3 * BOUND, 0, 0);
  assert.deepEqual(await request(4), ["ok", "ok", SKIPPED, SKIPPED]);
  assert.equal(calls, 8);
  assert.equal(reports.length, 1);
});

Deno.test("StorageGuard.call() bounds a call by what is left of one bound after slow ones", async () => {
  const { monotonic, reports, request } = guarded(() => {
    if (monotonic.time === 0) {
      monotonic.time += 0.48 * BOUND; // slow, but under half the bound
      return Promise.resolve("ok");
    }
    return new Promise<string>(() => {}); // hangs
  });
  assert.deepEqual(await request(3), [
    "ok",
    "failed: The token storage did not answer within 2600 ms",
    SKIPPED,
  ]);
  assert.equal(reports.length, 1);
});

Deno.test("StorageGuard.call() does not count a call's intended wait as slowness", async () => {
  let calls = 0;
  const { guard, monotonic, reports } = guarded(() => Promise.resolve("ok"));
  const wait = (ms: number) => () => {
    calls++;
    monotonic.time += ms;
    return Promise.resolve("changed");
  };
  for (let i = 0; i < 5; i++) assert.equal(await guard.call(wait(60_000), 60_000), "changed");
  assert.equal(await guard.call(wait(60_000 + 0.6 * BOUND), 60_000), "changed");
  await assert.rejects(guard.call(wait(0)), /is skipped/);
  assert.equal(calls, 6);
  assert.equal(reports.length, 1, "the last wait was slow beyond its timeout");
});

Deno.test("StorageGuard.call() makes a request wait for one storage call that throws after a delay", async () => {
  const clock = new ManualClock();
  await using server = await startAuthServer({ now: clock.now, expiresIn: 60 });
  let calls = 0;
  const release = Promise.withResolvers<void>();
  /** Rejects after a delay: a few ms for the first call, until the end of the test after it. */
  const failing = async (): Promise<never> => {
    calls++;
    await (calls === 1 ? new Promise((resolve) => setTimeout(resolve, 20)) : release.promise);
    throw new Error("Redis did not answer within 1000 ms");
  };
  const storage: TokenStorage = {
    get: failing,
    set: failing,
    delete: failing,
    acquireLease: failing,
    waitForChange: failing,
  };
  await using client = clientFor(server, { storage, now: clock.now });
  assert.equal((await fetchText(client.fetch, server.resourceUrl)).status, 200);
  assert.equal(calls, 1, "the first request waited for one storage call");
  server.revoke();
  assert.equal((await fetchText(client.fetch, server.resourceUrl)).status, 200); // 401, renewal, replay
  clock.advance(61_000);
  assert.equal((await fetchText(client.fetch, server.resourceUrl)).status, 200); // renewal
  assert.equal(calls, 2, "one probe, after the probe interval");
  // The probe still hangs: the requests did not wait for it.
  assert.equal(server.tokenRequests.length, 3);
  const reports = client.events.filter((e) => e.type === "error" && e.phase === "storage");
  assert.equal(reports.length, 1);
  release.resolve();
});

Deno.test("StorageGuard.call() makes a request wait for one storage call at 0.9× the bound", async () => {
  await using server = await startAuthServer();
  const slowCalls: string[] = [];
  const slow = <T>(name: string, value: T) => () => {
    slowCalls.push(name);
    return new Promise<T>((resolve) => setTimeout(() => resolve(value), 0.9 * BOUND));
  };
  const storage: TokenStorage = {
    get: slow("get", undefined),
    set: slow("set", undefined),
    delete: slow("delete", undefined),
    acquireLease: slow("acquireLease", { id: "lease", release: slow("release", undefined) }),
    waitForChange: slow("waitForChange", undefined),
  };
  // tokenTimeout 100: the storage bound is its minimum, 5 s.
  await using client = clientFor(server, { storage, tokenTimeout: 100 });
  assert.equal((await fetchText(client.fetch, server.resourceUrl)).status, 200);
  assert.deepEqual(slowCalls, ["get"], "one slow call, then the storage is skipped");
  server.revoke();
  assert.equal((await fetchText(client.fetch, server.resourceUrl)).status, 200); // 401, renewal, replay
  assert.deepEqual(slowCalls, ["get"], "the replay waited for no storage call");
  assert.equal(server.tokenRequests.length, 2);
  const reports = client.events.filter((e) => e.type === "error" && e.phase === "storage");
  assert.equal(reports.length, 1);
});
