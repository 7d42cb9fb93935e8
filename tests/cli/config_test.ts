import assert from "node:assert/strict";
import { startAuthServer } from "../../testing.ts";
import { alf, CREDENTIALS, envFor, isOneLineError, SECRET } from "./_run.ts";

Deno.test("alf reads its configuration from flags, which win over variables", async () => {
  await using server = await startAuthServer(CREDENTIALS);
  const { code, err } = await alf([
    "token",
    "--token-endpoint",
    server.tokenEndpoint,
    "--client-id=cli-client",
    "--client-secret",
    SECRET,
  ], {
    env: {
      ALF_TOKEN_ENDPOINT: "http://127.0.0.1:9/elsewhere",
      ALF_CLIENT_ID: "another-client",
      ALF_CLIENT_SECRET: "another-secret",
    },
  });
  assert.equal(code, 0, err);
  assert.equal(server.tokenRequests.length, 1);
});

Deno.test("alf sends the scope, audience and token parameters of flags and variables", async () => {
  await using server = await startAuthServer(CREDENTIALS);
  const fromEnv = await alf(["token"], {
    env: envFor(server, { ALF_SCOPE: "read write", ALF_AUDIENCE: "https://api.example.com" }),
  });
  assert.equal(fromEnv.code, 0, fromEnv.err);
  assert.deepEqual([...server.tokenRequests[0].form], [
    ["grant_type", "client_credentials"],
    ["audience", "https://api.example.com"],
    ["scope", "read write"],
  ]);

  const fromFlags = await alf([
    "token",
    "--scope",
    "read",
    "--scope",
    "write admin",
    "--audience",
    "api",
    "--token-param",
    "resource=https://a.example.com",
    "--token-param",
    "resource=https://b.example.com",
  ], { env: envFor(server, { ALF_SCOPE: "ignored", ALF_AUDIENCE: "ignored" }) });
  assert.equal(fromFlags.code, 0, fromFlags.err);
  assert.deepEqual([...server.tokenRequests[1].form], [
    ["grant_type", "client_credentials"],
    ["audience", "api"],
    ["resource", "https://a.example.com"],
    ["resource", "https://b.example.com"],
    ["scope", "read write admin"],
  ]);
});

Deno.test("alf authenticates as ALF_CLIENT_AUTH or --client-auth says", async () => {
  await using server = await startAuthServer(CREDENTIALS);
  const post = await alf(["token"], {
    env: envFor(server, { ALF_CLIENT_AUTH: "client_secret_post" }),
  });
  assert.equal(post.code, 0, post.err);
  assert.equal(server.tokenRequests[0].form.get("client_secret"), SECRET);
  assert.equal(server.tokenRequests[0].headers.get("authorization"), null);

  await using open = await startAuthServer();
  const none = await alf(["token", "--client-auth", "none"], { env: envFor(open) });
  assert.equal(none.code, 0, none.err);
  assert.equal(open.tokenRequests[0].form.get("client_id"), "cli-client");
  assert.equal(open.tokenRequests[0].form.get("client_secret"), null);
  assert.equal(open.tokenRequests[0].headers.get("authorization"), null);

  const basic = await alf(["token"], { env: envFor(server) });
  assert.equal(basic.code, 0, basic.err);
  assert.match(server.tokenRequests[1].headers.get("authorization")!, /^Basic /);
});

Deno.test("alf exits 2 for malformed configuration, without contacting anything", async () => {
  await using server = await startAuthServer(CREDENTIALS);
  const cases: [string[], Record<string, string>, RegExp][] = [
    [
      ["--client-auth", "private_key_jwt"],
      {},
      /must be one of client_secret_basic, client_secret_post, none/,
    ],
    [["--token-param", "=x"], {}, /--token-param must be NAME=VALUE/],
    [["--token-param", "scope=x"], {}, /"tokenParams" cannot set "scope"/],
    [[], { ALF_TOKEN_ENDPOINT: "not a url" }, /"tokenEndpoint" is not a valid URL/],
    [[], { ALF_TOKEN_ENDPOINT: "http://auth.example.com/token" }, /must use https:/],
    [
      [],
      { ALF_CLIENT_AUTH: "client_secret_post", ALF_CLIENT_SECRET: "" },
      /needs a "clientSecret"/,
    ],
  ];
  for (const [args, env, message] of cases) {
    const { code, err } = await alf(["token", ...args], { env: envFor(server, env) });
    assert.equal(code, 2, args.join(" "));
    assert.ok(isOneLineError(err), err);
    assert.match(err, /^alf: Cannot configure the client: /);
    assert.match(err, message);
  }
  assert.equal(server.tokenRequests.length, 0);
});

Deno.test("alf reads a file given to deno run --env-file", async () => {
  await using server = await startAuthServer(CREDENTIALS);
  const dir = await Deno.makeTempDir();
  try {
    const envFile = `${dir}/.env`;
    await Deno.writeTextFile(
      envFile,
      [
        "# alf settings",
        `ALF_TOKEN_ENDPOINT=${server.tokenEndpoint}`,
        "ALF_CLIENT_ID=cli-client",
        `ALF_CLIENT_SECRET="${SECRET}"`,
        "ALF_SCOPE='read write'",
        "",
      ].join("\n"),
    );
    const { code, out, err } = await alf(["request", server.resourceUrl], {
      denoFlags: ["--allow-net=127.0.0.1", "--allow-env", `--env-file=${envFile}`],
      clearEnv: true, // variables already set would win over the file
    });
    assert.equal(code, 0, err);
    assert.equal(JSON.parse(out).path, "/resource");
    assert.equal(server.tokenRequests[0].form.get("scope"), "read write");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("alf never prints the client secret, not even in errors about it", async () => {
  await using server = await startAuthServer({ ...CREDENTIALS, clientSecret: "another" });
  const runs = [
    await alf(["token", "--json"], { env: envFor(server) }),
    await alf(["token", "--client-secret", SECRET, "--client-secret", SECRET], {
      env: envFor(server),
    }),
    await alf(["token", `--client-secrets=${SECRET}`], { env: envFor(server) }),
    await alf(["token", "--client-secret"], { env: envFor(server) }),
    await alf(["request", SECRET], { env: envFor(server) }),
    await alf([SECRET], { env: envFor(server) }),
    await alf(["token", "--help"], { env: envFor(server) }),
    await alf(["--help"], { env: envFor(server) }),
  ];
  for (const { code, out, err } of runs) {
    assert.ok(!out.includes(SECRET) && !err.includes(SECRET), `${code}: ${out}${err}`);
  }
  assert.deepEqual(runs.map((run) => run.code), [3, 2, 2, 2, 2, 2, 0, 0]);
});

Deno.test("alf exits 1 with one line when Deno denies a permission", async () => {
  await using server = await startAuthServer(CREDENTIALS);
  const { code, err } = await alf(["token"], { denoFlags: [], env: envFor(server) });
  assert.equal(code, 1);
  assert.ok(isOneLineError(err), err);
  assert.match(err, /^alf: Cannot run the command: .*env/);
  assert.equal(server.tokenRequests.length, 0);
});
