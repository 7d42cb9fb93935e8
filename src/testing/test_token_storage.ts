/**
 * The storage contract as tests: the cases every {@linkcode TokenStorage}
 * must pass, registered with `Deno.test`.
 *
 * @module
 */

import { checkKnownOptions } from "../_known_options.ts";
import { checkTokenStorage, type TokenStorage } from "../storage/token_storage.ts";
import {
  type Case,
  CASES,
  hasLeases,
  LEASE_CASES,
  type LeasingStorage,
} from "./_token_storage_cases.ts";

/**
 * Options of {@linkcode testTokenStorage}.
 *
 * @example A storage on a database that each case opens and closes
 * ```ts
 * import { KvTokenStorage } from "@alf/client";
 * import type { TestTokenStorageOptions } from "@alf/client/testing";
 *
 * let kv: Deno.Kv | undefined;
 * const create = async () => new KvTokenStorage(kv = await Deno.openKv(":memory:"));
 * const options: TestTokenStorageOptions<KvTokenStorage> = {
 *   dispose: () => kv?.close(),
 *   keyPrefix: "my-app-test:",
 *   leaseTtl: 100,
 * };
 * // At the top level of a test file: testTokenStorage("KvTokenStorage", create, options);
 * ```
 */
export interface TestTokenStorageOptions<S extends TokenStorage = TokenStorage> {
  /**
   * Called after each case with the storage it created, whether the case
   * passed or not: close a database, remove a file.
   */
  dispose?: (storage: S) => void | Promise<void>;
  /**
   * The start of every key the cases use; each case adds a random part, so
   * cases never see each other's records, even on a database that is not
   * emptied between runs. Default: `"alf-test:"`.
   */
  keyPrefix?: string;
  /**
   * The time to live of the leases that the expiry cases let run out, in
   * milliseconds. Raise it for a storage whose clock is coarse. Default: 50.
   */
  leaseTtl?: number;
  /**
   * How long a case waits for what the storage must do (a lease to run out
   * after its ttl, a waiter to wake) before it fails, in milliseconds: only a
   * broken storage, or a very slow one, reaches it. Default: 5000.
   */
  patience?: number;
  /** Passed to `Deno.test`: check that each case ends its timers and operations. Default: true. */
  sanitizeOps?: boolean;
  /** Passed to `Deno.test`: check that each case closes what it opened. Default: true. */
  sanitizeResources?: boolean;
}

/**
 * Every name of {@linkcode TestTokenStorageOptions}: any other name is
 * refused as a misspelling.
 */
export const TEST_TOKEN_STORAGE_OPTION_NAMES = {
  dispose: true,
  keyPrefix: true,
  leaseTtl: true,
  patience: true,
  sanitizeOps: true,
  sanitizeResources: true,
} as const satisfies Record<keyof TestTokenStorageOptions, true>;

/**
 * Registers, with `Deno.test`, the cases every {@linkcode TokenStorage} must
 * pass, one test per rule of the contract, named after `name`.
 *
 * Every storage: `get()` returns what `set()` stored, with every field, even
 * past its `expiresAt` (the client decides freshness); `set()` replaces the
 * whole record; `delete()` removes it, and with `accessToken` only while that
 * token is stored; records are copied in and out (changing an object after
 * `set()` or `get()` changes nothing stored); keys are kept apart.
 *
 * A storage with `acquireLease()` and `waitForChange()` (it must have both or
 * neither): one holder per lease; a lease past its ttl goes to the next
 * holder; `set()` under a lease that ran out, was taken over or released
 * writes nothing (fencing); `release()` frees the lease for the next holder
 * and never frees another's; `waitForChange()` waits while nothing changes,
 * wakes on a write and on a release, ends at its timeout and rejects with its
 * signal's reason. Without them, those cases show an ignored step.
 *
 * Call it at the top level of a test file: `Deno.test` cannot be called
 * inside a test. `create` is called once per case.
 *
 * @example Running the suite next to a storage's own tests
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryTokenStorage } from "@alf/client";
 * import { testTokenStorage } from "@alf/client/testing";
 *
 * testTokenStorage("MemoryTokenStorage", () => new MemoryTokenStorage());
 *
 * Deno.test("MemoryTokenStorage.size counts the tokens held", async () => {
 *   const storage = new MemoryTokenStorage();
 *   await storage.set("key", { accessToken: "a", tokenType: "Bearer", issuedAt: 0 });
 *   assert.equal(storage.size, 1);
 * });
 * ```
 *
 * @param name How the tests name the storage: `${name}.get() returns ...`.
 * @param create Makes a new storage for one case.
 * @param options A hook to dispose of each storage, the key prefix, the lease
 * ttl of the expiry cases, and how long to wait for the storage.
 * @throws {TypeError} when `name` is not a string, `create` not a function,
 * or an option is unknown.
 * @throws {RangeError} when `leaseTtl` or `patience` is not a positive number.
 */
export function testTokenStorage<S extends TokenStorage>(
  name: string,
  create: () => S | Promise<S>,
  options: TestTokenStorageOptions<S> = {},
): void {
  if (typeof name !== "string") {
    throw new TypeError('Cannot test the token storage: "name" must be a string');
  }
  if (typeof create !== "function") {
    throw new TypeError('Cannot test the token storage: "create" must be a function');
  }
  checkKnownOptions(options, TEST_TOKEN_STORAGE_OPTION_NAMES, "token storage", "test");
  const { dispose, keyPrefix = "alf-test:", leaseTtl = 50, patience = 5_000 } = options;
  for (const [option, value] of [["leaseTtl", leaseTtl], ["patience", patience]] as const) {
    if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
      throw new RangeError(
        `Cannot test the token storage: "${option}" must be a positive number of milliseconds`,
      );
    }
  }
  const register = (title: string, leases: boolean, body: Case<TokenStorage>) => {
    Deno.test({
      name: `${name}${title}`,
      sanitizeOps: options.sanitizeOps ?? true,
      sanitizeResources: options.sanitizeResources ?? true,
      fn: async (t) => {
        const storage = await create();
        try {
          checkTokenStorage(storage, "test the token storage");
          if (leases && !hasLeases(storage)) {
            const step = "the storage has no acquireLease() and waitForChange(): nothing to test";
            await t.step({ name: step, ignore: true, fn: () => {} });
            return;
          }
          const base = `${keyPrefix}${crypto.randomUUID()}:`;
          await body(storage, { key: (suffix = "") => base + suffix, leaseTtl, patience });
        } finally {
          await dispose?.(storage);
        }
      },
    });
  };
  for (const [title, body] of CASES) register(title, false, body);
  for (const [title, body] of LEASE_CASES) {
    // Run only on a storage that hasLeases(): the register skips the others.
    register(title, true, (storage, context) => body(storage as LeasingStorage, context));
  }
}
