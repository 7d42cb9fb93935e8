import assert from "node:assert/strict";
import { devicePrompt } from "../../src/cli/_device_login.ts";
import { type AuthServer, startAuthServer } from "../../testing.ts";
import { alf, CREDENTIALS, envFor, isOneLineError, spawnAlf } from "./_run.ts";

const DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code";
const ESC = "\x1b";
/** The line of the prompt with the address that has the code in it. */
const COMPLETE =
  // deno-lint-ignore no-control-regex
  /Or open this address, which has the code in it: (?:\x1b\]8;;)?(\S+?)(?:\x1b|\r?\n)/;

/** The environment of a --device run against the kit, which polls without waiting. */
function deviceEnv(server: AuthServer, extra: Record<string, string> = {}) {
  return envFor(server, {
    ALF_DEVICE_AUTHORIZATION_ENDPOINT: server.url("/device_authorization"),
    ...extra,
  });
}

/**
 * Runs the command as a user at another device would see it: reads the
 * prompt as it is printed, and opens the address that has the code in it.
 *
 * @param output Which stream has the prompt: stderr, or stdout for `script`'s terminal.
 */
async function runApproving(
  child: Deno.ChildProcess,
  output: "stderr" | "stdout" = "stderr",
): Promise<{ code: number; out: string; err: string; approved: string[] }> {
  const approved: string[] = [];
  const read = async (stream: ReadableStream<Uint8Array>, approve: boolean) => {
    let text = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      text += chunk;
      const address = COMPLETE.exec(text)?.[1];
      if (approve && address !== undefined && approved.length === 0) {
        approved.push(address);
        await (await fetch(address)).body?.cancel();
      }
    }
    return text;
  };
  const [out, err, status] = await Promise.all([
    read(child.stdout, output === "stdout"),
    read(child.stderr, output === "stderr"),
    child.status,
  ]);
  return { code: status.code, out, err, approved };
}

function devicePolls(server: AuthServer): number {
  return server.tokenRequests.filter((r) => r.form.get("grant_type") === DEVICE_CODE).length;
}

Deno.test("alf token --device prints the code and the address on stderr, the token on stdout", async () => {
  await using server = await startAuthServer({
    ...CREDENTIALS,
    deviceAuthorization: { interval: 0 },
  });
  const { code, out, err, approved } = await runApproving(
    spawnAlf(["token", "--device"], deviceEnv(server)),
  );
  assert.equal(code, 0, err);
  assert.equal(out, `${server.issuedTokens[0]}\n`);
  const device = server.url("/device");
  assert.equal(
    err,
    `To log in, open ${device} and enter the code USER-0001 (it expires in 10 minutes)\n` +
      `Or open this address, which has the code in it: ${device}?user_code=USER-0001\n`,
  );
  assert.ok(!err.includes(ESC), "no terminal link: stderr is a pipe");
  assert.deepEqual(approved, [`${device}?user_code=USER-0001`]);
  // The kit answers a client that does not authenticate with 401: this one did.
  assert.equal(server.tokenRequests.at(-1)?.clientAuthMethod, "client_secret_basic");
});

Deno.test({
  name: "alf --device prints the complete address as a terminal link when stderr is a terminal",
  ignore: Deno.build.os !== "linux",
  async fn() {
    await using server = await startAuthServer({
      ...CREDENTIALS,
      deviceAuthorization: { interval: 0 },
    });
    // `script` runs the command in a pseudo-terminal, and copies what it shows to its stdout.
    const child = spawnAlf(["token", "--device"], deviceEnv(server), (deno) => ({
      command: "script",
      args: ["-q", "-e", "-c", deno.join(" "), "/dev/null"],
    }));
    const { code, out, approved } = await runApproving(child, "stdout");
    assert.equal(code, 0, out);
    const complete = `${server.url("/device")}?user_code=USER-0001`;
    assert.deepEqual(approved, [complete]);
    assert.ok(
      out.includes(`${ESC}]8;;${complete}${ESC}\\${complete}${ESC}]8;;${ESC}\\`),
      JSON.stringify(out),
    );
    assert.ok(out.includes(server.issuedTokens[0]!));
  },
});

