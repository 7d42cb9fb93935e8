// Storage round trips on the way to a token: requests that ask at the same
// moment share one read, and requests failed by the same token share one
// read, delete and renewal, so a burst costs one round trip, not one each.

import assert from "node:assert/strict";
import type { Token, TokenStorage } from "../mod.ts";
import { startAuthServer } from "../testing.ts";
import { clientFor, fetchText, ManualClock } from "./_helpers.ts";

/**
 * A storage without a renewal lease (so no read happens under one) that
 * counts its reads and remembers the key read.
 */
class CountingStorage implements TokenStorage {
  readonly tokens = new Map<string, Token>();
  reads = 0;
  deletes = 0;
  key = "";
  get(key: string): Promise<Token | undefined> {
    this.reads++;
    this.key = key;
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

Deno.test("Client makes one storage read, delete and renewal for a storm of 401s", async () => {
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
  assert.equal(storage.deletes, 1);
});
