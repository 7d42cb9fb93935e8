// MemoryTokenStorage: the storage contract suite, and what only this storage does.

import assert from "node:assert/strict";
import { MemoryTokenStorage, type MemoryTokenStorageOptions, type Token } from "../../mod.ts";
import { testTokenStorage } from "../../testing.ts";

const token = (accessToken: string): Token => ({
  accessToken,
  tokenType: "Bearer",
  issuedAt: 0,
});

testTokenStorage("MemoryTokenStorage", () => new MemoryTokenStorage());
// With the bounds of MemoryTokenStorage.shared: the contract holds within them.
testTokenStorage(
  "MemoryTokenStorage (bounded)",
  () => new MemoryTokenStorage({ maxRecords: 10_000, maxIdle: 24 * 60 * 60_000 }),
);

Deno.test("MemoryTokenStorage.size counts the tokens held", async () => {
  const storage = new MemoryTokenStorage();
  await storage.set("a", token("1"));
  assert.equal(storage.size, 1);
  await storage.delete("a", { accessToken: "other" });
  assert.equal(storage.size, 1);
  await storage.delete("a");
  assert.equal(storage.size, 0);
});

Deno.test("MemoryTokenStorage.set() rejects a record that cannot be cloned", async () => {
  const storage = new MemoryTokenStorage();
  const record = { ...token("1"), extra: { callback: () => {} } };
  await assert.rejects(storage.set("a", record), (error) => error instanceof DOMException);
  assert.equal(storage.size, 0);
});

Deno.test("MemoryTokenStorage.set() rejects a record with a function or symbol as a member, as structuredClone() would", async () => {
  const storage = new MemoryTokenStorage();
  for (const value of [() => {}, Symbol("token")]) {
    const record = { ...token("1"), scope: value as unknown as string };
    await assert.rejects(storage.set("a", record), (error) => error instanceof DOMException);
  }
  assert.equal(storage.size, 0);
});

Deno.test("MemoryTokenStorage.get() returns a copy: changing it, or the stored object, changes nothing stored", async () => {
  const storage = new MemoryTokenStorage();
  const record = { ...token("1"), extra: { nested: { n: 1 } } };
  await storage.set("a", record);
  record.extra.nested.n = 2;
  record.accessToken = "changed";
  const read = await storage.get("a");
  assert.deepEqual(read, { ...token("1"), extra: { nested: { n: 1 } } });
  (read!.extra!.nested as { n: number }).n = 3;
  read!.tokenType = "changed";
  assert.deepEqual(await storage.get("a"), { ...token("1"), extra: { nested: { n: 1 } } });
});

Deno.test("MemoryTokenStorage.set() keeps a frozen record of strings and numbers as it is; get() still copies", async () => {
  const storage = new MemoryTokenStorage();
  let reads = 0;
  // The proxy counts reads of the record: a stored copy would never read it again.
  const record = new Proxy(Object.freeze({ ...token("1"), expiresAt: 1 }), {
    get: (target, name) => (reads++, Reflect.get(target, name)),
  });
  await storage.set("a", record);
  reads = 0;
  const read = await storage.get("a");
  assert.ok(reads > 0, "the stored record is a copy");
  assert.deepEqual(read, { ...token("1"), expiresAt: 1 });
  assert.equal(Object.isFrozen(read), false);
  read!.accessToken = "changed";
  assert.equal((await storage.get("a"))?.accessToken, "1");
});

Deno.test("MemoryTokenStorage.set() copies a frozen record whose members can still change", async () => {
  const storage = new MemoryTokenStorage();
  const extra = { n: 1 };
  let value = "1";
  const records: Token[] = [
    Object.freeze({ ...token("1"), extra }),
    Object.freeze({
      ...token("2"),
      get scope() {
        return value;
      },
    }),
  ];
  for (const [i, record] of records.entries()) await storage.set(`k${i}`, record);
  extra.n = 2;
  value = "2";
  assert.deepEqual(await storage.get("k0"), { ...token("1"), extra: { n: 1 } });
  assert.deepEqual(await storage.get("k1"), { ...token("2"), scope: "1" });
});

