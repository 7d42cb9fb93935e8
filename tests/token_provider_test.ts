import assert from "node:assert/strict";
import { fc } from "./_dev_deps.ts";
import {
  Client,
  ClientCredentialsGrant,
  type ClientEvent,
  type Grant,
  MemoryTokenStorage,
  RefreshTokenGrant,
  type Token,
  TokenError,
  type TokenStorage,
} from "../mod.ts";
import { startAuthServer } from "../testing.ts";
import { storageKeys } from "../src/storage/storage_key.ts";
import { RUNS } from "./_arbitraries.ts";
import { clientFor, fetchText, ManualClock, nextEvent, serve } from "./_helpers.ts";

Deno.test("Client reuses a token until its renewal window", async () => {
  const clock = new ManualClock();
  await using server = await startAuthServer({ expiresIn: 3600, now: clock.now });
  await using client = clientFor(server, { now: clock.now });
  await fetchText(client.fetch, server.resourceUrl);
  clock.advance(3600_000 - 60_000 - 1); // 1 ms before the 60 s margin
  await fetchText(client.fetch, server.resourceUrl);
  assert.equal(server.tokenRequests.length, 1);
  assert.equal(new Set(server.resourceRequests.map((r) => r.token)).size, 1);
});

Deno.test("Client renews in the background inside the renewal window, sending the valid token meanwhile", async () => {
  const clock = new ManualClock();
  await using server = await startAuthServer({ expiresIn: 3600, now: clock.now });
  await using client = clientFor(server, { now: clock.now });
  await fetchText(client.fetch, server.resourceUrl);
  clock.advance(3600_000 - 60_000); // exactly at the margin
  await fetchText(client.fetch, server.resourceUrl);
  const [, second] = server.resourceRequests;
  assert.ok(second);
  assert.equal(second.token, server.issuedTokens[0]);
  const event = await nextEvent(
    client.events,
    (e) => e.type === "token" && e.reason === "expiring",
  );
  assert.equal(event.type, "token");
  assert.equal(server.tokenRequests.length, 2);
  await fetchText(client.fetch, server.resourceUrl);
  const [, , third] = server.resourceRequests;
  assert.ok(third);
  assert.equal(third.token, server.issuedTokens[1]);
});

Deno.test("Client never sends a cached token at or after its expiresAt", async () => {
  const clock = new ManualClock();
  await using server = await startAuthServer({ expiresIn: 3600, now: clock.now });
  // A margin of 0 means no early renewal: the token is used up to its last millisecond.
  await using client = clientFor(server, { now: clock.now, renewalMargin: 0 });
  await fetchText(client.fetch, server.resourceUrl);
  clock.advance(3600_000 - 1);
  await fetchText(client.fetch, server.resourceUrl);
  const [, lastMillisecond] = server.resourceRequests;
  assert.ok(lastMillisecond);
  assert.equal(lastMillisecond.token, server.issuedTokens[0]);
  clock.advance(1);
  await fetchText(client.fetch, server.resourceUrl);
  assert.equal(server.tokenRequests.length, 2);
  const [, , expired] = server.resourceRequests;
  assert.ok(expired);
  assert.equal(expired.token, server.issuedTokens[1]);
  assert.deepEqual(client.events.map((e) => e.type === "token" && e.reason), [
    "missing",
    "expired",
  ]);
});

Deno.test("Client caps the renewal margin at half the token's lifetime", async () => {
  const clock = new ManualClock();
  await using server = await startAuthServer({ expiresIn: 10, now: clock.now });
  await using client = clientFor(server, { now: clock.now }); // margin 60 s > 10 s lifetime
  await fetchText(client.fetch, server.resourceUrl);
  clock.advance(4_999);
  await fetchText(client.fetch, server.resourceUrl);
  assert.equal(server.tokenRequests.length, 1);
  clock.advance(1);
  await fetchText(client.fetch, server.resourceUrl);
  await nextEvent(client.events, (e) => e.type === "token" && e.reason === "expiring");
  assert.equal(server.tokenRequests.length, 2);
});

Deno.test("Client sends a token with expires_in 0 with its own request and never reuses it", async () => {
  await using server = await startAuthServer({ expiresIn: 0 });
  const storage = new MemoryTokenStorage();
  await using client = clientFor(server, { storage });
  await fetchText(client.fetch, server.resourceUrl);
  await fetchText(client.fetch, server.resourceUrl);
  assert.equal(server.tokenRequests.length, 2);
  assert.deepEqual(server.resourceRequests.map((r) => r.token), server.issuedTokens);
  assert.equal(storage.size, 0);
});

Deno.test("Client shares one token request among concurrent waiters of a negative-lifetime token", async () => {
  await using server = await startAuthServer({ expiresIn: -10 });
  await using client = clientFor(server);
  const results = await Promise.all(
    Array.from({ length: 10 }, () => fetchText(client.fetch, server.resourceUrl)),
  );
  assert.ok(results.every((r) => r.status === 200));
  assert.equal(server.tokenRequests.length, 1);
});

Deno.test("Client keeps a token without expires_in until a resource rejects it", async () => {
  const clock = new ManualClock();
  await using server = await startAuthServer({ expiresIn: null, now: clock.now });
  await using client = clientFor(server, { now: clock.now });
  await fetchText(client.fetch, server.resourceUrl);
  clock.advance(365 * 24 * 3600_000);
  await fetchText(client.fetch, server.resourceUrl);
  assert.equal(server.tokenRequests.length, 1);
});

Deno.test("Client.fetch() replays a request whose token expired without expires_in", async () => {
  await using server = await startAuthServer({ expiresIn: null });
  await using client = clientFor(server);
  await fetchText(client.fetch, server.resourceUrl);
  await fetchText(client.fetch, server.resourceUrl);
  assert.equal(server.tokenRequests.length, 1); // kept while the resource accepts it
  server.revoke();
  assert.equal((await fetchText(client.fetch, server.resourceUrl)).status, 200);
  assert.equal(server.tokenRequests.length, 2);
});

Deno.test("Client makes one token request for 100 concurrent cold requests", async () => {
  await using server = await startAuthServer();
  server.tokenDelay = 20;
  await using client = clientFor(server);
  const results = await Promise.all(
    Array.from({ length: 100 }, () => fetchText(client.fetch, server.resourceUrl)),
  );
  assert.ok(results.every((r) => r.status === 200));
  assert.equal(server.tokenRequests.length, 1);
});

Deno.test("Client shares a failure with every waiter and tries again afterwards", async () => {
  await using server = await startAuthServer();
  server.tokenDelay = 20;
  server.failTokenRequests(1, { status: 502, body: "bad gateway" });
  await using client = clientFor(server);
  const results = await Promise.all(
    Array.from({ length: 10 }, () => fetchText(client.fetch, server.resourceUrl)),
  );
  assert.ok(results.every((r) => r.status === 502 && r.text === "bad gateway"));
  assert.equal(server.tokenRequests.length, 1);
  assert.equal((await fetchText(client.fetch, server.resourceUrl)).status, 200);
  assert.equal(server.tokenRequests.length, 2);
});

