import assert from "node:assert/strict";
import { AuthorizationCodeGrant, ImplicitGrant } from "../../mod.ts";
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
