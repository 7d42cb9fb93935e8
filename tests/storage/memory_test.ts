import assert from "node:assert/strict";
import { MemoryTokenStorage, type Token } from "../../mod.ts";

const token = (accessToken: string): Token => ({
  accessToken,
  tokenType: "Bearer",
  issuedAt: 0,
});

Deno.test("MemoryTokenStorage.get() returns what set() stored, by key", async () => {
  const storage = new MemoryTokenStorage();
  await storage.set("a", token("1"));
  assert.equal((await storage.get("a"))?.accessToken, "1");
  assert.equal(await storage.get("b"), undefined);
  assert.equal(storage.size, 1);
});

Deno.test("MemoryTokenStorage.delete() with accessToken deletes only that token", async () => {
  const storage = new MemoryTokenStorage();
  await storage.set("a", token("new"));
  await storage.delete("a", { accessToken: "old" });
  assert.equal((await storage.get("a"))?.accessToken, "new");
  await storage.delete("a", { accessToken: "new" });
  assert.equal(await storage.get("a"), undefined);
  await storage.set("a", token("x"));
  await storage.delete("a");
  assert.equal(storage.size, 0);
});

Deno.test("MemoryTokenStorage.acquireLease() gives one holder the lease at a time", async () => {
  const storage = new MemoryTokenStorage();
  const first = await storage.acquireLease("a", { ttl: 10_000 });
  assert.ok(first);
  assert.equal(await storage.acquireLease("a", { ttl: 10_000 }), undefined);
  assert.ok(await storage.acquireLease("b", { ttl: 10_000 }), "other keys are independent");
  await first.release();
  assert.ok(await storage.acquireLease("a", { ttl: 10_000 }));
});

Deno.test("MemoryTokenStorage.acquireLease() lets a new holder take an expired lease", async () => {
  const storage = new MemoryTokenStorage();
  const stale = await storage.acquireLease("a", { ttl: 0 });
  assert.ok(stale);
  const fresh = await storage.acquireLease("a", { ttl: 10_000 });
  assert.ok(fresh);
  assert.notEqual(fresh.id, stale.id);
  await stale.release(); // releasing a lost lease must not release the new holder's
  assert.equal(await storage.acquireLease("a", { ttl: 10_000 }), undefined);
});

Deno.test("MemoryTokenStorage.set() with a lost lease does not overwrite (fencing)", async () => {
  const storage = new MemoryTokenStorage();
  const stale = await storage.acquireLease("a", { ttl: 0 });
  const fresh = await storage.acquireLease("a", { ttl: 10_000 });
  await storage.set("a", token("from-fresh"), { lease: fresh! });
  await storage.set("a", token("from-stale"), { lease: stale! });
  assert.equal((await storage.get("a"))?.accessToken, "from-fresh");
});

Deno.test("MemoryTokenStorage.waitForChange() resolves on set, release and timeout", async () => {
  const storage = new MemoryTokenStorage();
  const onSet = storage.waitForChange("a", { timeout: 60_000 });
  await storage.set("a", token("1"));
  await onSet;
  const lease = await storage.acquireLease("a", { ttl: 60_000 });
  const onRelease = storage.waitForChange("a", { timeout: 60_000 });
  await lease!.release();
  await onRelease;
  await storage.waitForChange("a", { timeout: 1 });
});

Deno.test("MemoryTokenStorage.waitForChange() rejects when its signal aborts", async () => {
  const storage = new MemoryTokenStorage();
  const controller = new AbortController();
  const waiting = storage.waitForChange("a", { timeout: 60_000, signal: controller.signal });
  controller.abort(new Error("stop"));
  await assert.rejects(waiting, /stop/);
  await assert.rejects(
    storage.waitForChange("a", { timeout: 60_000, signal: AbortSignal.abort(new Error("early")) }),
    /early/,
  );
});

Deno.test("MemoryTokenStorage shows no token in inspect or JSON", async () => {
  const storage = new MemoryTokenStorage();
  await storage.set("a", token("secret-token-value"));
  assert.equal(Deno.inspect(storage), "MemoryTokenStorage { size: 1 }");
  assert.equal(JSON.stringify(storage), '{"size":1}');
});