Deno.test("Clients sharing a MemoryTokenStorage make one token request between them", async () => {
  await using server = await startAuthServer();
  server.tokenDelay = 20;
  const storage = new MemoryTokenStorage();
  await using a = clientFor(server, { storage });
  await using b = clientFor(server, { storage });
  const results = await Promise.all(
    Array.from({ length: 20 }, (_, i) => fetchText((i % 2 ? a : b).fetch, server.resourceUrl)),
  );
  assert.ok(results.every((r) => r.status === 200));
  assert.equal(server.tokenRequests.length, 1);
  server.revoke();
  await Promise.all([
    fetchText(a.fetch, server.resourceUrl),
    fetchText(b.fetch, server.resourceUrl),
  ]);
  assert.equal(server.tokenRequests.length, 2);
});

Deno.test("Client.fetch() stops waiting for a token when its caller aborts; the token request goes on", async () => {
  await using server = await startAuthServer();
  server.tokenDelay = 100;
  await using client = clientFor(server);
  const controller = new AbortController();
  const aborted = client.fetch(server.resourceUrl, { signal: controller.signal });
  const other = fetchText(client.fetch, server.resourceUrl);
  while (server.tokenRequests.length === 0) await new Promise((r) => setTimeout(r, 2));
  controller.abort();
  await assert.rejects(aborted, { name: "AbortError" });
  assert.equal((await other).status, 200);
  assert.equal(server.tokenRequests.length, 1);
  assert.equal(server.resourceRequests.length, 1);
});

Deno.test("Client.fetch() rejects at once with an already aborted signal", async () => {
  await using server = await startAuthServer();
  await using client = clientFor(server);
  await assert.rejects(
    client.fetch(server.resourceUrl, { signal: AbortSignal.abort() }),
    { name: "AbortError" },
  );
  assert.equal(server.tokenRequests.length, 0);
});

Deno.test("Client.fetch() aborts the resource request and the replay", async () => {
  await using server = await startAuthServer();
  const controller = new AbortController();
  let release!: () => void;
  const held = new Promise<void>((resolve) => release = resolve);
  server.route("/hang", async () => {
    controller.abort();
    await held;
    return new Response("late");
  });
  await using client = clientFor(server);
  await assert.rejects(
    client.fetch(server.url("/hang"), { signal: controller.signal }),
    { name: "AbortError" },
  );
  // Abort while waiting for the renewal after a 401.
  const replay = new AbortController();
  server.route("/reject", () => {
    server.tokenDelay = 100;
    server.revoke();
    setTimeout(() => replay.abort(), 10);
    return new Response(null, { status: 401 });
  });
  await assert.rejects(
    client.fetch(server.url("/reject"), { signal: replay.signal }),
    { name: "AbortError" },
  );
  release();
  assert.equal(server.resourceRequests.filter((r) => r.url.endsWith("/reject")).length, 1);
});

Deno.test("Client reports a failed background renewal and keeps the valid token", async () => {
  const clock = new ManualClock();
  await using server = await startAuthServer({ expiresIn: 3600, now: clock.now });
  await using client = clientFor(server, { now: clock.now });
  await fetchText(client.fetch, server.resourceUrl);
  clock.advance(3600_000 - 30_000);
  server.failTokenRequests(1);
  assert.equal((await fetchText(client.fetch, server.resourceUrl)).status, 200);
  const event = await nextEvent(client.events, (e) => e.type === "error");
  assert.deepEqual(event.type === "error" && event.phase, "renewal");
  // No new attempt right away (5 s back-off), but one after it.
  await fetchText(client.fetch, server.resourceUrl);
  assert.equal(server.tokenRequests.length, 2);
  clock.advance(5_000);
  await fetchText(client.fetch, server.resourceUrl);
  await nextEvent(client.events, (e) => e.type === "token" && e.reason === "expiring");
  assert.equal(server.tokenRequests.length, 3);
});

Deno.test("Client goes on without a storage that fails, and reports it", async () => {
  await using server = await startAuthServer();
  const broken: TokenStorage = {
    get: () => Promise.reject(new Error("storage down")),
    set: () => Promise.reject(new Error("storage down")),
    delete: () => Promise.reject(new Error("storage down")),
  };
  await using client = clientFor(server, { storage: broken });
  assert.equal((await fetchText(client.fetch, server.resourceUrl)).status, 200);
  assert.ok(client.events.some((e) => e.type === "error" && e.phase === "storage"));
  server.revoke();
  assert.equal((await fetchText(client.fetch, server.resourceUrl)).status, 200);
});

Deno.test("Client reads a token another process stored without a token request", async () => {
  const clock = new ManualClock();
  await using server = await startAuthServer({ now: clock.now });
  const storage = new MemoryTokenStorage();
  await using a = clientFor(server, { storage, now: clock.now });
  await fetchText(a.fetch, server.resourceUrl);
  const stored: Token[] = [];
  const spy: TokenStorage = {
    get: async (key) => {
      const token = await storage.get(key);
      if (token) stored.push(token);
      return token;
    },
    set: (key, token, options) => storage.set(key, token, options),
    delete: (key, options) => storage.delete(key, options),
  };
  await using b = clientFor(server, { storage: spy, now: clock.now });
  await fetchText(b.fetch, server.resourceUrl);
  assert.equal(server.tokenRequests.length, 1);
  assert.equal(stored.length, 1);
  // A cached fresh token costs no storage read.
  await fetchText(b.fetch, server.resourceUrl);
  assert.equal(stored.length, 1);
});

Deno.test("Client gives a storage of its own a copy of the access record, and leases each renewal on the login key of storageKeys()", async () => {
  const clock = new ManualClock();
  await using server = await startAuthServer({ expiresIn: 3600, now: clock.now });
  const storage = new MemoryTokenStorage();
  const written: [string, Token][] = [];
  const leased: string[] = [];
  const spy: TokenStorage = {
    get: (key) => storage.get(key),
    set: (key, token, options) => (written.push([key, token]), storage.set(key, token, options)),
    delete: (key, options) => storage.delete(key, options),
    acquireLease: (key, options) => (leased.push(key), storage.acquireLease(key, options)),
    waitForChange: (key, options) => storage.waitForChange(key, options),
  };
  await using client = clientFor(server, { storage: spy, now: clock.now });
  const first = await client.getToken();
  clock.advance(3600_000);
  const second = await client.getToken();
  assert.notEqual(first.accessToken, second.accessToken);
  // The client's own record is frozen (the memory storage keeps it as it is); another storage
  // gets a copy it may change.
  assert.deepEqual(written.map(([, token]) => [token.accessToken, Object.isFrozen(token)]), [
    [first.accessToken, false],
    [second.accessToken, false],
  ]);
  const keys = await storageKeys({
    url: new URL(server.tokenEndpoint),
    clientId: "client-id",
    credential: "client-secret",
    grant: new ClientCredentialsGrant(),
    params: new URLSearchParams(),
  });
  assert.deepEqual(written.map(([key]) => key), [keys.access, keys.access]);
  // Computed again for each renewal, not kept: the same key each time.
  assert.deepEqual(leased, [keys.login, keys.login]);
});

