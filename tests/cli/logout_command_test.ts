import assert from "node:assert/strict";
import { startAuthServer } from "../../testing.ts";
import { connectRedis, redisSkipReason, startRedisServer } from "../storage/_redis_server.ts";
import { fakeXdgOpen } from "./_fake_xdg_open.ts";
import { alf, closedPort, CREDENTIALS, envFor, isOneLineError, SECRET } from "./_run.ts";

/** A temporary folder for KV files, removed at the end of the test. */
async function tempDir(): Promise<{ path: string; [Symbol.asyncDispose](): Promise<void> }> {
  const path = await Deno.makeTempDir({ prefix: "alf-logout-test-" });
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

/** The configuration of a stand-in server, with its revocation endpoint and a storage. */
function logoutEnv(
  server: { tokenEndpoint: string; revocationEndpoint: string },
  storage: Record<string, string>,
): Record<string, string> {
  return envFor(server, { ALF_REVOCATION_ENDPOINT: server.revocationEndpoint, ...storage });
}

Deno.test("alf logout revokes the stored access token and forgets it; the next run gets a new one", async () => {
  await using server = await startAuthServer(CREDENTIALS);
  await using dir = await tempDir();
  const env = logoutEnv(server, { ALF_KV: `${dir.path}/tokens.kv` });
  const first = await alf(["token"], { env });
  assert.equal(first.code, 0, first.err);
  const old = first.out.trim();

  const logout = await alf(["logout"], { env });
  assert.equal(logout.code, 0, logout.err);
  assert.equal(logout.out, "");
  assert.equal(
    logout.err,
    "alf: logged out: the access token was revoked and the stored token deleted\n",
  );
  assert.deepEqual(server.revocations, [
    { token: old, tokenTypeHint: "access_token", found: "access_token", clientId: "cli-client" },
  ]);
  assert.equal(server.accepts(old), false);

  const next = await alf(["token"], { env });
  assert.equal(next.code, 0, next.err);
  assert.equal(next.out, `${server.issuedTokens[1]}\n`);
  assert.equal(server.tokenRequests.length, 2);

  const again = await alf(["logout"], { env: { ...env, ALF_KV: "" } });
  assert.equal(again.code, 2); // no storage named
  const nothing = await alf(["logout", "--kv", `${dir.path}/other.kv`], { env });
  assert.equal(nothing.code, 0, nothing.err);
  assert.equal(nothing.err, "alf: no stored token: nothing to revoke\n");
  assert.equal(server.revocationRequests.length, 1);
});

Deno.test({
  name: "alf logout --login revokes the login's refresh token; the next run logs in again",
  ignore: Deno.build.os !== "linux",
  async fn() {
    await using server = await startAuthServer();
    await using browser = await fakeXdgOpen();
    await using dir = await tempDir();
    const env = {
      PATH: browser.path,
      ...logoutEnv(server, { ALF_CLIENT_SECRET: "", ALF_KV: `${dir.path}/tokens.kv` }),
    };
    const login = ["--login", "--login-ports", "0"];
    assert.equal((await alf(["token", ...login], { env })).code, 0);
    const logout = await alf(["logout", ...login], { env });
    assert.equal(logout.code, 0, logout.err);
    assert.match(logout.err, /^alf: logged out: the refresh token was revoked/);
    assert.deepEqual(server.revocations.map((r) => [r.tokenTypeHint, r.found]), [
      ["refresh_token", "refresh_token"],
    ]);
    assert.equal((await browser.opened()).length, 1); // logout opens no browser

    const next = await alf(["token", ...login], { env });
    assert.equal(next.code, 0, next.err);
    assert.equal((await browser.opened()).length, 2);
    assert.deepEqual(server.tokenRequests.map((r) => r.form.get("grant_type")), [
      "authorization_code",
      "authorization_code",
    ]);
  },
});

Deno.test("alf logout exits 3 and keeps the token when the revocation endpoint fails", async () => {
  await using server = await startAuthServer(CREDENTIALS);
  await using dir = await tempDir();
  const env = logoutEnv(server, { ALF_KV: `${dir.path}/tokens.kv` });
  const first = await alf(["token"], { env });
  server.failRevocationRequests(1, { status: 503, body: '{"error":"temporarily_unavailable"}' });
  const logout = await alf(["logout"], { env });
  assert.equal(logout.code, 3);
  assert.ok(isOneLineError(logout.err), logout.err);
  assert.match(
    logout.err,
    /^alf: Cannot revoke the token: the revocation endpoint answered 503 .*; the stored token is kept\n$/,
  );
  assert.ok(!logout.err.includes(SECRET) && !logout.err.includes(first.out.trim()));
  const kept = await alf(["token"], { env });
  assert.equal(kept.out, first.out);
  assert.equal(server.tokenRequests.length, 1);

  const unreachable = await alf(["logout"], {
    env: { ...env, ALF_REVOCATION_ENDPOINT: `http://127.0.0.1:${await closedPort()}/revoke` },
  });
  assert.equal(unreachable.code, 3);
  assert.match(unreachable.err, /^alf: Cannot reach the revocation endpoint: /);
});

Deno.test("alf logout exits 2 without a storage or a revocation endpoint, sending nothing", async () => {
  await using server = await startAuthServer(CREDENTIALS);
  await using dir = await tempDir();
  const noStorage = await alf(["logout"], { env: logoutEnv(server, {}) });
  assert.equal(noStorage.code, 2);
  assert.equal(
    noStorage.err,
    "alf: Cannot log out: without --kv or --redis (ALF_KV, ALF_REDIS) no token is kept between runs\n",
  );
  const noEndpoint = await alf(["logout", "--kv", `${dir.path}/tokens.kv`], {
    env: envFor(server),
  });
  assert.equal(noEndpoint.code, 2);
  assert.equal(
    noEndpoint.err,
    "alf: Cannot log out: no revocation endpoint; pass --revocation-endpoint or set ALF_REVOCATION_ENDPOINT\n",
  );
  const extra = await alf(["logout", "now"], { env: logoutEnv(server, { ALF_KV: "x" }) });
  assert.equal(extra.code, 2);
  assert.deepEqual([...Deno.readDirSync(dir.path)], []); // no KV file was created
  assert.equal(server.tokenRequests.length + server.revocationRequests.length, 0);
});

const withRedis = { ignore: redisSkipReason !== undefined };

Deno.test({
  name: "alf logout --redis revokes the token and deletes its Redis record",
  ...withRedis,
  async fn() {
    await using server = await startAuthServer(CREDENTIALS);
    await using redis = await startRedisServer();
    const env = logoutEnv(server, { ALF_REDIS: redis.url });
    assert.equal((await alf(["token"], { env })).code, 0);
    await using check = await connectRedis("node-redis", redis.url);
    assert.equal((await check.send("KEYS", "*") as string[]).length, 1);
    const logout = await alf(["logout"], { env });
    assert.equal(logout.code, 0, logout.err);
    assert.equal(server.revocations[0]?.token, server.issuedTokens[0]);
    assert.deepEqual(await check.send("KEYS", "*"), []);
  },
});

Deno.test("alf logout exits 1 when the storage fails, rather than finding nothing to revoke", async () => {
  await using server = await startAuthServer(CREDENTIALS);
  const port = await closedPort();
  const logout = await alf(["logout"], {
    env: logoutEnv(server, { ALF_REDIS: `redis://127.0.0.1:${port}` }),
  });
  assert.equal(logout.code, 1);
  const lines = logout.err.split("\n").filter(Boolean);
  assert.match(lines[0] ?? "", /^alf: warning: the token storage failed/);
  assert.equal(lines.at(-1), "alf: Cannot log out: the token storage failed; nothing was revoked");
  assert.equal(server.revocationRequests.length, 0);
});
