import assert from "node:assert/strict";
import { randomString, s256Challenge } from "../../src/login/_pkce.ts";

Deno.test("randomString() gives 43 base64url characters for 32 bytes, never twice the same", () => {
  const values = new Set(Array.from({ length: 100 }, () => randomString()));
  assert.equal(values.size, 100);
  for (const value of values) assert.match(value, /^[A-Za-z0-9_-]{43}$/);
  assert.match(randomString(16), /^[A-Za-z0-9_-]{22}$/);
});

Deno.test("s256Challenge() matches the example of RFC 7636 Appendix B", async () => {
  assert.equal(
    await s256Challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
    "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
  );
});