Deno.test("Client's tokens are stored by a storage that annotates the record it is given", async () => {
  await using server = await startAuthServer({ expiresIn: 3600 });
  const rows = new Map<string, Token>();
  const errors: unknown[] = [];
  const inner = new MemoryTokenStorage();
  const annotating: TokenStorage = {
    get: (key) => Promise.resolve(rows.get(key)),
    set: (key, token) => {
      Object.assign(token, { extra: { ...token.extra, storedBy: "annotating" } });
      rows.set(key, token);
      return Promise.resolve();
    },
    delete: (key) => Promise.resolve(void rows.delete(key)),
    acquireLease: (key, options) => inner.acquireLease(key, options),
    waitForChange: (key, options) => inner.waitForChange(key, options),
  };
  await using client = clientFor(server, {
    storage: annotating,
    onEvent: (event) => event.type === "error" && errors.push(event.error),
  });
  const token = await client.getToken();
  assert.deepEqual(errors, []);
  assert.deepEqual([...rows.values()].map((row) => [row.accessToken, row.extra?.storedBy]), [
    [token.accessToken, "annotating"],
  ]);
  // What the storage changed is its copy: the client's token is as the server sent it.
  assert.equal((await client.getToken()).extra?.storedBy, undefined);
});

Deno.test("Client ignores an expired token found in storage", async () => {
  const clock = new ManualClock();
  await using server = await startAuthServer({ now: clock.now });
  const storage = new MemoryTokenStorage();
  await using a = clientFor(server, { storage, now: clock.now });
  await fetchText(a.fetch, server.resourceUrl);
  clock.advance(3600_000);
  await using b = clientFor(server, { storage, now: clock.now });
  await fetchText(b.fetch, server.resourceUrl);
  assert.equal(server.tokenRequests.length, 2);
  const [, second] = server.resourceRequests;
  assert.ok(second);
  assert.equal(second.token, server.issuedTokens[1]);
});

Deno.test("Client waits for another holder's renewal in short slices, reading before each", async () => {
  await using server = await startAuthServer();
  server.tokenDelay = 50;
  const memory = new MemoryTokenStorage();
  const waits: number[] = [];
  // A storage whose notifications never arrive: only the slices bring the waiter back.
  const deaf: TokenStorage = {
    get: (key) => memory.get(key),
    set: (key, token, options) => memory.set(key, token, options),
    delete: (key, options) => memory.delete(key, options),
    acquireLease: (key, options) => memory.acquireLease(key, options),
    waitForChange: (_key, { timeout, signal }) => {
      waits.push(timeout);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(resolve, timeout);
        signal?.addEventListener("abort", () => {
          clearTimeout(timer);
          reject(signal.reason);
        });
      });
    },
  };
  await using a = clientFor(server, { storage: deaf });
  await using b = clientFor(server, { storage: deaf });
  const results = await Promise.all([
    fetchText(a.fetch, server.resourceUrl),
    fetchText(b.fetch, server.resourceUrl),
  ]);
  assert.deepEqual(results.map((r) => r.status), [200, 200]);
  assert.equal(server.tokenRequests.length, 1);
  assert.ok(waits.length > 0 && waits.every((ms) => ms <= 1_000), `waits: ${waits}`);
});

Deno.test("Client.fetch() stops waiting for a storage that hangs when its caller aborts", async () => {
  await using server = await startAuthServer();
  const release = Promise.withResolvers<undefined>();
  const reading = Promise.withResolvers<void>();
  const hanging: TokenStorage = {
    get: () => {
      reading.resolve();
      return release.promise;
    },
    set: () => Promise.resolve(),
    delete: () => Promise.resolve(),
  };
  await using client = clientFor(server, { storage: hanging });
  const controller = new AbortController();
  const pending = client.fetch(server.resourceUrl, { signal: controller.signal });
  await reading.promise;
  controller.abort();
  await assert.rejects(pending, { name: "AbortError" });
  assert.equal(server.tokenRequests.length, 0);
  release.resolve(undefined); // lets close() finish the read it waits for
});

Deno.test("Client goes on without a storage that never answers, after a bound", async () => {
  await using server = await startAuthServer();
  const never: TokenStorage = {
    get: () => new Promise(() => {}),
    set: () => Promise.resolve(),
    delete: () => Promise.resolve(),
  };
  await using client = clientFor(server, { storage: never, tokenTimeout: 100 });
  assert.equal((await fetchText(client.fetch, server.resourceUrl)).status, 200);
  const error = client.events.find((e) => e.type === "error");
  assert.ok(error?.type === "error" && error.phase === "storage");
  assert.match(String(error.error), /did not answer within 5000 ms/);
});

Deno.test("Client ignores a stored record that is not a valid token, and reports it", async () => {
  for (
    const bad of [
      { accessToken: "", tokenType: "Bearer", issuedAt: 0 },
      { accessToken: "has space", tokenType: "Bearer", issuedAt: 0 },
      { accessToken: "a", tokenType: "DPoP", issuedAt: 0 },
      { accessToken: "a", tokenType: "Bearer", issuedAt: "yesterday" },
      { accessToken: "a", tokenType: "Bearer", issuedAt: 0, expiresAt: "never" },
      "a string",
    ]
  ) {
    await using server = await startAuthServer();
    const storage: TokenStorage = {
      get: () => Promise.resolve(bad as unknown as Token),
      set: () => Promise.resolve(),
      delete: () => Promise.resolve(),
    };
    await using client = clientFor(server, { storage });
    assert.equal((await fetchText(client.fetch, server.resourceUrl)).status, 200);
    const [recorded] = server.resourceRequests;
    assert.ok(recorded);
    assert.equal(recorded.token, server.issuedTokens[0], JSON.stringify(bad));
    assert.ok(client.events.some((e) => e.type === "error" && e.phase === "storage"));
  }
});

Deno.test("Client ignores a storage read that began before its own renewal, whatever the times", async () => {
  const clock = new ManualClock();
  await using server = await startAuthServer({ expiresIn: 60, now: clock.now });
  const memory = new MemoryTokenStorage();
  // A lagging replica: once armed, the next read is held, then answers with a
  // token this client never had (dated later than anything, so no clock can tell).
  const lag = {
    armed: false,
    gate: Promise.withResolvers<void>(),
    reached: Promise.withResolvers<void>(),
  };
  const storage: TokenStorage = {
    get: async (key) => {
      if (!lag.armed) return await memory.get(key);
      lag.armed = false;
      lag.reached.resolve();
      await lag.gate.promise;
      const time = clock.time + 1_000;
      return { accessToken: "stale-replica", tokenType: "Bearer", issuedAt: time };
    },
    set: (key, token) => memory.set(key, token),
    delete: (key, options) => memory.delete(key, options),
  };
  await using client = clientFor(server, { storage, now: clock.now });
  const t1 = (await client.getToken()).accessToken;
  const held = Promise.withResolvers<void>();
  const arrived = Promise.withResolvers<void>();
  server.route("/held", async (_request, recorded) => {
    if (recorded.token !== t1) return new Response("replayed");
    arrived.resolve();
    await held.promise;
    return new Response(null, { status: 401 });
  });
  const b = fetchText(client.fetch, server.url("/held")); // sent with t1, answered late
  await arrived.promise;
  clock.advance(60_000); // t1 expired: the next request reads the storage
  lag.armed = true;
  const a = fetchText(client.fetch, server.resourceUrl);
  await lag.reached.promise; // a's read is under way...
  held.resolve(); // ...when b's 401 makes the client renew: t2
  const replayed = await b;
  assert.deepEqual([replayed.status, replayed.text], [200, "replayed"]);
  lag.gate.resolve(); // a's read answers now, with what it saw before t2
  assert.equal((await a).status, 200);
  assert.deepEqual(
    server.resourceRequests.map((r) => r.token),
    [t1, server.issuedTokens[1], server.issuedTokens[1]],
    "a is sent with t2, never with the replica's token",
  );
  assert.equal(server.tokenRequests.length, 2);
});