Deno.test("MemoryTokenStorage shows no token in inspect or JSON", async () => {
  const storage = new MemoryTokenStorage();
  await storage.set("a", token("secret-token-value"));
  assert.equal(Deno.inspect(storage), "MemoryTokenStorage { size: 1 }");
  assert.equal(JSON.stringify(storage), '{"size":1}');
});

Deno.test("MemoryTokenStorage.set() drops the least recently used record beyond maxRecords", async () => {
  const storage = new MemoryTokenStorage({ maxRecords: 10_000 });
  for (let i = 0; i < 20_000; i++) {
    await storage.set(`k${i}`, token(`t${i}`));
    if (i % 1_000 === 0) assert.equal((await storage.get("k0"))?.accessToken, "t0"); // k0 in use
  }
  assert.equal(storage.size, 10_000);
  // Kept: k0 (read after k19000 was stored) and the 9,999 stored last.
  assert.equal((await storage.get("k0"))?.accessToken, "t0");
  assert.equal(await storage.get("k1"), undefined);
  assert.equal(await storage.get("k10000"), undefined);
  assert.equal((await storage.get("k10001"))?.accessToken, "t10001");
  assert.equal((await storage.get("k19999"))?.accessToken, "t19999");
  assert.equal(storage.size, 10_000);
});

Deno.test("MemoryTokenStorage.get() drops a record idle for maxIdle, even without expiry", async () => {
  const storage = new MemoryTokenStorage({ maxIdle: Number.MIN_VALUE });
  await storage.set("a", token("1")); // no expiresAt: kept until replaced, but for maxIdle
  const setAt = performance.now();
  while (performance.now() === setAt); // the monotonic clock moves on: the record is idle
  assert.equal(await storage.get("a"), undefined);
  assert.equal(storage.size, 0);
  const unbounded = new MemoryTokenStorage();
  await unbounded.set("a", token("1"));
  assert.equal((await unbounded.get("a"))?.accessToken, "1");
});

Deno.test("MemoryTokenStorage.shared keeps at most 10,000 records", async () => {
  const { shared } = MemoryTokenStorage;
  const before = shared.size;
  const keys = Array.from({ length: 10_001 }, (_, i) => `memory_test/${i}`);
  for (const key of keys) await shared.set(key, token(key));
  assert.equal(shared.size, 10_000);
  assert.equal(await shared.get(keys[0]!), undefined); // the least recently used
  for (const key of keys) await shared.delete(key);
  assert(shared.size <= before);
});

Deno.test("new MemoryTokenStorage() refuses bounds that are not positive", () => {
  for (const maxRecords of [0, -1, 1.5, NaN]) {
    assert.throws(
      () => new MemoryTokenStorage({ maxRecords }),
      new RangeError(
        'Cannot create the MemoryTokenStorage: "maxRecords" must be a positive integer (or Infinity)',
      ),
    );
  }
  for (const maxIdle of [0, -1, NaN]) {
    assert.throws(
      () => new MemoryTokenStorage({ maxIdle }),
      new RangeError(
        'Cannot create the MemoryTokenStorage: "maxIdle" must be a positive number of milliseconds (or Infinity)',
      ),
    );
  }
  assert.equal(new MemoryTokenStorage({ maxRecords: Infinity, maxIdle: Infinity }).size, 0);
});

Deno.test("new MemoryTokenStorage() refuses a misspelled option, naming the one meant", () => {
  const options = { maxRecord: 100 } as MemoryTokenStorageOptions;
  assert.throws(
    () => new MemoryTokenStorage(options),
    new TypeError(
      'Cannot create the MemoryTokenStorage: unknown option "maxRecord"; did you mean "maxRecords"?',
    ),
  );
});
