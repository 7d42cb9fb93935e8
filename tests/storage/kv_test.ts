// KvTokenStorage on real KV files in a temporary directory, alone, under
// clients, and shared by real `deno` processes. No mocks. The storage
// contract suite runs first; the tests after it cover what only KV does.

import assert from "node:assert/strict";
import { ClientCredentialsGrant, KvTokenStorage, type KvTokenStorageOptions } from "../../mod.ts";
import { startAuthServer, testTokenStorage } from "../../testing.ts";
import { isTransientKvError, retryTransient } from "../../src/storage/_kv_retry.ts";
import { storageKeys } from "../../src/storage/storage_key.ts";
import { clientFor, fetchStatus, ManualClock } from "../_helpers.ts";
import { type KvWorkerConfig, startKvWorker } from "./_kv_worker.ts";
import { killMidRenewal, startWorkers } from "./_worker_process.ts";
import {
  assertOneTokenRequest,
  countingCalls,
  sha256Hex,
  storageErrors,
  token,
} from "./_storage_helpers.ts";

/** A fresh KV file in a temporary directory, removed afterwards. */
async function tempKvPath(): Promise<{ path: string } & AsyncDisposable> {
  const dir = await Deno.makeTempDir({ prefix: "alf_kv_test_" });
  return {
    path: `${dir}/tokens.sqlite`,
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

/** The KV key a storage with the default prefix uses for `kind` of `key`. */
async function kvKey(kind: "token" | "lease", key: string): Promise<Deno.KvKey> {
  return ["@alf/client", kind, await sha256Hex(key)];
}

/** `kv` with a count of its `getMany()` calls: the reads of a waiter's polls. */
const countingReads = (kv: Deno.Kv) => countingCalls(kv, (method) => method === "getMany");

// --- The storage alone -------------------------------------------------------

let suiteKv: Deno.Kv | undefined; // the database of the case under way: cases run one at a time
testTokenStorage(
  "KvTokenStorage",
  async () => new KvTokenStorage(suiteKv = await Deno.openKv(":memory:")),
  { dispose: () => suiteKv?.close() },
);

Deno.test("new KvTokenStorage() rejects a kv, prefix or pollInterval that is not valid", async () => {
  assert.throws(() => new KvTokenStorage({} as Deno.Kv), TypeError);
  assert.throws(() => new KvTokenStorage(undefined as unknown as Deno.Kv), /must be a Deno.Kv/);
  using kv = await Deno.openKv(":memory:");
  assert.throws(
    () => new KvTokenStorage(kv, { prefix: "tokens" as unknown as Deno.KvKey }),
    /"prefix" must be a KV key/,
  );
  assert.throws(() => new KvTokenStorage(kv, { prefix: [{}] as unknown as Deno.KvKey }), TypeError);
  assert.throws(() => new KvTokenStorage(kv, { pollInterval: 0 }), RangeError);
  assert.throws(() => new KvTokenStorage(kv, { pollInterval: Infinity }), RangeError);
});

Deno.test("KvTokenStorage.get() returns what set() stored, from another handle on the file", async () => {
  await using file = await tempKvPath();
  using a = await Deno.openKv(file.path);
  using b = await Deno.openKv(file.path);
  const written = token("1", { refreshToken: "r", scope: "read", extra: { id_token: "x" } });
  await new KvTokenStorage(a).set("key", written);
  assert.deepEqual(await new KvTokenStorage(b).get("key"), written);
  assert.equal(await new KvTokenStorage(b).get("other"), undefined);
  assert.equal(await new KvTokenStorage(b, { prefix: ["other"] }).get("key"), undefined);
});

Deno.test("KvTokenStorage keys are the prefix and the SHA-256 of the token key, no clear text", async () => {
  using kv = await Deno.openKv(":memory:");
  const key = JSON.stringify(["alf/1", "https://auth.example/token", "client-id", "scope=read"]);
  const storage = new KvTokenStorage(kv, { prefix: ["app", 1] });
  await storage.set(key, token("1"));
  await storage.acquireLease(key, { ttl: 60_000 });
  const keys = [];
  for await (const entry of kv.list({ prefix: [] })) keys.push(entry.key);
  const hash = await sha256Hex(key);
  assert.deepEqual(keys.map(String).sort(), [`app,1,lease,${hash}`, `app,1,token,${hash}`]);
  assert.ok(!keys.some((k) => JSON.stringify(k.map(String)).includes("client-id")));
});

Deno.test("KvTokenStorage.get() throws a TypeError for a value that is not a token record", async () => {
  using kv = await Deno.openKv(":memory:");
  await kv.set(await kvKey("token", "key"), { accessToken: 42 });
  await assert.rejects(
    new KvTokenStorage(kv).get("key"),
    new TypeError("Cannot read the stored token: the KV value is not a token record"),
  );
});

Deno.test("KvTokenStorage.acquireLease() gives one holder of the file the lease at a time", async () => {
  await using file = await tempKvPath();
  using a = await Deno.openKv(file.path);
  using b = await Deno.openKv(file.path);
  const first = await new KvTokenStorage(a).acquireLease("key", { ttl: 60_000 });
  assert.ok(first);
  assert.equal(await new KvTokenStorage(b).acquireLease("key", { ttl: 60_000 }), undefined);
  assert.ok(await new KvTokenStorage(b).acquireLease("other", { ttl: 60_000 }), "keys are apart");
  await first.release();
  const second = await new KvTokenStorage(b).acquireLease("key", { ttl: 60_000 });
  assert.ok(second);
  assert.notEqual(second.id, first.id);
});

Deno.test("KvTokenStorage.acquireLease() rejects a bad ttl and an aborted signal", async () => {
  using kv = await Deno.openKv(":memory:");
  const storage = new KvTokenStorage(kv);
  await assert.rejects(storage.acquireLease("key", { ttl: 0 }), RangeError);
  await assert.rejects(storage.acquireLease("key", { ttl: NaN }), RangeError);
  await assert.rejects(
    storage.acquireLease("key", { ttl: 1_000, signal: AbortSignal.abort(new Error("stop")) }),
    /stop/,
  );
});

Deno.test("KvTokenStorage lease.release() deletes its own lease record, not a new holder's", async () => {
  using kv = await Deno.openKv(":memory:");
  const storage = new KvTokenStorage(kv);
  const stale = await storage.acquireLease("key", { ttl: 60_000 });
  assert.ok(stale);
  // The stale holder's lease runs out and a new holder takes it.
  const leaseKey = await kvKey("lease", "key");
  await kv.set(leaseKey, { id: stale.id, expiresAt: Date.now() - 1 });
  const fresh = await storage.acquireLease("key", { ttl: 60_000 });
  assert.ok(fresh);
  await stale.release(); // must not release the new holder's lease
  assert.equal((await kv.get<{ id: string }>(leaseKey)).value?.id, fresh.id);
  await fresh.release();
  assert.equal((await kv.get(leaseKey)).value, null);
});

Deno.test("KvTokenStorage.waitForChange() resolves when another handle on the file writes", async () => {
  await using file = await tempKvPath();
  using a = await Deno.openKv(file.path);
  using b = await Deno.openKv(file.path);
  const counter = countingReads(a);
  const waiter = new KvTokenStorage(counter.target, { pollInterval: 10 });
  const holder = new KvTokenStorage(b);
  const lease = await holder.acquireLease("key", { ttl: 60_000 });
  assert.ok(lease);
  assert.equal(await waiter.acquireLease("key", { ttl: 60_000 }), undefined);
  let resolved = false;
  const fivePolls = counter.calls(5);
  const waiting = waiter.waitForChange("key", { timeout: 60_000 }).then(() => resolved = true);
  // The waiter has read the unchanged records again and again, and waits on:
  // an early return would win this race.
  await Promise.race([waiting, fivePolls]);
  assert.equal(resolved, false, "nothing changed yet");
  await holder.set("key", token("new"), { lease });
  await waiting;
  assert.equal((await waiter.get("key"))?.accessToken, "new");
  await lease.release();
});

Deno.test("KvTokenStorage.waitForChange() looks sooner while a renewal is young, and waits in slices without starting over", async () => {
  await using file = await tempKvPath();
  using a = await Deno.openKv(file.path);
  using b = await Deno.openKv(file.path);
  let reads = 0;
  const counted = countingCalls(a, (method) => {
    if (method === "getMany") reads++;
    return false;
  });
  const waiter = new KvTokenStorage(counted.target, { pollInterval: 1_000 });
  const lease = await new KvTokenStorage(b).acquireLease("key", { ttl: 60_000 });
  assert.ok(lease);
  // A client waits for a renewal in slices of at most a second: three of them here.
  const first = performance.now();
  await waiter.waitForChange("key", { timeout: 700 });
  const inFirst = reads;
  await waiter.waitForChange("key", { timeout: 700 });
  await waiter.waitForChange("key", { timeout: 700 });
  const elapsed = performance.now() - first;
  // At 1 s apart, the first 700 ms would hold one look: the ramp looks more
  // (1 ms apart, then a quarter of the time waited). Slices that started the
  // ramp over would look as often in each: 3 × that many.
  assert.ok(inFirst >= 5, `looks in the first slice: ${inFirst}`);
  assert.ok(
    reads < 2 * inFirst,
    `looks in 3 slices (${Math.round(elapsed)} ms): ${reads}, the first slice alone: ${inFirst}`,
  );
  await lease.release();
});

Deno.test("KvTokenStorage.waitForChange() sees a write by another process (KV watch does not)", async () => {
  await using file = await tempKvPath();
  using kv = await Deno.openKv(file.path);
  const storage = new KvTokenStorage(kv, { pollInterval: 10 });
  const tokenKey = await kvKey("token", "key");
  await kv.set(await kvKey("lease", "key"), { id: "other", expiresAt: Date.now() + 60_000 });
  assert.equal(await storage.acquireLease("key", { ttl: 60_000 }), undefined);
  // A hang guard, not a timing assertion: only polls see another process's write.
  const guard = new AbortController();
  const timer = setTimeout(() => guard.abort(new Error("Cannot see the write in 20 s")), 20_000);
  try {
    const waiting = storage.waitForChange("key", { timeout: 60_000, signal: guard.signal });
    const code = `const kv = await Deno.openKv(${JSON.stringify(file.path)});
      await kv.set(${JSON.stringify(tokenKey)}, ${JSON.stringify(token("from-process"))});
      kv.close();`;
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--unstable-kv", code],
      stdout: "null",
    }).output();
    assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
    await waiting;
  } finally {
    clearTimeout(timer);
  }
  assert.equal((await storage.get("key"))?.accessToken, "from-process");
});