Deno.test("alf request -s --device --kv prompts once, even silent, then renews with the refresh token", async () => {
  await using server = await startAuthServer({
    ...CREDENTIALS,
    deviceAuthorization: { interval: 0 },
  });
  const path = await Deno.makeTempFile({ prefix: "alf-device-", suffix: ".kv" });
  await Deno.remove(path); // the command creates it, readable by its owner only
  try {
    const env = deviceEnv(server, { ALF_KV: path });
    const args = ["request", server.resourceUrl, "--device"];
    const first = await runApproving(spawnAlf([...args, "-s"], env));
    assert.equal(first.code, 0, first.err);
    assert.match(first.err, /enter the code USER-0001/);
    server.revoke(); // the access token; its refresh token still works
    const renewed = await alf(args, { env });
    assert.equal(renewed.code, 0, renewed.err);
    assert.equal(renewed.err, "", "no second prompt");
    assert.equal(JSON.parse(renewed.out).path, "/resource");
    assert.equal(server.tokenRequests.at(-1)?.form.get("grant_type"), "refresh_token");
    assert.equal(server.issuedRefreshTokens.length, 1);
  } finally {
    await Deno.remove(path).catch(() => {});
  }
});

Deno.test("alf token --device exits 3 with one line when the user denies", async () => {
  await using server = await startAuthServer({
    ...CREDENTIALS,
    deviceAuthorization: { interval: 0, answers: ["authorization_pending", "access_denied"] },
  });
  const { code, out, err } = await alf(["token", "--device"], { env: deviceEnv(server) });
  assert.equal(code, 3);
  assert.equal(out, "");
  const [prompt, link, failure, ...rest] = err.split("\n");
  assert.match(prompt ?? "", /^To log in, open /);
  assert.match(link ?? "", /^Or open this address/);
  assert.ok(isOneLineError(`${failure}\n`), err);
  assert.match(failure ?? "", /^alf: Cannot log in: the user denied the device authorization/);
  assert.deepEqual(rest, [""]);
  assert.equal(devicePolls(server), 2);
});

