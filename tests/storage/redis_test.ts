// RedisTokenStorage on a real redis-server that each test starts and stops:
// alone, under clients, and shared by real `deno` processes; through
// node-redis, ioredis and a bare sendCommand object. No mocks of Redis.

import assert from "node:assert/strict";
import { type RedisClient, RedisTokenStorage, type RedisTokenStorageOptions } from "../../redis.ts";
import { startAuthServer, testTokenStorage } from "../../testing.ts";
import { clientFor, fetchStatus, ManualClock } from "../_helpers.ts";
import {
  CLIENT_KINDS,
  connectRedis,
  type RedisClientKind,
  type RedisServer,
  redisSkipReason,
  startRedisServer,
  type TestRedisClient,
} from "./_redis_server.ts";
import { type RedisWorkerConfig, startRedisWorker } from "./_redis_worker.ts";
import { killMidRenewal, startWorkers } from "./_worker_process.ts";
import {
  assertOneTokenRequest,
  countingCalls,
  sha256Hex,
  storageErrors,
  token,
} from "./_storage_helpers.ts";

const ignore = redisSkipReason !== undefined;

function redisTest(name: string, fn: () => Promise<void>): void {
  Deno.test({ name, ignore, fn });
}

/** The Redis key a storage with `prefix` uses for `kind` of `key`. */
async function redisKey(kind: "token" | "lease", key: string, prefix = "@alf/client:") {
  return `${prefix}{${await sha256Hex(key)}}:${kind}`;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What a test gets: a fresh server, a connection of the kind under test, and more on demand. */
interface Fixture {
  server: RedisServer;
  redis: TestRedisClient;
  connect(kind?: RedisClientKind): Promise<TestRedisClient>;
  storage(options?: RedisTokenStorageOptions, client?: RedisClient): RedisTokenStorage;
}

/** Runs `fn` on a new redis-server; closes every storage, connection and the server after. */
async function withRedis(kind: RedisClientKind, fn: (f: Fixture) => Promise<void>): Promise<void> {
  await using server = await startRedisServer();
  const closers: (() => Promise<void>)[] = [];
  try {
    const connect = async (k = kind) => {
      const connection = await connectRedis(k, server.url);
      closers.push(() => connection.close());
      return connection;
    };
    const redis = await connect();
    const storage = (options: RedisTokenStorageOptions = {}, client = redis.client) => {
      const created = new RedisTokenStorage(client, options);
      closers.push(() => created.close());
      return created;
    };
    await fn({ server, redis, connect, storage });
  } finally {
    for (const close of closers.reverse()) await close();
  }
}

/** `client` with a count of its `MGET` commands: the reads of a waiter's polls. */
function countingReads(client: RedisClient) {
  // ioredis: call("MGET", ...); node-redis: sendCommand(["MGET", ...], options)
  return countingCalls(client, (method, args) => {
    const command = method === "call" ? args[0] : (args[0] as string[] | undefined)?.[0];
    return (method === "call" || method === "sendCommand") &&
      String(command).toUpperCase() === "MGET";
  });
}

/** Resolves once `channel` has a subscriber: a notification sent now is not lost. */
async function subscribed(redis: TestRedisClient, channel = "@alf/client:changes") {
  for (let i = 0; i < 500; i++) {
    const reply = await redis.send("PUBSUB", "NUMSUB", channel) as [string, number];
    if (Number(reply[1]) > 0) return;
    await sleep(5);
  }
  throw new Error("Cannot see the storage's subscription");
}

// --- The storage, no Redis needed --------------------------------------------

Deno.test("new RedisTokenStorage() rejects a bad client, prefix or duration", () => {
  assert.throws(() => new RedisTokenStorage({} as RedisClient), TypeError);
  assert.throws(
    () => new RedisTokenStorage(null as unknown as RedisClient),
    /"redis" must be a node-redis or ioredis client, or have a sendCommand\(\) method/,
  );
  const redis = { sendCommand: () => Promise.resolve(null) };
  assert.throws(
    () => new RedisTokenStorage(redis, { prefix: ["app"] as unknown as string }),
    /"prefix" must be a string/,
  );
  assert.throws(() => new RedisTokenStorage(redis, { pollInterval: 0 }), RangeError);
  assert.throws(() => new RedisTokenStorage(redis, { pollInterval: Infinity }), RangeError);
  assert.throws(() => new RedisTokenStorage(redis, { commandTimeout: -1 }), RangeError);
  assert.throws(
    () => new RedisTokenStorage(redis, { commandTimeout: 2 ** 31 }),
    /"commandTimeout" must be a positive number of milliseconds/,
  );
});

Deno.test("RedisTokenStorage gives up after commandTimeout and drops the command", async () => {
  const aborted: string[] = [];
  const hanging = {
    sendCommand: (args: string[], options?: { abortSignal?: AbortSignal }) =>
      new Promise<unknown>(() => {
        options?.abortSignal?.addEventListener("abort", () => aborted.push(args[0]!));
      }),
  };
  const storage = new RedisTokenStorage(hanging, { commandTimeout: 30 });
  const start = performance.now();
  const timedOut = (action: string) => (error: unknown) =>
    error instanceof DOMException && error.name === "TimeoutError" &&
    error.message === `Cannot ${action}: Redis did not answer within 30 ms`;
  await assert.rejects(storage.get("key"), timedOut("read the token"));
  await assert.rejects(storage.set("key", token("secret-value")), timedOut("store the token"));
  await assert.rejects(storage.delete("key"), timedOut("delete the token"));
  await assert.rejects(storage.acquireLease("key", { ttl: 1_000 }), timedOut("take the lease"));
  await assert.rejects(
    storage.waitForChange("key", { timeout: 5_000 }),
    timedOut("wait for a change"),
  );
  assert.ok(performance.now() - start < 1_000, "each call gave up after 30 ms");
  assert.deepEqual(aborted, ["GET", "EVAL", "EVAL", "SET", "MGET"]);
});

Deno.test("RedisTokenStorage shows no token and no client in inspect or JSON", async () => {
  const redis = {
    password: "redis-password",
    sendCommand: () => Promise.resolve(JSON.stringify(token("secret-token-value"))),
  };
  const storage = new RedisTokenStorage(redis, { prefix: "p:" });
  assert.equal((await storage.get("key"))?.accessToken, "secret-token-value");
  assert.equal(Deno.inspect(storage), 'RedisTokenStorage { prefix: "p:" }');
  assert.equal(JSON.stringify(storage), '{"prefix":"p:"}');
});

Deno.test("RedisTokenStorage.acquireLease() rejects a bad ttl or signal at once", async () => {
  const sent: string[][] = [];
  const redis = { sendCommand: (args: string[]) => (sent.push(args), Promise.resolve(null)) };
  const storage = new RedisTokenStorage(redis);
  await assert.rejects(storage.acquireLease("key", { ttl: 0 }), RangeError);
  await assert.rejects(
    storage.acquireLease("key", { ttl: NaN }),
    /"ttl" must be a positive number/,
  );
  const signal = AbortSignal.abort(new Error("stop"));
  await assert.rejects(storage.acquireLease("key", { ttl: 1_000, signal }), /stop/);
  assert.deepEqual(sent, []);
});

// --- The storage contract, on each kind of client ----------------------------

for (const kind of CLIENT_KINDS) {
  if (ignore) break;
  // Each case gets its own server, closed with the storage.
  const servers = new Map<RedisTokenStorage, () => Promise<void>>();
  testTokenStorage(`RedisTokenStorage (${kind})`, async () => {
    const server = await startRedisServer();
    const redis = await connectRedis(kind, server.url).catch(async (error) => {
      await server.stop();
      throw error;
    });
    const storage = new RedisTokenStorage(redis.client);
    servers.set(storage, async () => {
      await storage.close();
      await redis.close();
      await server.stop();
    });
    return storage;
  }, {
    dispose: async (storage) => {
      await servers.get(storage)?.();
      servers.delete(storage);
    },
  });
}

// --- What Redis adds to the contract, on each kind of client ------------------

for (const kind of CLIENT_KINDS) {
  const name = `RedisTokenStorage (${kind})`;

  redisTest(
    `${name}.get() returns what set() stored, through another connection`,
    () =>
      withRedis(kind, async ({ connect, storage }) => {
        const other = await connect();
        const written = token("1", { refreshToken: "r", scope: "read", extra: { id_token: "x" } });
        await storage().set("key", written);
        assert.deepEqual(await storage({}, other.client).get("key"), written);
        assert.equal(await storage({}, other.client).get("other"), undefined);
        assert.equal(await storage({ prefix: "other:" }, other.client).get("key"), undefined);
      }),
  );

  redisTest(
    `${name} keys are the prefix and the SHA-256 of the token key; PX only cleans up`,
    () =>
      withRedis(kind, async ({ redis, storage }) => {
        const key = JSON.stringify([
          "alf/1",
          "https://auth.example/token",
          "client-id",
          "scope=read",
        ]);
        const app = storage({ prefix: "app:" });
        const issuedAt = Date.now();
        await app.set(key, token("1", { issuedAt, expiresAt: issuedAt + 10_000 }));
        assert.ok(await app.acquireLease(key, { ttl: 60_000 }));
        const keys = (await redis.send("KEYS", "*") as string[]).sort();
        const hash = await sha256Hex(key);
        assert.deepEqual(keys, [`app:{${hash}}:lease`, `app:{${hash}}:token`]);
        assert.ok(!keys.some((k) => k.includes("client-id") || k.includes("scope")));
        // Lifetime and a minute's grace: the client, not Redis, decides freshness.
        const tokenTtl = Number(await redis.send("PTTL", `app:{${hash}}:token`));
        assert.ok(tokenTtl > 60_000 && tokenTtl <= 70_000, `token PTTL ${tokenTtl}`);
        const leaseTtl = Number(await redis.send("PTTL", `app:{${hash}}:lease`));
        assert.ok(leaseTtl > 50_000 && leaseTtl <= 60_000, `lease PTTL ${leaseTtl}`);
        await app.set(key, token("2", { refreshToken: "r" }));
        assert.equal(
          Number(await redis.send("PTTL", `app:{${hash}}:token`)),
          -1,
          "kept until replaced",
        );
      }),
  );

  redisTest(
    `${name}.get() throws a TypeError for a value that is not a token record`,
    () =>
      withRedis(kind, async ({ redis, storage }) => {
        const message = "Cannot read the stored token: the Redis value is not a token record";
        await redis.send(
          "SET",
          await redisKey("token", "key"),
          '{"accessToken":"secret-a","issuedAt":1}',
        );
        await assert.rejects(storage().get("key"), new TypeError(message));
        await redis.send("SET", await redisKey("token", "key"), "secret-b, not JSON");
        await assert.rejects(storage().get("key"), new TypeError(message));
      }),
  );

  redisTest(
    `${name}.acquireLease() gives one holder the lease at a time`,
    () =>
      withRedis(kind, async ({ connect, storage }) => {
        const other = await connect();
        const a = storage();
        const b = storage({}, other.client);
        const first = await a.acquireLease("key", { ttl: 60_000 });
        assert.ok(first);
        assert.equal(await b.acquireLease("key", { ttl: 60_000 }), undefined);
        assert.equal(await a.acquireLease("key", { ttl: 60_000 }), undefined, "not even twice");
        assert.ok(await b.acquireLease("other", { ttl: 60_000 }), "keys are apart");
        await first.release();
        const second = await b.acquireLease("key", { ttl: 60_000 });
        assert.ok(second);
        assert.notEqual(second.id, first.id);
      }),
  );

  redisTest(
    `${name}.waitForChange() resolves when another connection writes, not before`,
    () =>
      withRedis(kind, async ({ connect, redis, storage }) => {
        const counter = countingReads(redis.client);
        const waiter = storage({ pollInterval: 5 }, counter.target);
        const holder = storage({}, (await connect()).client);
        const lease = await holder.acquireLease("key", { ttl: 60_000 });
        assert.ok(lease);
        assert.equal(await waiter.acquireLease("key", { ttl: 60_000 }), undefined);
        let resolved = false;
        const threePolls = counter.calls(3);
        const waiting = waiter.waitForChange("key", { timeout: 60_000 }).then(() =>
          resolved = true
        );
        // The waiter has read the unchanged records again and again, and waits on.
        await Promise.race([waiting, threePolls]);
        assert.equal(resolved, false, "nothing changed yet");
        await holder.set("key", token("new"), { lease });
        await waiting;
        assert.equal((await waiter.get("key"))?.accessToken, "new");
        await lease.release();
      }),
  );

  redisTest(
    `${name}.waitForChange() resolves when Redis expires the holder's lease`,
    () =>
      withRedis(kind, async ({ storage }) => {
        const tokens = storage({ pollInterval: 5 });
        await tokens.waitForChange("key", { timeout: 60_000 }); // no lease: nothing to wait for
        assert.ok(await tokens.acquireLease("key", { ttl: 40 }));
        await tokens.acquireLease("key", { ttl: 60_000 });
        await tokens.waitForChange("key", { timeout: 60_000 });
        assert.ok(await tokens.acquireLease("key", { ttl: 60_000 }));
      }),
  );

  redisTest(
    `${name} rejects promptly while Redis is down, and works again once it is back`,
    () =>
      withRedis(kind, async ({ server, storage }) => {
        const tokens = storage({ commandTimeout: 200 });
        await tokens.set("key", token("before"));
        await server.stop();
        const start = performance.now();
        await assert.rejects(tokens.get("key"));
        await assert.rejects(tokens.set("key", token("during")));
        await assert.rejects(tokens.acquireLease("key", { ttl: 1_000 }));
        await assert.rejects(tokens.waitForChange("key", { timeout: 1_000 }));
        assert.ok(performance.now() - start < 2_000, "four calls, each within its 200 ms");
        await server.start(); // empty: persistence is off
        await reconnected(tokens);
        await tokens.set("key", token("after"));
        assert.equal((await tokens.get("key"))?.accessToken, "after");
      }),
  );
}

for (const kind of ["node-redis", "ioredis"] as const) {
  redisTest(
    `RedisTokenStorage (${kind}).waitForChange() is woken by pub/sub, not by its polls`,
    () =>
      withRedis(kind, async ({ connect, redis, storage }) => {
        const waiter = storage({ pollInterval: 60_000 }); // a second poll would come after the test
        const holder = storage({}, (await connect()).client);
        const lease = await holder.acquireLease("key", { ttl: 60_000 });
        assert.ok(lease);
        await waiter.get("key");
        await waiter.waitForChange("key", { timeout: 1 }); // opens the subscription
        await subscribed(redis);
        const start = performance.now();
        const waiting = waiter.waitForChange("key", { timeout: 60_000 });
        await sleep(20);
        await holder.set("key", token("new"), { lease });
        await waiting;
        assert.ok(performance.now() - start < 5_000);
        await lease.release();
      }),
  );
}

/** Resolves once the storage can read again, after its server came back. */
async function reconnected(storage: RedisTokenStorage): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      await storage.get("key");
      return;
    } catch {
      await sleep(50); // the client is still reconnecting
    }
  }
  throw new Error("Cannot reach Redis again");
}