Deno.test("KvTokenStorage.waitForChange() resolves at once when no holder has the lease", async () => {
  using kv = await Deno.openKv(":memory:");
  const storage = new KvTokenStorage(kv, { pollInterval: 10 });
  await storage.waitForChange("key", { timeout: 60_000 }); // no renewal in progress
});

Deno.test("KvTokenStorage.waitForChange() resolves when the holder's lease runs out", async () => {
  using kv = await Deno.openKv(":memory:");
  const storage = new KvTokenStorage(kv, { pollInterval: 5 });
  await kv.set(await kvKey("lease", "key"), { id: "dead", expiresAt: Date.now() + 30 });
  await storage.acquireLease("key", { ttl: 60_000 });
  await storage.waitForChange("key", { timeout: 60_000 });
  assert.ok(await storage.acquireLease("key", { ttl: 60_000 }));
});

Deno.test("KvTokenStorage methods reject with the KV error when the Kv is closed", async () => {
  const kv = await Deno.openKv(":memory:");
  const storage = new KvTokenStorage(kv);
  kv.close();
  await assert.rejects(storage.get("key"), Deno.errors.BadResource);
  await assert.rejects(storage.set("key", token("1")), Deno.errors.BadResource);
  await assert.rejects(storage.delete("key"), Deno.errors.BadResource);
  await assert.rejects(storage.acquireLease("key", { ttl: 1_000 }), Deno.errors.BadResource);
  await assert.rejects(storage.waitForChange("key", { timeout: 1_000 }), Deno.errors.BadResource);
});