Deno.test("Client bounds a grant that never settles with a TokenError", async () => {
  await using server = await startAuthServer();
  await using client = clientFor(server, {
    tokenTimeout: 1,
    grant: { name: "stuck", obtain: () => new Promise(() => {}) },
  });
  await assert.rejects(client.fetch(server.resourceUrl), (error) => {
    assert.ok(error instanceof TokenError);
    assert.match(error.message, /the grant did not finish within 5001 ms/);
    return true;
  });
  assert.equal(server.resourceRequests.length, 0);
});

Deno.test("Client never brings back a rejected token when a late 401 for an older one arrives", async () => {
  const clock = new ManualClock();
  await using server = await startAuthServer({ now: clock.now });
  const memory = new MemoryTokenStorage();
  const gate = {
    armed: false,
    open: Promise.withResolvers<void>(),
    reached: Promise.withResolvers<void>(),
  };
  const storage: TokenStorage = {
    // Once armed, the next read is held: its answer still shows the rejected token.
    get: async (key) => {
      const token = await memory.get(key);
      if (gate.armed) {
        gate.armed = false;
        gate.reached.resolve();
        await gate.open.promise;
      }
      return token;
    },
    set: (key, token) => memory.set(key, token),
    delete: (key, options) => memory.delete(key, options),
  };
  await using client = clientFor(server, { storage, now: clock.now });
  const t1 = (await client.getToken()).accessToken;
  const heldA = Promise.withResolvers<void>();
  const arrivedA = Promise.withResolvers<void>();
  server.route("/a", async (_request, recorded) => {
    if (recorded.token !== t1) return new Response("replayed");
    arrivedA.resolve();
    await heldA.promise;
    return new Response(null, { status: 401 });
  });
  const a = fetchText(client.fetch, server.url("/a")); // sent with t1, answered late
  await arrivedA.promise;
  server.revoke(t1);
  assert.equal((await fetchText(client.fetch, server.resourceUrl)).status, 200); // t1 → t2
  const t2 = (await client.getToken()).accessToken;
  clock.advance(30_000); // past the bound on replacing a replacement
  server.revoke(t2);
  gate.armed = true;
  const c = fetchText(client.fetch, server.resourceUrl); // 401 for t2: its read is held
  await gate.reached.promise;
  heldA.resolve(); // now the late 401 for t1, while the storage still holds t2
  const { status, text } = await a;
  assert.deepEqual([status, text], [200, "replayed"]);
  assert.notEqual(server.resourceRequests.at(-1)!.token, t2);
  gate.open.resolve();
  assert.equal((await c).status, 200);
});

Deno.test("Client.fetch() uses a token another request already renewed, without a token request", async () => {
  await using server = await startAuthServer();
  await using client = clientFor(server);
  await fetchText(client.fetch, server.resourceUrl);
  const first = server.issuedTokens[0];
  // The resource rejects the first token only once, after the client renewed it.
  let rejectOnce = true;
  server.route("/slow", async (_request, recorded) => {
    if (recorded.token === first && rejectOnce) {
      rejectOnce = false;
      server.revoke(first);
      await fetchText(client.fetch, server.resourceUrl); // renews: 401 then new token
      return new Response(null, { status: 401 });
    }
    return new Response("ok");
  });
  const { status } = await fetchText(client.fetch, server.url("/slow"));
  assert.equal(status, 200);
  assert.equal(server.tokenRequests.length, 2);
  assert.equal(server.resourceRequests.at(-1)!.token, server.issuedTokens[1]);
});

Deno.test("Client.fetch() with a 401 after close() rejects with the closed error, without storage calls", async () => {
  await using server = await startAuthServer();
  let calls = 0;
  const memory = new MemoryTokenStorage();
  const storage: TokenStorage = {
    get: (key) => (calls++, memory.get(key)),
    set: (key, token) => (calls++, memory.set(key, token)),
    delete: (key, options) => (calls++, memory.delete(key, options)),
  };
  const held = Promise.withResolvers<void>();
  const arrived = Promise.withResolvers<void>();
  server.route("/held", async () => {
    arrived.resolve();
    await held.promise;
    return new Response(null, { status: 401 });
  });
  const client = clientFor(server, { storage });
  const pending = client.fetch(server.url("/held"));
  await arrived.promise;
  await client.close();
  const before = calls;
  held.resolve();
  await assert.rejects(pending, /^Error: Cannot send the request: the client is closed$/);
  assert.equal(calls, before);
});

Deno.test("Client makes no storage read per request while a failed background renewal backs off", async () => {
  const clock = new ManualClock();
  await using server = await startAuthServer({ expiresIn: 3600, now: clock.now });
  const memory = new MemoryTokenStorage();
  let reads = 0;
  const storage: TokenStorage = {
    get: (key) => (reads++, memory.get(key)),
    set: (key, token) => memory.set(key, token),
    delete: (key, options) => memory.delete(key, options),
  };
  await using client = clientFor(server, { storage, now: clock.now });
  await fetchText(client.fetch, server.resourceUrl);
  clock.advance(3600_000 - 30_000);
  server.failTokenRequests(1);
  await fetchText(client.fetch, server.resourceUrl);
  await nextEvent(client.events, (e) => e.type === "error");
  const before = reads;
  for (let i = 0; i < 20; i++) await fetchText(client.fetch, server.resourceUrl);
  assert.equal(reads, before);
});

Deno.test("Client.fetch() costs one renewal for 50 concurrent requests to a resource that rejects every token", async () => {
  await using server = await startAuthServer();
  server.route("/never", () =>
    new Response("rejected", {
      status: 401,
      headers: { "WWW-Authenticate": 'Bearer error="invalid_token"' },
    }));
  await using client = clientFor(server);
  await fetchText(client.fetch, server.resourceUrl);
  const results = await Promise.all(
    Array.from({ length: 50 }, () => fetchText(client.fetch, server.url("/never"))),
  );
  assert.ok(results.every((r) => r.status === 401 && r.text === "rejected"));
  assert.equal(server.tokenRequests.length, 2);
  assert.equal(server.resourceRequests.length, 1 + 100);
});

