// The cases of the storage contract, one per rule, that testTokenStorage()
// registers: what a case checks, on a storage it is given.

import assert from "node:assert/strict";
import { abortable, deadline, delay } from "../_abort.ts";
import type { Token } from "../token.ts";
import type { TokenLease, TokenStorage } from "../storage/token_storage.ts";

/** A storage with the optional lease methods. */
export type LeasingStorage =
  & TokenStorage
  & Required<Pick<TokenStorage, "acquireLease" | "waitForChange">>;

/** What a case gets besides its storage. */
export interface CaseContext {
  /** A key of this case: its random base, then `suffix`. */
  key(suffix?: string): string;
  leaseTtl: number;
  patience: number;
}

/** One case: it fails by throwing. */
export type Case<S extends TokenStorage> = (storage: S, context: CaseContext) => Promise<void>;

/** A lease that does not run out during a case. */
const LONG_TTL = 60_000;
/** A wait that does not time out during a case. */
const LONG_WAIT = 3_600_000;
/** How long a waiter is watched for a wake-up that nothing caused. */
const QUIET = 20;

/** A record with every field; a new object each call. */
function fullToken(): Token {
  return {
    accessToken: "2YotnFZFEjr1zCsicMWpAA.-_~+/=",
    tokenType: "Bearer",
    // Long past: a storage returns what it was given and never decides freshness.
    issuedAt: 1_700_000_000_000,
    expiresAt: 1_700_003_600_000,
    refreshToken: "tGzv3JOkF0XG5Qx2TlKWIA",
    scope: "read write",
    extra: {
      id_token: "eyJhbGciOiJSUzI1NiJ9.e30.c2ln",
      nested: { list: [1, 2.5, "two", true, null], empty: {} },
      text: 'é ✓ " \\ \n',
    },
  };
}

/** A record with only the required fields. */
function minimalToken(accessToken: string): Token {
  return { accessToken, tokenType: "Bearer", issuedAt: 1_700_000_000_000 };
}

/** `token` without its `undefined` fields: a storage may drop or keep them. */
function defined(token: Token | undefined): Token | undefined {
  if (token === undefined) return undefined;
  return Object.fromEntries(
    Object.entries(token).filter(([, value]) => value !== undefined),
  ) as unknown as Token;
}

/** Whether the storage has both lease methods: the client coordinates only then. */
export function hasLeases(storage: TokenStorage): storage is LeasingStorage {
  return typeof storage.acquireLease === "function" &&
    typeof storage.waitForChange === "function";
}

async function leaseOf(storage: LeasingStorage, key: string, ttl = LONG_TTL): Promise<TokenLease> {
  const lease = await storage.acquireLease(key, { ttl });
  assert.ok(lease, "acquireLease() returned no lease for a key that no holder had");
  return lease;
}

/** The lease of `key` once the storage gives it again, after the held one's ttl. */
async function leaseAfterExpiry(
  storage: LeasingStorage,
  key: string,
  context: CaseContext,
): Promise<TokenLease> {
  await delay(context.leaseTtl);
  const giveUpAt = Date.now() + context.patience;
  while (true) {
    const lease = await storage.acquireLease(key, { ttl: LONG_TTL });
    if (lease) return lease;
    if (Date.now() > giveUpAt) {
      assert.fail(
        `acquireLease() still refused a lease ${context.patience} ms after its ttl ran out`,
      );
    }
    await delay(Math.min(10, context.leaseTtl));
  }
}

/** Settles like `promise`, or fails the case when it takes longer than `patience`. */
async function within<T>(promise: Promise<T>, patience: number, what: string): Promise<T> {
  using limit = deadline(undefined, patience, `${what} within ${patience} ms`);
  return await abortable(promise, limit.signal);
}

/** `promise`, watched: `settled` tells whether it has settled yet. */
function watched(promise: Promise<void>): { promise: Promise<void>; settled(): boolean } {
  let settled = false;
  const done = promise.finally(() => settled = true);
  done.catch(() => {}); // awaited later by the case
  return { promise: done, settled: () => settled };
}

async function accessTokenOf(storage: TokenStorage, key: string): Promise<string | undefined> {
  return (await storage.get(key))?.accessToken;
}