Deno.test("KvTokenStorage shows no token in inspect or JSON", async () => {
  using kv = await Deno.openKv(":memory:");
  const storage = new KvTokenStorage(kv, { prefix: ["p"] });
  await storage.set("key", token("secret-token-value"));
  assert.equal(Deno.inspect(storage), 'KvTokenStorage { prefix: [ "p" ] }');
  assert.equal(JSON.stringify(storage), '{"prefix":["p"]}');
});

Deno.test("retryTransient() retries database is locked, then succeeds", async () => {
  let calls = 0;
  const result = await retryTransient(() => {
    if (++calls < 3) return Promise.reject(new TypeError("database is locked"));
    return Promise.resolve("done");
  });
  assert.equal(result, "done");
  assert.equal(calls, 3);
});

Deno.test("retryTransient() gives up after a bounded number of attempts", async () => {
  let calls = 0;
  await assert.rejects(
    retryTransient(() => {
      calls++;
      return Promise.reject(new TypeError("database is locked"));
    }),
    /database is locked/,
  );
  assert.equal(calls, 8);
});

Deno.test("retryTransient() does not retry other errors, and stops when its signal aborts", async () => {
  let calls = 0;
  await assert.rejects(
    retryTransient(() => {
      calls++;
      return Promise.reject(new Deno.errors.BadResource("Bad resource ID"));
    }),
    Deno.errors.BadResource,
  );
  assert.equal(calls, 1);
  await assert.rejects(
    retryTransient(
      () => Promise.reject(new TypeError("database is locked")),
      AbortSignal.abort(new Error("stop")),
    ),
    /stop/,
  );
  assert.equal(isTransientKvError(new TypeError("value too large")), false);
  assert.equal(isTransientKvError("database is locked"), false);
});