// Storage round trips on the way to a token: requests that ask at the same
// moment share one read, and requests failed by the same token share one
// read, delete and renewal, so a burst costs one round trip, not one each.

/**
 * A storage without a renewal lease (so no read happens under one) that
 * counts its reads of the access record (the first key read; the login
 * record's key is read before each grant runs).
 */
class CountingStorage implements TokenStorage {
  readonly tokens = new Map<string, Token>();
  reads = 0;
  deletes = 0;
  key = "";
  get(key: string): Promise<Token | undefined> {
    this.key ||= key;
    if (key === this.key) this.reads++;
    return Promise.resolve(this.tokens.get(key));
  }
  set(key: string, token: Token): Promise<void> {
    this.tokens.set(key, token);
    return Promise.resolve();
  }
  delete(key: string): Promise<void> {
    this.deletes++;
    this.tokens.delete(key);
    return Promise.resolve();
  }
}

Deno.test("Client reads the storage once for a cold burst of concurrent requests", async () => {
  await using server = await startAuthServer();
  const storage = new CountingStorage();
  await using client = clientFor(server, { storage });
  const results = await Promise.all(
    Array.from({ length: 50 }, () => fetchText(client.fetch, server.resourceUrl)),
  );
  assert.ok(results.every((result) => result.status === 200));
  assert.equal(server.tokenRequests.length, 1);
  assert.equal(storage.reads, 1);
});

Deno.test("Client reads the storage anew once the shared read is over", async () => {
  const clock = new ManualClock();
  await using server = await startAuthServer({ expiresIn: 60, now: clock.now });
  const storage = new CountingStorage();
  await using client = clientFor(server, { storage, now: clock.now });
  const first = await client.getToken();
  // Another holder stores a newer token; the client's own then expires.
  const newer: Token = { ...first, accessToken: "newer", expiresAt: clock.time + 3600_000 };
  await storage.set(storage.key, newer);
  clock.advance(61_000);
  assert.equal((await client.getToken()).accessToken, "newer");
  assert.equal(server.tokenRequests.length, 1);
});

Deno.test("Client makes one storage read and renewal for a storm of 401s, and deletes nothing", async () => {
  await using server = await startAuthServer();
  const storage = new CountingStorage();
  await using client = clientFor(server, { storage });
  await fetchText(client.fetch, server.resourceUrl);
  server.revoke();
  // The renewal stays under way while the 401s come in.
  server.tokenDelay = 100;
  const reads = storage.reads;
  const results = await Promise.all(
    Array.from({ length: 50 }, () => fetchText(client.fetch, server.resourceUrl)),
  );
  assert.ok(results.every((result) => result.status === 200));
  assert.equal(server.tokenRequests.length, 2);
  // One shared read; a 401 that arrives after the renewal (on a slow machine)
  // reads once more and finds the new token.
  assert.ok(storage.reads - reads <= 3, `${storage.reads - reads} reads`);
  assert.equal(storage.deletes, 0, "a rejected access token erases nothing stored");
});

// Issue 11: the token lifecycle under real-world faults.

/**
 * A token endpoint that rotates refresh tokens: each refresh with the live
 * one retires it and issues the next; any other is answered `invalid_grant`.
 */
function rotatingEndpoint(first = "rt-0") {
  let live = first;
  let issued = 0;
  const presented: (string | null)[] = [];
  const endpoint = serve(async (request) => {
    const refreshToken = new URLSearchParams(await request.text()).get("refresh_token");
    presented.push(refreshToken);
    if (refreshToken !== live) return Response.json({ error: "invalid_grant" }, { status: 400 });
    live = `rt-${++issued}`;
    return Response.json({ access_token: `at-${issued}`, expires_in: 3600, refresh_token: live });
  });
  return Object.assign(endpoint, { tokenEndpoint: `${endpoint.url}/token`, presented });
}

/** A resource that accepts every token but the ones in `revoked`. */
function revokingResource() {
  const revoked = new Set<string>();
  const resource = serve((request) => {
    const token = request.headers.get("authorization")?.replace(/^Bearer /, "") ?? "";
    return revoked.has(token) ? new Response(null, { status: 401 }) : new Response("ok");
  });
  return Object.assign(resource, { revoked });
}

Deno.test("Client adopts a rotated refresh token from a client whose clock is 5 s behind", async () => {
  await using endpoint = rotatingEndpoint();
  await using resource = revokingResource();
  const storage = new MemoryTokenStorage();
  const behind = new ManualClock();
  const ahead = new ManualClock();
  ahead.advance(5_000);
  const client = (clock: ManualClock) =>
    clientFor(endpoint, {
      storage,
      now: clock.now,
      grant: new RefreshTokenGrant({ refreshToken: "rt-0" }),
    });
  await using a = client(ahead);
  await using b = client(behind);
  assert.equal((await a.getToken()).accessToken, "at-1"); // rt-0 → rt-1, dated 5 s ahead
  assert.equal((await fetchText(b.fetch, resource.url)).status, 200); // at-1, from the storage
  resource.revoked.add("at-1");
  assert.equal((await fetchText(b.fetch, resource.url)).status, 200); // rt-1 → rt-2, dated earlier
  assert.equal((await fetchText(a.fetch, resource.url)).status, 200); // a replays with at-2
  // at-2 replaced a rejected token: rejected within 30 s, its 401 would stand (for both clients).
  behind.advance(30_000);
  ahead.advance(30_000);
  resource.revoked.add("at-2");
  assert.equal((await fetchText(a.fetch, resource.url)).status, 200); // a refreshes: with rt-2
  assert.deepEqual(endpoint.presented, ["rt-0", "rt-1", "rt-2"]);
});

Deno.test("Client without a storage shares the process-wide one: a client per request makes one token request", async () => {
  await using server = await startAuthServer();
  for (let i = 0; i < 5; i++) {
    await using client = clientFor(server); // as a request handler would
    assert.equal((await fetchText(client.fetch, server.resourceUrl)).status, 200);
  }
  assert.equal(server.tokenRequests.length, 1);
  assert.equal(new Set(server.resourceRequests.map((r) => r.token)).size, 1);
});

Deno.test("Client without a storage shares a rotating refresh token with other clients of the process", async () => {
  await using endpoint = rotatingEndpoint();
  const clock = new ManualClock();
  const client = () =>
    clientFor(endpoint, {
      now: clock.now,
      grant: new RefreshTokenGrant({ refreshToken: "rt-0" }),
    });
  await using a = client();
  await using b = client();
  assert.equal((await a.getToken()).accessToken, "at-1");
  clock.advance(3600_000);
  assert.equal((await b.getToken()).accessToken, "at-2");
  clock.advance(3600_000);
  assert.equal((await a.getToken()).accessToken, "at-3");
  assert.deepEqual(endpoint.presented, ["rt-0", "rt-1", "rt-2"]);
});