/** The cases of every storage. */
export const CASES: [string, Case<TokenStorage>][] = [
  [".get() returns what set() stored, every field, and set() replaces it", async (s, c) => {
    assert.equal(await s.get(c.key("full")), undefined, "a key never set reads as undefined");
    await s.set(c.key("full"), fullToken());
    assert.deepEqual(defined(await s.get(c.key("full"))), fullToken());
    await s.set(c.key("minimal"), minimalToken("m"));
    assert.deepEqual(defined(await s.get(c.key("minimal"))), minimalToken("m"));
    // The whole record is replaced: no field of the old one is left over.
    await s.set(c.key("full"), minimalToken("replaced"));
    assert.deepEqual(defined(await s.get(c.key("full"))), minimalToken("replaced"));
  }],
  [".delete() removes the token, and resolves when there is none", async (s, c) => {
    await s.set(c.key(), fullToken());
    await s.delete(c.key());
    assert.equal(await s.get(c.key()), undefined);
    await s.delete(c.key());
    await s.delete(c.key("never-set"));
    assert.equal(await s.get(c.key("never-set")), undefined);
  }],
  [".delete() with accessToken deletes only while that token is stored", async (s, c) => {
    await s.set(c.key(), minimalToken("new"));
    await s.delete(c.key(), { accessToken: "old" });
    assert.equal(
      await accessTokenOf(s, c.key()),
      "new",
      "delete() with another accessToken removed the stored token",
    );
    await s.delete(c.key(), { accessToken: "new" });
    assert.equal(await s.get(c.key()), undefined, "delete() with the stored accessToken kept it");
    await s.delete(c.key(), { accessToken: "new" });
    assert.equal(await s.get(c.key()), undefined);
  }],
  [".set() and get() copy records: changing an object changes nothing stored", async (s, c) => {
    const given = fullToken();
    await s.set(c.key(), given);
    given.accessToken = "changed-after-set";
    (given.extra?.nested as { list: unknown[] }).list.push("changed-after-set");
    assert.deepEqual(defined(await s.get(c.key())), fullToken(), "a change after set() was stored");
    const got = await s.get(c.key());
    assert.ok(got);
    got.scope = "changed-after-get";
    (got.extra?.nested as { list: unknown[] }).list.push("changed-after-get");
    assert.deepEqual(defined(await s.get(c.key())), fullToken(), "a change after get() was stored");
  }],
  [" keeps keys apart", async (s, c) => {
    const suffixes = ["a", "A", "a ", "a:b", "a/b", "é", "0".repeat(64), "0".repeat(63) + "1"];
    for (const [i, suffix] of suffixes.entries()) {
      await s.set(c.key(suffix), minimalToken(`token-${i}`));
    }
    for (const [i, suffix] of suffixes.entries()) {
      assert.equal(await accessTokenOf(s, c.key(suffix)), `token-${i}`, `key ${i} (${suffix})`);
    }
    await s.delete(c.key("a"));
    assert.equal(await s.get(c.key("a")), undefined);
    assert.equal(await accessTokenOf(s, c.key("A")), "token-1");
    assert.equal(await accessTokenOf(s, c.key("a ")), "token-2");
  }],
  [" has acquireLease() and waitForChange() together, or neither", (s) => {
    // The client coordinates renewals only with both: one alone is a storage bug.
    assert.equal(
      typeof s.acquireLease === "function",
      typeof s.waitForChange === "function",
      "the storage has one of acquireLease() and waitForChange() without the other",
    );
    return Promise.resolve();
  }],
];