// --- Clients on KV -----------------------------------------------------------

Deno.test("KvTokenStorage: two clients on one KV file make one token request", async () => {
  await using file = await tempKvPath();
  await using server = await startAuthServer();
  server.tokenDelay = 50;
  using kvA = await Deno.openKv(file.path);
  using kvB = await Deno.openKv(file.path);
  await using a = clientFor(server, { storage: new KvTokenStorage(kvA) });
  await using b = clientFor(server, { storage: new KvTokenStorage(kvB) });
  const statuses = await Promise.all(
    [a, b, a, b].map((client) => fetchStatus(client.fetch, server.resourceUrl)),
  );
  assert.deepEqual(statuses, [200, 200, 200, 200]);
  assert.equal(server.tokenRequests.length, 1);
  assert.deepEqual([...storageErrors(a.events), ...storageErrors(b.events)], []);
});

Deno.test("KvTokenStorage: 6 processes x 20 concurrent cold requests make 1 token request", async () => {
  await using file = await tempKvPath();
  await using server = await startAuthServer();
  server.tokenDelay = 100; // the others are surely waiting while the holder renews
  (await Deno.openKv(file.path)).close(); // create the file before the processes race
  const config: KvWorkerConfig = {
    kvPath: file.path,
    tokenEndpoint: server.tokenEndpoint,
    resourceUrl: server.resourceUrl,
    requests: 20,
  };
  await using workers = await startWorkers(6, () => startKvWorker(config));
  const reports = await workers.burst();
  assert.equal(server.tokenRequests.length, 1);
  assertOneTokenRequest(reports, 20);
  assert.equal(server.resourceRequests.length, 120);
});

Deno.test("KvTokenStorage: processes with DPoP share a token only with a process of the same key", async () => {
  await using file = await tempKvPath();
  await using server = await startAuthServer();
  const shared = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ]);
  const sharedJwk = await crypto.subtle.exportKey("jwk", shared.privateKey);
  const base = {
    kvPath: file.path,
    tokenEndpoint: server.tokenEndpoint,
    resourceUrl: server.resourceUrl,
    requests: 10,
  };
  // Two processes with one key, two with keys of their own, one file.
  const keys: KvWorkerConfig["dpop"][] = [sharedJwk, sharedJwk, "own", "own"];
  await using workers = await startWorkers(4, (i) => startKvWorker({ ...base, dpop: keys[i] }));
  const reports = await workers.burst();
  for (const report of reports) {
    assert.deepEqual(report.statuses, Array(10).fill(200));
    assert.deepEqual(report.errors, []);
  }
  assert.equal(server.tokenRequests.length, 3, "one token per key");
  // Not one request was sent with a token bound to another key (the kit would answer 401,
  // and the client would renew and replay): 40 requests, each with its proof.
  assert.equal(server.resourceRequests.length, 40);
  assert(server.resourceRequests.every((request) => request.dpop !== undefined));
  const keysSeen = new Set(server.resourceRequests.map((request) => request.dpop?.jkt));
  assert.equal(keysSeen.size, 3);
});

