import assert from "node:assert/strict";
import { startAuthServer } from "../../testing.ts";
import { fakeXdgOpen } from "./_fake_xdg_open.ts";
import { alf, CREDENTIALS, envFor, isOneLineError } from "./_run.ts";

/** A temporary folder for KV files, removed at the end of the test. */
async function tempDir(): Promise<{ path: string; [Symbol.asyncDispose](): Promise<void> }> {
  const path = await Deno.makeTempDir({ prefix: "alf-kv-test-" });
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

Deno.test("alf --kv keeps the token across runs", async () => {
  await using server = await startAuthServer(CREDENTIALS);
  await using dir = await tempDir();
  const kv = `${dir.path}/tokens.kv`;
  const first = await alf(["token", "--kv", kv], { env: envFor(server) });
  const second = await alf(["token", "--kv", kv], { env: envFor(server) });
  const third = await alf(["request", server.resourceUrl], { env: envFor(server, { ALF_KV: kv }) });
  assert.equal(first.code, 0, first.err);
  assert.equal(second.code, 0, second.err);
  assert.equal(third.code, 0, third.err);
  assert.equal(second.out, first.out);
  assert.equal(server.tokenRequests.length, 1);
  assert.equal(server.resourceRequests[0].token, first.out.trim());
});

Deno.test("alf --kv keeps the token renewed after a 401 for the next runs", async () => {
  await using server = await startAuthServer(CREDENTIALS);
  await using dir = await tempDir();
  const env = envFor(server, { ALF_KV: `${dir.path}/tokens.kv` });
  assert.equal((await alf(["request", server.resourceUrl], { env })).code, 0);
  server.revoke();
  const renewed = await alf(["request", server.resourceUrl], { env });
  assert.equal(renewed.code, 0, renewed.err);
  const again = await alf(["request", server.resourceUrl], { env });
  assert.equal(again.code, 0, again.err);
  assert.equal(server.tokenRequests.length, 2);
  const tokens = server.resourceRequests.map((request) => request.token);
  assert.deepEqual(tokens, [tokens[0], tokens[0], tokens[2], tokens[2]]);
  assert.notEqual(tokens[2], tokens[0]);
});

Deno.test("alf --kv makes one token request for several processes at once", async () => {
  await using server = await startAuthServer(CREDENTIALS);
  server.tokenDelay = 300; // the others start while the first one waits for its token
  await using dir = await tempDir();
  const env = envFor(server, { ALF_KV: `${dir.path}/tokens.kv` });
  const runs = await Promise.all(Array.from({ length: 4 }, () => alf(["token"], { env })));
  for (const run of runs) assert.equal(run.code, 0, run.err);
  assert.equal(server.tokenRequests.length, 1);
  assert.deepEqual(runs.map((run) => run.out), runs.map(() => `${server.issuedTokens[0]}\n`));
});

Deno.test("alf --kv exits 2 when Deno runs without --unstable-kv", async () => {
  await using server = await startAuthServer(CREDENTIALS);
  await using dir = await tempDir();
  const { code, err } = await alf(["token", "--kv", `${dir.path}/tokens.kv`], {
    denoFlags: ["-A", "--no-config"], // the project's deno.json turns KV on
    env: envFor(server),
  });
  assert.equal(code, 2);
  assert.ok(isOneLineError(err), err);
  assert.match(err, /run Deno with --unstable-kv/);
  assert.equal(server.tokenRequests.length, 0);
});

Deno.test("alf --kv exits 5 when the KV file cannot be opened", async () => {
  await using server = await startAuthServer(CREDENTIALS);
  await using dir = await tempDir();
  const { code, err } = await alf(["token", "--kv", `${dir.path}/missing/tokens.kv`], {
    env: envFor(server),
  });
  assert.equal(code, 5);
  assert.ok(isOneLineError(err), err);
  assert.match(err, /^alf: Cannot open the KV file .*missing\/tokens\.kv: /);
  assert.equal(server.tokenRequests.length, 0);
});

Deno.test({
  name: "alf --login --kv logs in once, then renews with the refresh token, without the browser",
  ignore: Deno.build.os !== "linux",
  async fn() {
    await using server = await startAuthServer();
    await using browser = await fakeXdgOpen();
    await using dir = await tempDir();
    const env = {
      PATH: browser.path,
      ...envFor(server, { ALF_CLIENT_SECRET: "", ALF_KV: `${dir.path}/tokens.kv` }),
    };
    const args = ["request", server.resourceUrl, "--login", "--login-ports", "0"];
    assert.equal((await alf(args, { env })).code, 0);
    assert.equal((await alf(args, { env })).code, 0);
    server.revoke(); // the access token; its refresh token still works
    const renewed = await alf(args, { env });
    assert.equal(renewed.code, 0, renewed.err);
    assert.equal((await browser.opened()).length, 1);
    assert.deepEqual(server.tokenRequests.map((r) => r.form.get("grant_type")), [
      "authorization_code",
      "refresh_token",
    ]);
  },
});