/** The cases of a storage with acquireLease() and waitForChange(). */
export const LEASE_CASES: [string, Case<LeasingStorage>][] = [
  [".acquireLease() gives the lease to one holder at a time", async (s, c) => {
    const first = await leaseOf(s, c.key());
    assert.equal(
      await s.acquireLease(c.key(), { ttl: LONG_TTL }),
      undefined,
      "a second holder got a lease that was held",
    );
    const other = await leaseOf(s, c.key("other")); // keys are kept apart
    await s.set(c.key(), minimalToken("under-lease"), { lease: first });
    assert.equal(await accessTokenOf(s, c.key()), "under-lease", "set() under a held lease");
    await Promise.all([first.release(), other.release()]);
  }],
  [".acquireLease() gives a lease past its ttl to the next holder", async (s, c) => {
    const first = await leaseOf(s, c.key(), c.leaseTtl);
    const next = await leaseAfterExpiry(s, c.key(), c);
    assert.notEqual(next.id, first.id, "two acquisitions gave the same lease id");
    assert.equal(await s.acquireLease(c.key(), { ttl: LONG_TTL }), undefined);
    await next.release();
  }],
  [".set() under a lease that ran out or was taken over writes nothing", async (s, c) => {
    await s.set(c.key(), minimalToken("before"));
    const late = await leaseOf(s, c.key(), c.leaseTtl);
    await delay(2 * c.leaseTtl);
    await s.set(c.key(), minimalToken("from-expired-lease"), { lease: late });
    assert.equal(await accessTokenOf(s, c.key()), "before", "set() wrote under an expired lease");
    const next = await leaseAfterExpiry(s, c.key(), c);
    await s.set(c.key(), minimalToken("from-next"), { lease: next });
    await s.set(c.key(), minimalToken("from-superseded-lease"), { lease: late });
    assert.equal(
      await accessTokenOf(s, c.key()),
      "from-next",
      "set() wrote under a lease that another holder had taken over",
    );
    // Without a lease, set() writes whoever holds one.
    await s.set(c.key(), minimalToken("without-lease"));
    assert.equal(await accessTokenOf(s, c.key()), "without-lease");
    await next.release();
  }],
  [" lease.release() frees the lease, and only its own", async (s, c) => {
    const first = await leaseOf(s, c.key());
    await first.release();
    const second = await leaseOf(s, c.key());
    await first.release(); // again: must not free the second holder's lease
    assert.equal(
      await s.acquireLease(c.key(), { ttl: LONG_TTL }),
      undefined,
      "a released lease's release() freed the next holder's lease",
    );
    await second.release();
    await s.set(c.key(), minimalToken("after-release"), { lease: second });
    assert.equal(await s.get(c.key()), undefined, "set() wrote under a released lease");
  }],
  [".waitForChange() waits while nothing changes, wakes on a write and a release", async (s, c) => {
    const lease = await leaseOf(s, c.key());
    const guard = (what: string) => deadline(undefined, c.patience, what);
    {
      using limit = guard("waitForChange() did not wake on a set()");
      const waiting = watched(
        s.waitForChange(c.key(), { timeout: LONG_WAIT, signal: limit.signal }),
      );
      await delay(QUIET);
      assert.equal(waiting.settled(), false, "waitForChange() woke while nothing changed");
      await s.set(c.key(), minimalToken("renewed"), { lease });
      await within(waiting.promise, c.patience, "waitForChange() did not wake on a set()");
    }
    {
      using limit = guard("waitForChange() did not wake on a release()");
      const waiting = s.waitForChange(c.key(), { timeout: LONG_WAIT, signal: limit.signal });
      await delay(QUIET);
      await lease.release();
      await within(waiting, c.patience, "waitForChange() did not wake on a release()");
    }
  }],
  [".waitForChange() resolves after its timeout when nothing changes", async (s, c) => {
    const lease = await leaseOf(s, c.key());
    using limit = deadline(undefined, c.patience, "waitForChange() outlived its timeout");
    const waiting = s.waitForChange(c.key(), { timeout: QUIET, signal: limit.signal });
    await within(waiting, c.patience, "waitForChange() did not resolve after its timeout");
    await lease.release();
  }],
  [".waitForChange() rejects with the reason when its signal aborts", async (s, c) => {
    const lease = await leaseOf(s, c.key());
    const controller = new AbortController();
    const waiting = s.waitForChange(c.key(), { timeout: LONG_WAIT, signal: controller.signal });
    await delay(QUIET);
    const reason = new Error("stop waiting");
    controller.abort(reason);
    await assert.rejects(
      within(waiting, c.patience, "waitForChange() did not end when its signal aborted"),
      (error) => error === reason,
    );
    const early = new Error("aborted before the wait");
    await assert.rejects(
      s.waitForChange(c.key(), { timeout: LONG_WAIT, signal: AbortSignal.abort(early) }),
      (error) => error === early,
    );
    await lease.release();
  }],
];