Deno.test("KvTokenStorage: a token survives a restart", async () => {
  await using file = await tempKvPath();
  await using server = await startAuthServer();
  {
    using kv = await Deno.openKv(file.path);
    await using client = clientFor(server, { storage: new KvTokenStorage(kv) });
    assert.equal(await fetchStatus(client.fetch, server.resourceUrl), 200);
  }
  using kv = await Deno.openKv(file.path);
  await using client = clientFor(server, { storage: new KvTokenStorage(kv) });
  assert.equal(await fetchStatus(client.fetch, server.resourceUrl), 200);
  assert.equal(server.tokenRequests.length, 1);
  assert.deepEqual(client.events, []);
});

Deno.test("KvTokenStorage: a killed lease holder is replaced after the lease TTL", async () => {
  await using file = await tempKvPath();
  await using server = await startAuthServer();
  server.tokenDelay = 60_000; // the holder never gets its token
  const config: KvWorkerConfig = {
    kvPath: file.path,
    tokenEndpoint: server.tokenEndpoint,
    resourceUrl: server.resourceUrl,
    requests: 1,
    tokenTimeout: 1_000, // lease TTL: 1 s + the provider's 5 s slack
  };
  await killMidRenewal(startKvWorker(config), server);
  server.tokenDelay = 0;
  using kv = await Deno.openKv(file.path);
  await using client = clientFor(server, {
    storage: new KvTokenStorage(kv),
    tokenTimeout: 1_000,
  });
  assert.equal(await fetchStatus(client.fetch, server.resourceUrl), 200);
  assert.equal(server.tokenRequests.length, 2);
  assert.deepEqual(client.events.map((event) => event.type), ["token"]);
});

Deno.test("KvTokenStorage.acquireLease() takes a crashed holder's lease after its ttl, whatever its clock said", async () => {
  using kv = await Deno.openKv(":memory:");
  const storage = new KvTokenStorage(kv);
  // A holder whose clock ran 10 minutes fast took a 200 ms lease, then crashed.
  await kv.set(await kvKey("lease", "key"), {
    id: "crashed",
    expiresAt: Date.now() + 600_000,
    ttl: 200,
  });
  assert.equal(await storage.acquireLease("key", { ttl: 1_000 }), undefined, "held for now");
  const giveUpAt = Date.now() + 5_000;
  let lease;
  while (!(lease = await storage.acquireLease("key", { ttl: 1_000 })) && Date.now() < giveUpAt) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.ok(lease, "the lease was still refused 5 s later: its wall-clock end was believed");
  await lease.release();
});

Deno.test("KvTokenStorage: a client takes over a crashed holder's lease after its ttl, not its wall-clock end", async () => {
  using kv = await Deno.openKv(":memory:");
  await using server = await startAuthServer();
  const parts = {
    url: new URL(server.tokenEndpoint),
    clientId: "client-id",
    credential: "client-secret",
    grant: new ClientCredentialsGrant(),
    params: new URLSearchParams(),
  };
  const { login } = await storageKeys(parts);
  // The renewal lease (on the login key) of a holder 10 minutes fast, that crashed.
  await kv.set(await kvKey("lease", login), {
    id: "crashed",
    expiresAt: Date.now() + 600_000,
    ttl: 300,
  });
  await using client = clientFor(server, {
    storage: new KvTokenStorage(kv),
    tokenTimeout: 1_000, // the client's own wait gives up after 2 × (1 s + 5 s)
  });
  assert.equal(await fetchStatus(client.fetch, server.resourceUrl), 200);
  assert.equal(server.tokenRequests.length, 1);
  assert.deepEqual(client.events.map((event) => event.type), ["token"]);
});

Deno.test("KvTokenStorage: an expired token in KV is not used", async () => {
  using kv = await Deno.openKv(":memory:");
  await using server = await startAuthServer({ expiresIn: 60 });
  const clock = new ManualClock();
  await using a = clientFor(server, { storage: new KvTokenStorage(kv), now: clock.now });
  assert.equal(await fetchStatus(a.fetch, server.resourceUrl), 200);
  const later = new ManualClock();
  later.advance(60_000); // exactly at the stored expiresAt: no longer usable
  await using b = clientFor(server, { storage: new KvTokenStorage(kv), now: later.now });
  assert.equal(await fetchStatus(b.fetch, server.resourceUrl), 200);
  assert.equal(server.tokenRequests.length, 2);
  assert.deepEqual(b.events, [{
    type: "token",
    reason: "expired",
    expiresAt: later.time + 60_000,
  }]);
});

