import assert from "node:assert/strict";
import { frozenToken, type Token } from "../src/token.ts";

const token = (): Token => ({
  accessToken: "at",
  tokenType: "Bearer",
  issuedAt: 1_000,
  expiresAt: 3_601_000,
  scope: "read",
});

Deno.test("frozenToken() copies an unfrozen token into a frozen record, and leaves the token as it was", () => {
  const given = token();
  const frozen = frozenToken(given);
  assert.notEqual(frozen, given);
  assert.ok(Object.isFrozen(frozen));
  assert.deepEqual(frozen, token());
  assert.deepEqual(Object.keys(frozen), Object.keys(given)); // members in their order
  assert.equal(Object.isFrozen(given), false);
  given.accessToken = "changed";
  assert.equal(frozen.accessToken, "at");
});

Deno.test("frozenToken() returns a frozen token as it is", () => {
  const frozen = Object.freeze(token());
  assert.equal(frozenToken(frozen), frozen);
});