// --- Clients on Redis --------------------------------------------------------

redisTest(
  "RedisTokenStorage: a node-redis client and an ioredis client make one token request",
  () =>
    withRedis("node-redis", async ({ connect, storage }) => {
      await using server = await startAuthServer();
      server.tokenDelay = 50;
      const io = await connect("ioredis");
      await using a = clientFor(server, { storage: storage() });
      await using b = clientFor(server, { storage: storage({}, io.client) });
      const statuses = await Promise.all(
        [a, b, a, b].map((client) => fetchStatus(client.fetch, server.resourceUrl)),
      );
      assert.deepEqual(statuses, [200, 200, 200, 200]);
      assert.equal(server.tokenRequests.length, 1);
      assert.deepEqual([...storageErrors(a.events), ...storageErrors(b.events)], []);
    }),
);

redisTest(
  "RedisTokenStorage: 8 processes x 50 concurrent cold requests make 1 token request",
  () =>
    withRedis("node-redis", async ({ server: redis }) => {
      await using server = await startAuthServer();
      server.tokenDelay = 100; // the others are surely waiting while the holder renews
      await using workers = await startRedisWorkers(8, {
        redisUrl: redis.url,
        client: "node-redis", // every other process: ioredis
        tokenEndpoint: server.tokenEndpoint,
        resourceUrl: server.resourceUrl,
        requests: 50,
      });
      const reports = await workers.burst();
      assert.equal(server.tokenRequests.length, 1);
      assertOneTokenRequest(reports, 50);
      assert.equal(server.resourceRequests.length, 400);
    }),
);

