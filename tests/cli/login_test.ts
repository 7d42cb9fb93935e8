import assert from "node:assert/strict";
import { startAuthServer } from "../../testing.ts";
import { fakeXdgOpen } from "./_fake_xdg_open.ts";
import { alf, envFor, isOneLineError } from "./_run.ts";

const linuxOnly = { ignore: Deno.build.os !== "linux" };

Deno.test({
  name: "alf --login logs in through the browser with the authorization code grant",
  ...linuxOnly,
  async fn() {
    await using server = await startAuthServer();
    await using browser = await fakeXdgOpen();
    const { code, out, err } = await alf(
      ["request", server.resourceUrl, "--login", "--login-ports", "0", "--scope", "read"],
      { env: { PATH: browser.path, ...envFor(server, { ALF_CLIENT_SECRET: "" }) } },
    );
    assert.equal(code, 0, err);
    assert.equal(JSON.parse(out).path, "/resource");
    const opened = await browser.opened();
    assert.equal(opened.length, 1);
    assert.match(
      err,
      /^To log in, open this address in a browser: http:\/\/127\.0\.0\.1:\d+\/token\/authorize\?/,
    );
    const authorize = new URL(opened[0]);
    assert.equal(authorize.searchParams.get("response_type"), "code");
    assert.equal(authorize.searchParams.get("code_challenge_method"), "S256");
    assert.equal(authorize.searchParams.get("scope"), "read");
    assert.deepEqual(server.tokenRequests.map((r) => r.form.get("grant_type")), [
      "authorization_code",
    ]);
  },
});

Deno.test({
  name: "alf --login sends the browser to ALF_AUTHORIZATION_ENDPOINT",
  ...linuxOnly,
  async fn() {
    await using server = await startAuthServer();
    await using browser = await fakeXdgOpen();
    const { code, err } = await alf(["token", "--login"], {
      env: {
        PATH: browser.path,
        ...envFor(server, {
          ALF_CLIENT_SECRET: "",
          ALF_AUTHORIZATION_ENDPOINT: server.authorizationEndpoint,
          ALF_LOGIN_PORTS: "0-0",
        }),
      },
    });
    assert.equal(code, 0, err);
    assert.equal(new URL((await browser.opened())[0]).pathname, "/authorize");
  },
});

Deno.test({
  name: "alf --login exits 3 with one line when the user refuses",
  ...linuxOnly,
  async fn() {
    await using server = await startAuthServer();
    server.failAuthorizations(1, { errorDescription: "The user said no" });
    await using browser = await fakeXdgOpen();
    const { code, out, err } = await alf(["token", "--login", "--login-ports", "0"], {
      env: { PATH: browser.path, ...envFor(server, { ALF_CLIENT_SECRET: "" }) },
    });
    assert.equal(code, 3);
    assert.equal(out, "");
    const lines = err.split("\n").filter((line) => line.startsWith("alf: "));
    assert.equal(lines.length, 1, err);
    assert.match(lines[0], /access_denied/);
    assert.ok(!/\n\s+at /.test(err), err);
    assert.equal(server.tokenRequests.length, 0);
  },
});

Deno.test("alf --login exits 2 for malformed login settings", async () => {
  await using server = await startAuthServer();
  const cases: [string[], RegExp][] = [
    [["--login-ports", "32000:32009"], /the login ports must be PORT or FROM-TO/],
    [["--login-ports", "32009-32000"], /Cannot configure the client: .*port/i],
    [["--authorization-endpoint", "ftp://127.0.0.1/authorize"], /Cannot configure the client: /],
  ];
  for (const [args, message] of cases) {
    const { code, err } = await alf(["token", "--login", ...args], { env: envFor(server) });
    assert.equal(code, 2, `${args.join(" ")}: ${err}`);
    assert.ok(isOneLineError(err), err);
    assert.match(err, message);
  }
  assert.equal(server.authorizationRequests.length + server.tokenRequests.length, 0);
});