Deno.test("alf token --device exits 3 with one line when the device authorization endpoint refuses", async () => {
  await using server = await startAuthServer({
    ...CREDENTIALS,
    deviceAuthorization: { interval: 0 },
  });
  const { code, out, err } = await alf(["token", "--device"], {
    env: deviceEnv(server, { ALF_CLIENT_SECRET: "wrong" }),
  });
  assert.equal(code, 3);
  assert.equal(out, "");
  assert.ok(isOneLineError(err), err);
  assert.match(
    err,
    /^alf: Cannot log in: the device authorization endpoint answered 401 \(invalid_client/,
  );
  assert.ok(!err.includes("wrong"), err);
});

Deno.test("alf --device exits 2 for a missing or malformed device login setting", async () => {
  await using server = await startAuthServer(CREDENTIALS);
  const cases: [string[], Record<string, string>, string][] = [
    [
      [],
      {},
      "alf: Cannot configure the client: --device needs the device authorization endpoint; pass --device-authorization-endpoint or set ALF_DEVICE_AUTHORIZATION_ENDPOINT\n",
    ],
    [
      ["--device-authorization-endpoint", "not a url"],
      {},
      "alf: Cannot configure the client: --device-authorization-endpoint (ALF_DEVICE_AUTHORIZATION_ENDPOINT) is not a valid URL\n",
    ],
    [
      ["--login"],
      { ALF_DEVICE_AUTHORIZATION_ENDPOINT: server.url("/device_authorization") },
      "alf: Cannot configure the client: --login and --device are two ways to log in; choose one\n",
    ],
  ];
  for (const [args, extra, message] of cases) {
    const { code, err } = await alf(["token", "--device", ...args], {
      env: envFor(server, extra),
    });
    assert.equal(code, 2, err);
    assert.equal(err, message);
  }
  assert.equal(server.tokenRequests.length, 0);
});

Deno.test("devicePrompt() links the complete address only on a terminal", () => {
  const code = {
    userCode: "WDJB-MJHT",
    verificationUri: "https://example.com/device",
    verificationUriComplete: "https://example.com/device?user_code=WDJB-MJHT",
    expiresIn: 1800,
  };
  const plain = "To log in, open https://example.com/device and enter the code WDJB-MJHT " +
    "(it expires in 30 minutes)\n" +
    "Or open this address, which has the code in it: https://example.com/device?user_code=WDJB-MJHT\n";
  assert.equal(devicePrompt(code, false), plain);
  const complete = code.verificationUriComplete;
  assert.equal(
    devicePrompt(code, true),
    plain.replace(complete, `${ESC}]8;;${complete}${ESC}\\${complete}${ESC}]8;;${ESC}\\`),
  );
});

Deno.test("devicePrompt() shows the address alone without a complete one, and short lifetimes in seconds", () => {
  const prompt = devicePrompt({
    userCode: "1234",
    verificationUri: "https://example.com/device",
    expiresIn: 45,
  }, true);
  assert.equal(
    prompt,
    "To log in, open https://example.com/device and enter the code 1234 (it expires in 45 seconds)\n",
  );
});

Deno.test("devicePrompt() keeps a hostile server's escape sequences off the terminal", () => {
  const prompt = devicePrompt({
    userCode: "AB\x1b]8;;https://evil.example\x07CD\u009b2J",
    verificationUri: "https://example.com/\x1b[2Jdevice",
    verificationUriComplete: "javascript:\x1b]0;title\x07alert(1)",
    expiresIn: 60,
  }, true);
  // deno-lint-ignore no-control-regex
  assert.ok(!/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/.test(prompt), JSON.stringify(prompt));
  assert.match(prompt, /enter the code AB\]8;;https:\/\/evil\.exampleCD2J /);
  assert.match(prompt, /open https:\/\/example\.com\/%1B\[2Jdevice /);
  // Not an http(s) address: printed, never made a link.
  assert.match(prompt, /which has the code in it: javascript:/);
});

Deno.test("devicePrompt() strips format characters and line separators from what the server sent", () => {
  const prompt = devicePrompt({
    // A bidi override, its pop, a zero-width space, an isolate, line and paragraph separators.
    userCode: "\u202eABCD-1234\u202c \u200b\u2066X\u2028Y\u2029Z\ufeff",
    verificationUri: "https://example.com/device",
    expiresIn: 60,
  }, false);
  assert.equal(
    prompt,
    "To log in, open https://example.com/device and enter the code ABCD-1234 XYZ (it expires in 60 seconds)\n",
  );
});

Deno.test("alf token --device refuses an address that is not a web address, and prints none of it", async () => {
  await using server = await startAuthServer({
    ...CREDENTIALS,
    deviceAuthorization: { interval: 0 },
  });
  const hostile: Record<string, Record<string, string>> = {
    js: {
      verification_uri: "javascript:alert(1)",
      verification_uri_complete: "javascript:fetch('//evil')//https://ok",
    },
    notaurl: { verification_uri: "go to\x1b[31m evil.example now \u009b31m" },
    complete: {
      verification_uri: "https://ok.example/activate",
      verification_uri_complete: "data:text/html,<script>alert(1)</script>",
    },
  };
  for (const [name, addresses] of Object.entries(hostile)) {
    server.route(
      "/codes",
      () => Response.json({ device_code: "D", user_code: "UC-1", expires_in: 600, ...addresses }),
    );
    const { code, out, err } = await alf(["token", "--device"], {
      env: deviceEnv(server, { ALF_DEVICE_AUTHORIZATION_ENDPOINT: server.url("/codes") }),
    });
    assert.equal(code, 3, `${name}: ${err}`);
    assert.equal(out, "");
    assert.ok(isOneLineError(err), err);
    assert.match(err, /^alf: Cannot parse the device authorization response: "verification_uri/);
    assert.ok(!/javascript|evil|data:|UC-1/.test(err), `${name}: ${err}`);
  }
  assert.equal(devicePolls(server), 0);
});