redisTest(
  "RedisTokenStorage: a revocation seen by 8 processes makes 1 renewal",
  () =>
    withRedis("node-redis", async ({ server: redis }) => {
      await using server = await startAuthServer();
      await using workers = await startRedisWorkers(8, {
        redisUrl: redis.url,
        client: "node-redis",
        tokenEndpoint: server.tokenEndpoint,
        resourceUrl: server.resourceUrl,
        requests: 20,
      });
      await workers.burst(); // every process has the shared token
      assert.equal(server.tokenRequests.length, 1);
      server.tokenDelay = 100;
      server.revoke();
      const reports = await workers.burst(); // every request: 401, then one shared renewal
      assert.equal(server.tokenRequests.length, 2);
      assertOneTokenRequest(reports, 20);
      const second = server.issuedTokens[1];
      const replays = server.resourceRequests.filter((request) => request.token === second);
      assert.equal(replays.length, 160, "every request was replayed with the one new token");
    }),
);

for (const kind of ["node-redis", "ioredis"] as const) {
  redisTest(
    `RedisTokenStorage (${kind}): Redis stopped mid-run and started again fails no request, one error per outage`,
    () =>
      withRedis(kind, async ({ server: redisServer, redis, storage }) => {
        await using server = await startAuthServer({ expiresIn: 60 });
        const clock = new ManualClock();
        const tokens = storage({ commandTimeout: 200 });
        await using client = clientFor(server, { storage: tokens, now: clock.now });
        const run = async () => {
          for (let i = 0; i < 5; i++) {
            assert.equal(await fetchStatus(client.fetch, server.resourceUrl), 200);
          }
        };
        const outage = async () => {
          await redisServer.stop();
          await run(); // a fresh token in the process: Redis is not asked
          clock.advance(60_000); // it expires during the outage: renewed without Redis
          await run();
          clock.advance(60_000); // and again, in the same outage
          await run();
          await redisServer.start(); // empty: persistence is off
          await reconnected(tokens);
        };
        await run();
        assert.deepEqual(client.events.map((event) => event.type), ["token"]);
        await outage();
        assert.equal(server.tokenRequests.length, 3, "two renewals without Redis");
        // Issue 16: one storage error event per outage, however many calls failed.
        const first = storageErrors(client.events);
        assert.equal(first.length, 1, "one error event for the first outage");
        assert.ok(first[0]?.type === "error");
        assert.match(String(first[0].error), /not connected|did not answer|ECONNREFUSED|closed/);
        // The client still skips Redis: its next storage call starts a probe
        // in the background, and the renewal does not wait for it. Once the
        // probe has answered, a renewal is written to Redis again.
        let stored: Record<string, unknown> | null = null;
        for (let renewal = 0; renewal < 10 && stored === null; renewal++) {
          clock.advance(60_000);
          await run();
          const last = server.issuedTokens.at(-1);
          const [key] = await redis.send("KEYS", "*:token") as string[];
          const record = key ? JSON.parse(String(await redis.send("GET", key))) : null;
          if (record?.accessToken === last) stored = record;
          // A turn of the event loop for the background probe to finish.
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        assert.ok(stored, "a renewal reached Redis once it was back");
        assert.equal(storageErrors(client.events).length, 1, "no error once Redis is back");
        await outage();
        assert.equal(storageErrors(client.events).length, 2, "one more for the second outage");
      }),
  );
}

redisTest(
  "RedisTokenStorage: a killed lease holder is replaced after its lease",
  () =>
    withRedis("ioredis", async ({ server: redis, storage }) => {
      await using server = await startAuthServer();
      server.tokenDelay = 60_000; // the holder never gets its token
      const holder = startRedisWorker({
        redisUrl: redis.url,
        client: "ioredis",
        tokenEndpoint: server.tokenEndpoint,
        resourceUrl: server.resourceUrl,
        requests: 1,
        tokenTimeout: 500, // lease: 500 ms + the provider's 5 s of slack
      });
      await killMidRenewal(holder, server);
      server.tokenDelay = 0;
      const start = performance.now();
      await using client = clientFor(server, { storage: storage(), tokenTimeout: 500 });
      assert.equal(await fetchStatus(client.fetch, server.resourceUrl), 200);
      assert.equal(server.tokenRequests.length, 2);
      assert.deepEqual(client.events.map((event) => event.type), ["token"]);
      assert.ok(performance.now() - start > 3_000, "it waited for the lease to end");
    }),
);

redisTest(
  "RedisTokenStorage: two prefixes on one Redis never share a token",
  () =>
    withRedis("node-redis", async ({ storage }) => {
      await using server = await startAuthServer();
      const billing = storage({ prefix: "billing:" });
      const shipping = storage({ prefix: "shipping:" });
      for (const tokens of [billing, shipping, billing, shipping]) {
        await using client = clientFor(server, { storage: tokens });
        assert.equal(await fetchStatus(client.fetch, server.resourceUrl), 200);
      }
      assert.equal(server.tokenRequests.length, 2, "one per prefix, reused within it");
      assert.equal(new Set(server.issuedTokens).size, 2);
      const [first, second] = server.issuedTokens;
      assert.deepEqual(server.resourceRequests.map((request) => request.token), [
        first,
        second,
        first,
        second,
      ]);
    }),
);

// --- Helpers -----------------------------------------------------------------

/** Worker processes, alternately on node-redis and ioredis, all started and ready. */
function startRedisWorkers(count: number, config: RedisWorkerConfig) {
  return startWorkers(count, (i) =>
    startRedisWorker({
      ...config,
      client: i % 2 === 0 ? config.client : otherKind(config.client),
    }));
}

function otherKind(kind: RedisClientKind): RedisClientKind {
  return kind === "ioredis" ? "node-redis" : "ioredis";
}

Deno.test("new RedisTokenStorage() refuses a misspelled option rather than share the default prefix", () => {
  const redis = { sendCommand: () => Promise.resolve(null) };
  const options = { prefx: "billing:" } as RedisTokenStorageOptions;
  assert.throws(
    () => new RedisTokenStorage(redis, options),
    new TypeError(
      'Cannot create the Redis token storage: unknown option "prefx"; did you mean "prefix"?',
    ),
  );
});
