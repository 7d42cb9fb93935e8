// MemoryTokenStorage: the storage contract suite, and what only this storage does.

import assert from "node:assert/strict";
import { MemoryTokenStorage, type Token } from "../../mod.ts";
import { testTokenStorage } from "../../testing.ts";

const token = (accessToken: string): Token => ({
  accessToken,
  tokenType: "Bearer",
  issuedAt: 0,
});

testTokenStorage("MemoryTokenStorage", () => new MemoryTokenStorage());

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

Deno.test("MemoryTokenStorage shows no token in inspect or JSON", async () => {
  const storage = new MemoryTokenStorage();
  await storage.set("a", token("secret-token-value"));
  assert.equal(Deno.inspect(storage), "MemoryTokenStorage { size: 1 }");
  assert.equal(JSON.stringify(storage), '{"size":1}');
});
