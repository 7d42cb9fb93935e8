// Storages that each break one rule of the storage contract. Not a test file
// of its own: test_token_storage_test.ts runs `deno test` on it and checks
// that the suite fails each storage on that rule's case, and on no other.

import {
  type AcquireLeaseOptions,
  MemoryTokenStorage,
  type SetTokenOptions,
  type Token,
  type TokenLease,
} from "../../mod.ts";
import { testTokenStorage } from "../../testing.ts";

/** Deletes the stored token even when it is not the `accessToken` named. */
class IgnoresDeleteCondition extends MemoryTokenStorage {
  override delete(key: string): Promise<void> {
    return super.delete(key);
  }
}

/**
 * Fences writes by lease id alone: a lease that ran out still writes until
 * another holder takes it.
 */
class WritesUnderExpiredLease extends MemoryTokenStorage {
  readonly #holders = new Map<string, string>();

  override async acquireLease(
    key: string,
    options: AcquireLeaseOptions,
  ): Promise<TokenLease | undefined> {
    const lease = await super.acquireLease(key, options);
    if (!lease) return undefined;
    this.#holders.set(key, lease.id);
    const release = () => {
      if (this.#holders.get(key) === lease.id) this.#holders.delete(key);
      return lease.release();
    };
    return { id: lease.id, release };
  }

  override set(key: string, token: Token, options: SetTokenOptions = {}): Promise<void> {
    if (options.lease && this.#holders.get(key) !== options.lease.id) return Promise.resolve();
    return super.set(key, token);
  }
}

testTokenStorage("IgnoresDeleteCondition", () => new IgnoresDeleteCondition());
testTokenStorage("WritesUnderExpiredLease", () => new WritesUnderExpiredLease());
