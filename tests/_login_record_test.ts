import assert from "node:assert/strict";
import {
  loginRecordOf,
  type LoginScope,
  loginScopeOf,
  loginUse,
  RecentSet,
  requestedScope,
} from "../src/_login_record.ts";

Deno.test("loginUse() refreshes without scope for no scope, the login's own scope, or the whole grant", () => {
  const login: LoginScope = { asked: "read write", granted: "read write" };
  assert.deepEqual(loginUse(login, undefined), { use: true });
  assert.deepEqual(loginUse(login, "write read"), { use: true });
  // The user granted less than asked (RFC 6749 §3.3): the login's client goes on refreshing.
  assert.deepEqual(loginUse({ asked: "read write", granted: "read" }, "read write"), { use: true });
});

Deno.test("loginUse() narrows a refresh to a client's scope inside the granted one (RFC 6749 §6)", () => {
  assert.deepEqual(loginUse({ asked: "read write", granted: "read write" }, "read"), {
    use: true,
    scope: "read",
  });
  // Asked for at the login, granted in part: the part granted.
  assert.deepEqual(loginUse({ asked: "a b c", granted: "a c" }, "a b"), { use: true, scope: "a" });
  // Nothing known of the login's scope: the server judges the narrowed request.
  assert.deepEqual(loginUse({}, "admin"), { use: true, scope: "admin" });
  assert.deepEqual(loginUse({ asked: "read" }, "read"), { use: true });
});

Deno.test("loginUse() refuses a login for a scope nobody authorized, and asks for both at the next", () => {
  assert.deepEqual(loginUse({ asked: "read", granted: "read" }, "admin"), {
    use: false,
    ask: "read admin",
  });
  assert.deepEqual(loginUse({ asked: "read", granted: "read" }, "read admin"), {
    use: false,
    ask: "read admin",
  });
  // The user refused all of it: a new login may ask again.
  assert.deepEqual(loginUse({ asked: "read write", granted: "read" }, "write"), {
    use: false,
    ask: "read write",
  });
});

Deno.test("loginRecordOf() keeps the login's scope: granted as scope, asked in extra", () => {
  const token = {
    accessToken: "at",
    tokenType: "Bearer",
    issuedAt: 1,
    expiresAt: 2,
    refreshToken: "rt",
    scope: "read",
    extra: { id_token: "x" },
  };
  const record = loginRecordOf(token, { asked: "read write", granted: "read write" });
  assert.equal(record.expiresAt, undefined);
  assert.equal(record.scope, "read write");
  assert.deepEqual(loginScopeOf(record), { asked: "read write", granted: "read write" });
  assert.equal(record.extra?.id_token, "x");
  const { expiresAt: _, ...unchanged } = token;
  assert.deepEqual(loginRecordOf(token), unchanged);
  assert.deepEqual(loginScopeOf(loginRecordOf(token, {})), {});
  assert.deepEqual(loginScopeOf(undefined), {});
  assert.deepEqual(
    requestedScope(new URLSearchParams([["scope", "a  b"], ["scope", "b c"]])),
    "a b c",
  );
  assert.equal(requestedScope(new URLSearchParams({ scope: " " })), undefined);
});

Deno.test("RecentSet.add() keeps the last values, the oldest dropped first, a value added again kept longest", () => {
  const recent = new RecentSet(3);
  for (const value of ["a", "b", "c", "a", "d"]) recent.add(value);
  // "b" was the oldest once "a" was added again: "d" dropped it.
  assert.deepEqual(["a", "b", "c", "d"].map((value) => recent.has(value)), [
    true,
    false,
    true,
    true,
  ]);
  recent.add("e");
  assert.deepEqual(["a", "c", "d", "e"].map((value) => recent.has(value)), [
    true,
    false,
    true,
    true,
  ]);
});