Deno.test("KvTokenStorage: different client ids and scopes keep different tokens", async () => {
  using kv = await Deno.openKv(":memory:");
  await using server = await startAuthServer();
  const storage = new KvTokenStorage(kv);
  const variants = [
    { clientId: "a" },
    { clientId: "b" },
    { clientId: "a", scope: "read" },
    { clientId: "a", scope: "write" },
  ];
  for (const variant of variants) {
    await using client = clientFor(server, { storage, ...variant });
    assert.equal(await fetchStatus(client.fetch, server.resourceUrl), 200);
  }
  assert.equal(server.tokenRequests.length, 4);
  assert.equal(new Set(server.issuedTokens).size, 4);
  await using again = clientFor(server, { storage, clientId: "a", scope: "read" });
  assert.equal(await fetchStatus(again.fetch, server.resourceUrl), 200);
  assert.equal(server.tokenRequests.length, 4, "the same client id and scope reuse their token");
});

Deno.test("KvTokenStorage: a 401 after another client renewed replays with its token", async () => {
  await using file = await tempKvPath();
  await using server = await startAuthServer();
  using kvA = await Deno.openKv(file.path);
  using kvB = await Deno.openKv(file.path);
  await using a = clientFor(server, { storage: new KvTokenStorage(kvA) });
  await using b = clientFor(server, { storage: new KvTokenStorage(kvB) });
  assert.equal(await fetchStatus(a.fetch, server.resourceUrl), 200);
  assert.equal(await fetchStatus(b.fetch, server.resourceUrl), 200);
  server.revoke();
  assert.equal(await fetchStatus(a.fetch, server.resourceUrl), 200); // a renews
  assert.equal(server.tokenRequests.length, 2);
  assert.equal(await fetchStatus(b.fetch, server.resourceUrl), 200); // b's cached token: 401
  assert.equal(server.tokenRequests.length, 2, "b replays with a's token");
  const [first, second] = server.issuedTokens;
  assert.deepEqual(server.resourceRequests.slice(-2).map((r) => r.token), [first, second]);
  assert.deepEqual(b.events, []);
});

Deno.test("KvTokenStorage: a KV that fails outright still gives tokens and reports storage errors", async () => {
  await using server = await startAuthServer();
  const kv = await Deno.openKv(":memory:");
  kv.close();
  await using client = clientFor(server, { storage: new KvTokenStorage(kv) });
  assert.equal(await fetchStatus(client.fetch, server.resourceUrl), 200);
  assert.equal(await fetchStatus(client.fetch, server.resourceUrl), 200);
  assert.equal(server.tokenRequests.length, 1, "the token is kept in the process");
  const errors = storageErrors(client.events);
  // The outage is reported once, however many calls it failed.
  assert.equal(errors.length, 1, "one report for the outage");
  for (const event of errors) {
    assert.ok(event.type === "error" && event.error instanceof Deno.errors.BadResource);
  }
});

Deno.test("new KvTokenStorage() refuses a misspelled option rather than share the default prefix", async () => {
  using kv = await Deno.openKv(":memory:");
  const options = { prefx: ["billing"] } as KvTokenStorageOptions;
  assert.throws(
    () => new KvTokenStorage(kv, options),
    new TypeError(
      'Cannot create the KV token storage: unknown option "prefx"; did you mean "prefix"?',
    ),
  );
});

Deno.test("KvTokenStorage: a client woken by another's renewal takes its token without taking the lease", async () => {
  await using file = await tempKvPath();
  await using server = await startAuthServer();
  server.tokenDelay = 50;
  using kvA = await Deno.openKv(file.path);
  using kvB = await Deno.openKv(file.path);
  let commitsOfB = 0; // a lease taken, then given up: two atomic operations
  const countedB = new Proxy(kvB, {
    get(target, property) {
      const value = Reflect.get(target, property, target);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        if (property === "atomic") commitsOfB++;
        return value.apply(target, args);
      };
    },
  });
  await using a = clientFor(server, { storage: new KvTokenStorage(kvA) });
  await using b = clientFor(server, { storage: new KvTokenStorage(countedB) });
  const renewing = a.getToken();
  // a holds the lease once its token request reached the server.
  while (server.tokenRequests.length === 0) await new Promise((r) => setTimeout(r, 1));
  const [own, waited] = await Promise.all([renewing, b.getToken()]);
  assert.equal(waited.accessToken, own.accessToken);
  assert.equal(server.tokenRequests.length, 1);
  assert.equal(commitsOfB, 0);
});
