import assert from "node:assert/strict";
import {
  AuthorizationCodeGrant,
  ImplicitGrant,
  MemoryTokenStorage,
  useAuthorizationCodeFlow,
  useImplicitFlow,
} from "../../mod.ts";
import { checkPortRange } from "../../src/login/login_options.ts";

Deno.test("checkPortRange() rejects ranges that are not [first, last] ports", () => {
  assert.deepEqual(checkPortRange([1, 1], "x"), [1, 1]);
  for (const range of [[2, 1], [0, 65536], [-1, 3], [1.5, 2], [1], "1-2", null, [1, 2, 3]]) {
    assert.throws(() => checkPortRange(range, "use it"), RangeError, String(range));
  }
});

// What SECURITY.md promises: plain http is refused outside loopback hosts.
Deno.test("login grants refuse a plain http authorization endpoint on a remote host", () => {
  for (const Grant of [AuthorizationCodeGrant, ImplicitGrant]) {
    assert.throws(
      () => new Grant({ authorizationEndpoint: "http://auth.example/authorize" }),
      TypeError,
    );
  }
});

Deno.test("login grants and flows refuse a loginTimeout of 30 days with a RangeError naming it", async () => {
  const thirtyDays = 30 * 24 * 60 * 60_000;
  for (const Grant of [AuthorizationCodeGrant, ImplicitGrant]) {
    for (const loginTimeout of [thirtyDays, 2 ** 31, Number.MAX_SAFE_INTEGER]) {
      assert.throws(
        () => new Grant({ loginTimeout }),
        new RangeError(
          `Cannot create the ${Grant.name}: "loginTimeout" must be a finite number of milliseconds` +
            " >= 1 and <= 2147483647 (about 24.8 days, the longest a timer can wait)",
        ),
      );
    }
    // The longest accepted timeout still sizes the grant within what a timer holds.
    assert.equal(new Grant({ loginTimeout: 2 ** 31 - 1 }).timeout, 2 ** 31 - 1);
  }
  for (const use of [useImplicitFlow, useAuthorizationCodeFlow]) {
    await assert.rejects(
      use(new MemoryTokenStorage(), [0, 0], { loginTimeout: 2 ** 31 }),
      (error: Error) =>
        error instanceof RangeError && error.message.includes('"loginTimeout" must be') &&
        error.message.includes("2147483647"),
    );
  }
});
