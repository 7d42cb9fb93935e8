import assert from "node:assert/strict";
import {
  DEFAULT_RETRY_AFTER,
  LIMITS_KEPT,
  MAX_RETRY_AFTER,
  notedLimitsOf,
  REJECTION_BOUND,
  RenewalLimits,
  renewalLimitsOf,
  retryAfter,
} from "../src/_renewal_limits.ts";
import type { ErrorResponse } from "../src/token_result.ts";
import { TokenError } from "../src/token_error.ts";

const NOW = 1_700_000_000_000;
/** The storage object the shared limits below belong to. */
const STORAGE = {};

function answer(status: number, headers: [string, string][] = []): ErrorResponse {
  return {
    status,
    statusText: "",
    headers,
    body: new Uint8Array(),
    error: new TokenError(`Cannot obtain a token: the token endpoint answered ${status}`),
  };
}

Deno.test("renewalLimitsOf() gives every client of one token the same limits", () => {
  const key = `alf1:${crypto.randomUUID()}`;
  const first = renewalLimitsOf(STORAGE, key);
  const slow = answer(429, [["Retry-After", "60"]]);
  first.answered(slow, NOW);
  assert.equal(renewalLimitsOf(STORAGE, key).throttled(NOW + 59_999), slow);
  assert.equal(renewalLimitsOf(STORAGE, `alf1:${crypto.randomUUID()}`).throttled(NOW), undefined);
});

Deno.test("renewalLimitsOf() keeps the 1,000 tokens used last, and forgets the others", () => {
  const kept = `alf1:${crypto.randomUUID()}`;
  const dropped = `alf1:${crypto.randomUUID()}`;
  const slow = answer(429, [["Retry-After", "60"]]);
  renewalLimitsOf(STORAGE, dropped).answered(slow, NOW);
  renewalLimitsOf(STORAGE, kept).answered(slow, NOW);
  for (let i = 0; i < LIMITS_KEPT - 1; i++) renewalLimitsOf(STORAGE, `alf1:filler-${i}`);
  renewalLimitsOf(STORAGE, kept); // used again: now the most recent
  assert.equal(renewalLimitsOf(STORAGE, kept).throttled(NOW), slow);
  assert.equal(
    renewalLimitsOf(STORAGE, dropped).throttled(NOW),
    undefined,
    "the least recently used went",
  );
});

Deno.test("RenewalLimits.answered() waits 5 s after a 429 without a usable Retry-After, not after such a 503", () => {
  for (const headers of [[], [["Retry-After", "soon"]]] as [string, string][][]) {
    const limits = new RenewalLimits();
    const slow = answer(429, headers);
    limits.answered(slow, NOW);
    assert.equal(limits.throttled(NOW + DEFAULT_RETRY_AFTER - 1), slow);
    assert.equal(limits.throttled(NOW + DEFAULT_RETRY_AFTER), undefined);
  }
  const limits = new RenewalLimits();
  limits.answered(answer(503), NOW);
  limits.answered(answer(429, [["Retry-After", "0"]]), NOW); // said: now
  assert.equal(limits.throttled(NOW), undefined);
});

Deno.test("RenewalLimits.answered() waits the Retry-After of a 429 or 503, at most 300 s", () => {
  const limits = new RenewalLimits();
  const down = answer(503, [["retry-after", "86400"]]);
  limits.answered(down, NOW);
  assert.equal(limits.throttled(NOW + MAX_RETRY_AFTER - 1), down);
  assert.equal(limits.throttled(NOW + MAX_RETRY_AFTER), undefined);
  assert.equal(limits.throttled(NOW - 1), undefined, "a clock that went back ends the wait");
  limits.answered(answer(500, [["Retry-After", "60"]]), NOW);
  assert.equal(limits.throttled(NOW), down, "only 429 and 503 ask to wait");
});

Deno.test("RenewalLimits.mayReplace() refuses a replacement rejected within 30 s, then allows it", () => {
  const limits = new RenewalLimits();
  limits.replacedRejected("at-2", NOW);
  assert.equal(limits.mayReplace("at-1", NOW), true);
  assert.equal(limits.mayReplace("at-2", NOW + REJECTION_BOUND - 1), false);
  assert.equal(limits.mayReplace("at-2", NOW + REJECTION_BOUND), true);
});

Deno.test("retryAfter() reads seconds, and a date against the answer's own Date", () => {
  assert.equal(retryAfter([["Retry-After", "120"]], NOW), 120_000);
  const date = new Date(Date.UTC(2030, 0, 1));
  const later = new Date(date.getTime() + 90_000).toUTCString();
  assert.equal(retryAfter([["Date", date.toUTCString()], ["Retry-After", later]], NOW), 90_000);
  assert.equal(retryAfter([["Retry-After", later]], date.getTime()), 90_000);
  for (const value of ["1.5", "-5", "soon"]) {
    assert.equal(retryAfter([["Retry-After", value]], NOW), undefined, value);
  }
  assert.equal(retryAfter([], NOW), undefined);
});

Deno.test("renewalLimitsOf() keeps the limits of another storage apart", () => {
  const key = `alf1:${crypto.randomUUID()}`;
  const slow = answer(429, [["Retry-After", "60"]]);
  renewalLimitsOf(STORAGE, key).answered(slow, NOW);
  assert.equal(renewalLimitsOf({}, key).throttled(NOW), undefined);
  assert.equal(renewalLimitsOf(STORAGE, key).throttled(NOW), slow);
});

Deno.test("notedLimitsOf() makes no limits: reading those of 1,000 tokens forgets none noted", () => {
  const kept = `alf1:${crypto.randomUUID()}`;
  const slow = answer(429, [["Retry-After", "60"]]);
  renewalLimitsOf(STORAGE, kept).answered(slow, NOW);
  for (let i = 0; i < LIMITS_KEPT; i++) {
    assert.equal(notedLimitsOf(STORAGE, `alf1:reader-${i}`), undefined);
  }
  assert.equal(notedLimitsOf(STORAGE, kept)?.throttled(NOW), slow);
  assert.equal(notedLimitsOf({}, kept), undefined);
});