Deno.test("Client.fetch() honours Retry-After: one token request, then copies of its answer until it passes", async () => {
  const clock = new ManualClock();
  await using server = await startAuthServer({ now: clock.now });
  const body = '{"error":"slow_down"}';
  server.failTokenRequests(1, {
    status: 429,
    body,
    headers: { "Content-Type": "application/json", "Retry-After": "60" },
  });
  await using client = clientFor(server, { now: clock.now });
  for (let i = 0; i < 50; i++) {
    const { status, text, response } = await fetchText(client.fetch, server.resourceUrl);
    assert.deepEqual([status, text, response.headers.get("retry-after")], [429, body, "60"]);
  }
  assert.equal(server.tokenRequests.length, 1);
  const reported = client.events.filter((e) => e.type === "error");
  assert.deepEqual(reported.map((e) => e.type === "error" && e.phase), ["token"]);
  clock.advance(59_999);
  assert.equal((await fetchText(client.fetch, server.resourceUrl)).status, 429);
  assert.equal(server.tokenRequests.length, 1);
  clock.advance(1);
  assert.equal((await fetchText(client.fetch, server.resourceUrl)).status, 200);
  assert.equal(server.tokenRequests.length, 2);
});

Deno.test("Client.fetch() reads a Retry-After date against the answer's Date, and waits 300 s at most", async () => {
  const clock = new ManualClock(); // far from the server's clock: only the server's own times count
  const date = new Date(Date.UTC(2030, 0, 1));
  let answers = 0;
  await using endpoint = serve((request) => {
    if (!request.url.endsWith("/token")) return new Response("ok"); // the resource
    answers++;
    const retryAfter = answers === 1
      ? new Date(date.getTime() + 120_000).toUTCString() // two minutes after its Date
      : "86400"; // a day: capped
    if (answers <= 2) {
      return Response.json({ error: "temporarily_unavailable" }, {
        status: 503,
        headers: { "Date": date.toUTCString(), "Retry-After": retryAfter },
      });
    }
    return Response.json({ access_token: `at-${answers}`, expires_in: 3600 });
  });
  await using client = clientFor({ tokenEndpoint: `${endpoint.url}/token` }, { now: clock.now });
  const status = async () => (await fetchText(client.fetch, endpoint.url)).status;
  assert.equal(await status(), 503);
  clock.advance(119_999);
  assert.equal(await status(), 503);
  assert.equal(answers, 1);
  clock.advance(1);
  assert.equal(await status(), 503); // the second answer: a day
  clock.advance(299_999);
  assert.equal(await status(), 503);
  assert.equal(answers, 2);
  clock.advance(1);
  assert.equal(await status(), 200);
  assert.equal(answers, 3);
});

Deno.test("Client renews in the background only once a Retry-After has passed", async () => {
  const clock = new ManualClock();
  await using server = await startAuthServer({ expiresIn: 3600, now: clock.now });
  await using client = clientFor(server, { now: clock.now });
  await fetchText(client.fetch, server.resourceUrl);
  clock.advance(3600_000 - 50_000); // inside the 60 s renewal margin
  server.failTokenRequests(1, { status: 503, headers: { "Retry-After": "30" } });
  assert.equal((await fetchText(client.fetch, server.resourceUrl)).status, 200);
  await nextEvent(client.events, (e) => e.type === "error" && e.phase === "renewal");
  for (const step of [5_000, 10_000, 14_999]) { // past the 5 s back-off, inside the 30 s
    clock.advance(step);
    assert.equal((await fetchText(client.fetch, server.resourceUrl)).status, 200);
  }
  assert.equal(server.tokenRequests.length, 2);
  clock.advance(1);
  assert.equal((await fetchText(client.fetch, server.resourceUrl)).status, 200);
  await nextEvent(client.events, (e) => e.type === "token" && e.reason === "expiring");
  assert.equal(server.tokenRequests.length, 3);
});

Deno.test("Client.fetch() asks for at most one token per 30 s for a resource that rejects every token", async () => {
  const clock = new ManualClock();
  await using server = await startAuthServer({ now: clock.now });
  server.route("/never", () =>
    new Response("rejected", {
      status: 401,
      headers: { "WWW-Authenticate": 'Bearer error="invalid_token"' },
    }));
  await using client = clientFor(server, { now: clock.now });
  for (let i = 0; i < 1_000; i++) {
    const { status, text } = await fetchText(client.fetch, server.url("/never"));
    assert.deepEqual([status, text], [401, "rejected"]);
  }
  assert.equal(server.tokenRequests.length, 2, "the first token and one renewal");
  assert.equal(server.resourceRequests.length, 1_001, "one replay; then each 401 as it is");
  const second = server.issuedTokens[1];
  assert.ok(server.resourceRequests.slice(1).every((r) => r.token === second));
  clock.advance(29_999);
  await fetchText(client.fetch, server.url("/never"));
  assert.equal(server.tokenRequests.length, 2);
  clock.advance(1);
  await fetchText(client.fetch, server.url("/never"));
  assert.equal(server.tokenRequests.length, 3, "once 30 s have passed, one renewal more");
});

Deno.test("Client.fetch() pays one storage bound for a storage that hangs, and reports the outage once", async () => {
  const clock = new ManualClock();
  await using server = await startAuthServer({ now: clock.now });
  let calls = 0;
  const release = Promise.withResolvers<undefined>();
  const hanging: TokenStorage = {
    get: () => (calls++, release.promise),
    set: () => (calls++, release.promise),
    delete: () => (calls++, release.promise),
  };
  await using client = clientFor(server, { storage: hanging, tokenTimeout: 100, now: clock.now });
  assert.equal((await fetchText(client.fetch, server.resourceUrl)).status, 200);
  assert.equal(calls, 1, "the first request waited for one storage call, then skipped the storage");
  server.revoke();
  assert.equal((await fetchText(client.fetch, server.resourceUrl)).status, 200); // 401, renewal, replay
  assert.equal(calls, 1, "the replay waited for no storage call");
  for (let i = 0; i < 20; i++) await fetchText(client.fetch, server.resourceUrl);
  const reports = client.events.filter((e) => e.type === "error" && e.phase === "storage");
  assert.equal(reports.length, 1);
  assert.match(String(reports[0]?.type === "error" && reports[0].error), /did not answer/);
  // After the probe interval (5 s; 30 s lets the rejection renew), the next
  // storage call starts one probe, without waiting for it.
  clock.advance(30_000);
  server.revoke();
  assert.equal((await fetchText(client.fetch, server.resourceUrl)).status, 200);
  assert.equal(calls, 2);
  release.resolve(undefined);
});

