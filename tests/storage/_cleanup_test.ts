import assert from "node:assert/strict";
import { CLEANUP_GRACE, cleanupDelay } from "../../src/storage/_cleanup.ts";
import type { Token } from "../../mod.ts";

const token = (fields: Partial<Token>): Token => ({
  accessToken: "a",
  tokenType: "Bearer",
  issuedAt: 1_000_000,
  ...fields,
});

Deno.test("cleanupDelay() is the token's lifetime and a minute, from its own times", () => {
  assert.equal(CLEANUP_GRACE, 60_000);
  assert.equal(cleanupDelay(token({ expiresAt: 1_010_000 })), 70_000);
  assert.equal(cleanupDelay(token({ expiresAt: 1_000_000.2 })), 60_001, "whole milliseconds");
  assert.equal(cleanupDelay(token({ expiresAt: 0 })), 60_000, "expired: the grace alone");
});

Deno.test("cleanupDelay() keeps a token with a refresh token or no expiry until replaced", () => {
  assert.equal(cleanupDelay(token({ expiresAt: 1_010_000, refreshToken: "r" })), undefined);
  assert.equal(cleanupDelay(token({})), undefined);
  assert.equal(cleanupDelay(token({ issuedAt: 0, expiresAt: Number.MAX_VALUE })), undefined);
});