Deno.test("Client.fetch() checks a custom grant's token like a token endpoint's, and never shows it", async () => {
  await using server = await startAuthServer();
  const secret = "s3cr3t-token-value";
  const grant = (fields: Partial<Token>): Grant => ({
    name: "custom",
    obtain: ({ endpoint }) =>
      Promise.resolve({
        token: { accessToken: secret, tokenType: "Bearer", issuedAt: endpoint.now(), ...fields },
      }),
  });
  const refused: Partial<Token>[] = [
    { tokenType: "mac" },
    { tokenType: "Bearer a" }, // "Bearer a b" as the type and token
    { accessToken: `${secret} b` },
    { accessToken: "" },
    { accessToken: `${secret}\r\nX-Injected: 1` },
    { accessToken: `${secret}\n` },
  ];
  for (const fields of refused) {
    await using client = clientFor(server, { grant: grant(fields) });
    const error = await client.fetch(server.resourceUrl).then(
      () => assert.fail(`sent ${JSON.stringify(fields)}`),
      (error: unknown) => error,
    );
    assert.ok(error instanceof TokenError, JSON.stringify(fields));
    assert.equal(error.code, "invalid_response");
    assert.match(error.message, /^Cannot use the token of the grant "custom": /);
    for (const text of [error.message, String(error.stack), Deno.inspect(error)]) {
      assert.ok(!text.includes(secret), `the token shows in ${JSON.stringify(text)}`);
    }
  }
  assert.equal(server.resourceRequests.length, 0);
  // The type's case is normalized, as a token response's is.
  await using client = clientFor(server, { grant: grant({ tokenType: "bearer" }) });
  await fetchText(client.fetch, server.resourceUrl);
  assert.equal(server.resourceRequests[0]?.headers.get("authorization"), `Bearer ${secret}`);
});

// Property: across any clock jumps, lifetimes and margins, no token is sent expired.

type ClockAction =
  | { type: "advance"; ms: number }
  | { type: "fetch"; count: number }
  | { type: "lifetime"; seconds: number | null };

const clockAction: fc.Arbitrary<ClockAction> = fc.oneof(
  fc.record({
    type: fc.constant("advance" as const),
    ms: fc.oneof(
      fc.integer({ min: -7_200_000, max: 7_200_000 }),
      fc.integer({ min: -120_000, max: 120_000 }),
    ),
  }),
  fc.record({ type: fc.constant("fetch" as const), count: fc.integer({ min: 1, max: 3 }) }),
  fc.record({
    type: fc.constant("lifetime" as const),
    seconds: fc.option(fc.integer({ min: 1, max: 7200 }), { nil: null }),
  }),
);

/** Waits until the client has taken in every token the endpoint issued. */
async function settle(events: ClientEvent[], issued: () => number): Promise<void> {
  while (events.filter((e) => e.type === "token").length < issued()) {
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

Deno.test("Client.fetch() never sends an expired token across clock jumps forwards and backwards", async () => {
  const clock = new ManualClock();
  let lifetime: number | null = 60;
  let issued = 0;
  await using endpoint = serve(() => {
    // The token says when it was issued and for how long, so the resource can tell.
    const body: Record<string, unknown> = {
      access_token: `t${++issued}.${clock.time}.${lifetime ?? "none"}`,
    };
    if (lifetime !== null) body.expires_in = lifetime;
    return Response.json(body);
  });
  const stale: string[] = [];
  await using resource = serve((request) => {
    const value = request.headers.get("authorization") ?? "";
    const match = /^Bearer t\d+\.(\d+)\.(\d+|none)$/.exec(value);
    if (!match) stale.push(`malformed: ${value}`);
    else if (match[2] !== "none" && clock.time >= Number(match[1]) + Number(match[2]) * 1000) {
      stale.push(`${value} sent at ${clock.time}`);
    }
    return new Response("ok");
  });
  await fc.assert(
    fc.asyncProperty(
      fc.array(clockAction, { minLength: 1, maxLength: 16 }),
      fc.integer({ min: 0, max: 120_000 }),
      async (actions, renewalMargin) => {
        stale.length = 0;
        const events: ClientEvent[] = [];
        await using client = new Client({
          tokenEndpoint: `${endpoint.url}/token`,
          clientId: "id",
          now: clock.now,
          renewalMargin,
          onEvent: (event) => events.push(event),
        });
        const start = issued;
        for (const action of actions) {
          if (action.type === "fetch") {
            const responses = await Promise.all(
              Array.from({ length: action.count }, () => client.fetch(resource.url)),
            );
            await Promise.all(responses.map((r) => r.body?.cancel()));
            continue;
          }
          // Nothing dates a token while the clock moves: let renewals land first.
          await settle(events, () => issued - start);
          if (action.type === "advance") clock.advance(action.ms);
          else lifetime = action.seconds;
        }
        await settle(events, () => issued - start);
        assert.deepEqual(stale, []);
      },
    ),
    { numRuns: RUNS },
  );
});

Deno.test("TokenProvider.revoke() waits for the renewal under way and revokes the token it obtains", async () => {
  await using server = await startAuthServer();
  const arrived = Promise.withResolvers<void>();
  const release = Promise.withResolvers<void>();
  // A token endpoint that holds the first request until the test releases it.
  await using gated = serve(async (request) => {
    arrived.resolve();
    await release.promise;
    return await fetch(server.tokenEndpoint, {
      method: "POST",
      headers: request.headers,
      body: await request.arrayBuffer(),
    });
  });
  const storage = new MemoryTokenStorage();
  await using client = clientFor({ tokenEndpoint: `${gated.url}/token` }, {
    revocationEndpoint: server.revocationEndpoint,
    storage,
  });
  const fetching = client.getToken();
  await arrived.promise; // the renewal is under way
  const revoking = client.revoke();
  release.resolve();
  const token = await fetching;
  assert.equal(await revoking, "access_token");
  assert.deepEqual(server.revocations.map((r) => r.token), [token.accessToken]);
  assert.equal(storage.size, 0);
});

// Issue 11 review: the limits belong to the token, and grant failures are TokenErrors.

Deno.test("Client without a storage shares a Retry-After with every client of its token: 50 short-lived clients make one token request", async () => {
  const clock = new ManualClock();
  await using server = await startAuthServer({ now: clock.now });
  const body = '{"error":"slow_down"}';
  server.failTokenRequests(1, {
    status: 429,
    body,
    headers: { "Content-Type": "application/json", "Retry-After": "60" },
  });
  for (let i = 0; i < 50; i++) {
    await using client = clientFor(server, { now: clock.now }); // as a request handler would
    const { status, text } = await fetchText(client.fetch, server.resourceUrl);
    assert.deepEqual([status, text], [429, body]);
  }
  assert.equal(server.tokenRequests.length, 1);
  clock.advance(60_000);
  await using client = clientFor(server, { now: clock.now });
  assert.equal((await fetchText(client.fetch, server.resourceUrl)).status, 200);
  assert.equal(server.tokenRequests.length, 2);
});

Deno.test("Client.fetch() with a client per call asks for two tokens for a resource that rejects every token", async () => {
  const clock = new ManualClock();
  await using server = await startAuthServer({ now: clock.now });
  server.route("/never", () =>
    new Response("rejected", {
      status: 401,
      headers: { "WWW-Authenticate": 'Bearer error="invalid_token"' },
    }));
  const call = async () => {
    await using client = clientFor(server, { now: clock.now });
    return await fetchText(client.fetch, server.url("/never"));
  };
  for (let i = 0; i < 100; i++) {
    const { status, text } = await call();
    assert.deepEqual([status, text], [401, "rejected"]);
  }
  assert.equal(server.tokenRequests.length, 2, "the first token and one renewal");
  clock.advance(30_000);
  await call();
  assert.equal(server.tokenRequests.length, 3, "once 30 s have passed, one renewal more");
});

Deno.test("Client.fetch() waits 5 s after a 429 without Retry-After, answering copies meanwhile", async () => {
  const clock = new ManualClock();
  await using server = await startAuthServer({ now: clock.now });
  server.failTokenRequests(1, { status: 429, body: '{"error":"slow_down"}' });
  await using client = clientFor(server, { now: clock.now });
  assert.equal((await fetchText(client.fetch, server.resourceUrl)).status, 429);
  clock.advance(4_999);
  assert.equal((await fetchText(client.fetch, server.resourceUrl)).status, 429);
  assert.equal(server.tokenRequests.length, 1);
  clock.advance(1);
  assert.equal((await fetchText(client.fetch, server.resourceUrl)).status, 200);
  assert.equal(server.tokenRequests.length, 2);
});

Deno.test("Client.fetch() makes a custom grant's Error a TokenError naming the grant, and reports it", async () => {
  await using server = await startAuthServer();
  const failure = new Error("signing failed for at-SECRET");
  let calls = 0;
  const grant: Grant = {
    name: "custom",
    obtain: () => {
      calls++;
      if (calls === 1) throw failure; // thrown at once, not even a promise
      return Promise.reject(failure);
    },
  };
  await using client = clientFor(server, { grant });
  for (let i = 0; i < 2; i++) {
    const error = await client.fetch(server.resourceUrl).then(
      () => assert.fail("no token, yet a response"),
      (error: unknown) => error,
    );
    assert.ok(error instanceof TokenError);
    assert.equal(error.code, "grant_failed");
    assert.equal(error.cause, failure);
    assert.equal(error.message, 'Cannot obtain a token: the grant "custom" failed');
    const reported = client.events.filter((e) => e.type === "error");
    assert.deepEqual(reported.at(-1), { type: "error", phase: "token", error });
  }
  assert.equal(client.events.filter((e) => e.type === "error").length, 2);
  assert.equal(server.resourceRequests.length, 0);
});

Deno.test("Client.fetch() refuses a custom grant's result that is neither a token nor an error response", async () => {
  await using server = await startAuthServer();
  for (
    const result of [undefined, null, {}, "at-1", { errorResponse: "no" }, { errorResponse: {} }]
  ) {
    const grant: Grant = { name: "custom", obtain: () => Promise.resolve(result as never) };
    await using client = clientFor(server, { grant });
    const error = await client.fetch(server.resourceUrl).catch((error: unknown) => error);
    assert.ok(error instanceof TokenError, JSON.stringify(result));
    assert.equal(error.code, "invalid_response");
    assert.match(error.message, /^Cannot use the result of the grant "custom": /);
  }
  assert.equal(server.resourceRequests.length, 0);
});

/** A storage without a lease over `map`, as the README's MapStorage: one per process sharing `map`. */
function mapStorage(map = new Map<string, Token>()): TokenStorage & { map: Map<string, Token> } {
  return {
    map,
    get: (key) => Promise.resolve(structuredClone(map.get(key))),
    set: (key, token) => {
      map.set(key, structuredClone(token));
      return Promise.resolve();
    },
    delete: (key, options = {}) => {
      const { accessToken } = options;
      if (accessToken === undefined || map.get(key)?.accessToken === accessToken) map.delete(key);
      return Promise.resolve();
    },
  };
}

Deno.test("Clients of one process sharing a storage without a lease renew one login one at a time", async () => {
  await using endpoint = rotatingEndpoint();
  const clock = new ManualClock();
  const storage = mapStorage();
  const client = () =>
    clientFor(endpoint, {
      storage,
      now: clock.now,
      grant: new RefreshTokenGrant({ refreshToken: "rt-0" }),
    });
  await using a = client();
  await using b = client();
  assert.equal((await a.getToken()).accessToken, "at-1");
  assert.equal((await b.getToken()).accessToken, "at-1");
  clock.advance(3600_000);
  const tokens = await Promise.all([a.getToken(), b.getToken()]);
  assert.deepEqual(tokens.map((t) => t.accessToken), ["at-2", "at-2"]);
  assert.deepEqual(endpoint.presented, ["rt-0", "rt-1"]);
});

/**
 * Two processes (two storages over one map, so nothing coordinates them)
 * refresh one login at once; the server rotates, and answers the loser once
 * the winner stored the rotated refresh token. Returns the presented refresh
 * tokens and the refresh tokens of the login records left.
 */
async function loseRefreshRace(grant: () => Grant) {
  const shared = new Map<string, Token>();
  const storages = [mapStorage(shared), mapStorage(shared)];
  let live = "rt-0";
  let issued = 0;
  const presented: string[] = [];
  const winnerStored = Promise.withResolvers<void>();
  await using endpoint = serve(async (request) => {
    const refreshToken = new URLSearchParams(await request.text()).get("refresh_token") ?? "";
    presented.push(refreshToken);
    if (refreshToken !== live) {
      await winnerStored.promise;
      return Response.json({ error: "invalid_grant" }, { status: 400 });
    }
    live = `rt-${++issued}`;
    return Response.json({ access_token: `at-${issued}`, expires_in: 3600, refresh_token: live });
  });
  const clock = new ManualClock();
  const client = (storage: TokenStorage) =>
    clientFor({ tokenEndpoint: `${endpoint.url}/token` }, {
      storage,
      now: clock.now,
      grant: grant(),
    });
  await using a = client(storages[0]!);
  await using b = client(storages[1]!);
  assert.equal((await a.getToken()).accessToken, "at-1");
  assert.equal((await b.getToken()).accessToken, "at-1"); // from the shared map
  clock.advance(3600_000);
  for (const storage of storages) {
    const set = storage.set;
    storage.set = async (key, token) => {
      await set(key, token);
      if (token.refreshToken === "rt-2") winnerStored.resolve();
    };
  }
  const tokens = await Promise.all([a.getToken(), b.getToken()]);
  assert.deepEqual(tokens.map((t) => t.accessToken).sort(), ["at-2", "at-3"]);
  const logins = [...shared.values()].filter((t) => t.refreshToken !== undefined);
  return { presented, logins: logins.map((t) => t.refreshToken) };
}

Deno.test("Client that lost a refresh race to another process refreshes with the rotated token, and keeps the login", async () => {
  const race = await loseRefreshRace(() => new RefreshTokenGrant({ refreshToken: "rt-0" }));
  assert.deepEqual(race, { presented: ["rt-0", "rt-1", "rt-1", "rt-2"], logins: ["rt-3"] });
});

Deno.test("Client gives a custom grant that lost a refresh race the rotated refresh token, once", async () => {
  const refresh = (): Grant => ({
    name: "custom_refresh",
    identity: () => "rt-0",
    obtain: ({ endpoint, previous, signal }) =>
      endpoint.request(
        new URLSearchParams({
          grant_type: "refresh_token",
          refresh_token: previous?.refreshToken ?? "rt-0",
        }),
        signal,
      ),
  });
  const race = await loseRefreshRace(refresh);
  assert.deepEqual(race, { presented: ["rt-0", "rt-1", "rt-1", "rt-2"], logins: ["rt-3"] });
});
