import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { startAuthServer } from "../../testing.ts";
import { fakeXdgOpen } from "./_fake_xdg_open.ts";
import { alf, CREDENTIALS, envFor, isOneLineError, SECRET } from "./_run.ts";
import { connectRedis, redisSkipReason, startRedisServer } from "../storage/_redis_server.ts";

/** A temporary folder for KV files, removed at the end of the test. */
async function tempDir(): Promise<{ path: string; [Symbol.asyncDispose](): Promise<void> }> {
  const path = await Deno.makeTempDir({ prefix: "alf-kv-test-" });
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

/** The --login tests run a stand-in xdg-open: a shell script. */
const linuxOnly = { ignore: Deno.build.os !== "linux" };

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
  assert.deepEqual([...server.tokenRequests[0]?.form ?? []], [
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
  assert.deepEqual([...server.tokenRequests[1]?.form ?? []], [
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
  assert.equal(server.tokenRequests[0]?.form.get("client_secret"), SECRET);
  assert.equal(server.tokenRequests[0]?.headers.get("authorization"), null);

  await using open = await startAuthServer();
  const none = await alf(["token", "--client-auth", "none"], { env: envFor(open) });
  assert.equal(none.code, 0, none.err);
  assert.equal(open.tokenRequests[0]?.form.get("client_id"), "cli-client");
  assert.equal(open.tokenRequests[0]?.form.get("client_secret"), null);
  assert.equal(open.tokenRequests[0]?.headers.get("authorization"), null);

  const basic = await alf(["token"], { env: envFor(server) });
  assert.equal(basic.code, 0, basic.err);
  assert.match(server.tokenRequests[1]?.headers.get("authorization") ?? "", /^Basic /);
});

Deno.test("alf exits 2 for malformed configuration, without contacting anything", async () => {
  await using server = await startAuthServer(CREDENTIALS);
  const cases: [string[], Record<string, string>, RegExp][] = [
    [
      ["--client-auth", "client_secret_jvt"],
      {},
      /must be one of client_secret_basic, client_secret_post, client_secret_jwt, none/,
    ],
    [["--token-param", "=x"], {}, /--token-param must be NAME=VALUE/],
    [["--token-param", "scope=x"], {}, /--token-param cannot set "scope"/],
    [
      [],
      { ALF_TOKEN_ENDPOINT: "not a url" },
      /--token-endpoint \(ALF_TOKEN_ENDPOINT\) is not a valid URL/,
    ],
    [[], { ALF_TOKEN_ENDPOINT: "http://auth.example.com/token" }, /must use https:/],
    [
      [],
      { ALF_CLIENT_AUTH: "client_secret_post", ALF_CLIENT_SECRET: "" },
      /needs a --client-secret \(ALF_CLIENT_SECRET\)/,
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
    assert.equal(server.tokenRequests[0]?.form.get("scope"), "read write");
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
  assert.equal(server.resourceRequests[0]?.token, first.out.trim());
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

Deno.test("alf --kv creates the KV file readable and writable by its owner only", async () => {
  await using server = await startAuthServer(CREDENTIALS);
  await using dir = await tempDir();
  const kv = `${dir.path}/tokens.kv`;
  const { code, err } = await alf(["token", "--kv", kv], { env: envFor(server) });
  assert.equal(code, 0, err);
  assert.equal((await Deno.stat(kv)).mode! & 0o777, 0o600);
  // SQLite's -wal and -shm files, while they exist, take the database file's mode.
  for await (const entry of Deno.readDir(dir.path)) {
    assert.equal((await Deno.stat(`${dir.path}/${entry.name}`)).mode! & 0o777, 0o600, entry.name);
  }
});

Deno.test("alf --kv uses an existing KV file as it is", async () => {
  await using server = await startAuthServer(CREDENTIALS);
  await using dir = await tempDir();
  const path = `${dir.path}/tokens.kv`;
  const kv = await Deno.openKv(path); // made by Deno itself, e.g. by an earlier version of alf
  await kv.set(["app", "setting"], "kept");
  kv.close();
  await Deno.chmod(path, 0o640);
  const first = await alf(["token", "--kv", path], { env: envFor(server) });
  const second = await alf(["token", "--kv", path], { env: envFor(server) });
  assert.equal(first.code, 0, first.err);
  assert.equal(second.out, first.out);
  assert.equal(server.tokenRequests.length, 1);
  assert.equal((await Deno.stat(path)).mode! & 0o777, 0o640); // an existing file's mode is its owner's
  const reopened = await Deno.openKv(path);
  assert.equal((await reopened.get(["app", "setting"])).value, "kept");
  reopened.close();
});

Deno.test("alf --kv exits 5 for another program's SQLite database and leaves it unchanged", async () => {
  await using server = await startAuthServer(CREDENTIALS);
  await using dir = await tempDir();
  const path = `${dir.path}/app.db`;
  const db = new DatabaseSync(path);
  db.exec("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)");
  db.exec("INSERT INTO notes (text) VALUES ('keep me')");
  db.close();
  const before = await Deno.readFile(path);
  const { code, out, err } = await alf(["token", "--kv", path], { env: envFor(server) });
  assert.equal(code, 5);
  assert.equal(out, "");
  assert.ok(isOneLineError(err), err);
  assert.equal(
    err,
    `alf: Cannot open the KV file ${path}: it is another program's SQLite database, not a Deno KV file; choose another path\n`,
  );
  assert.deepEqual(await Deno.readFile(path), before);
  const after = new DatabaseSync(path, { readOnly: true });
  const tables = after.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all();
  const notes = after.prepare("SELECT text FROM notes").all();
  after.close();
  assert.deepEqual(tables.map((row) => row.name), ["notes"]);
  assert.deepEqual(notes.map((row) => row.text), ["keep me"]);
  assert.deepEqual([...Deno.readDirSync(dir.path)].map((entry) => entry.name), ["app.db"]);
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
    const [address] = opened;
    assert(address !== undefined);
    const authorize = new URL(address);
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
    const [address] = await browser.opened();
    assert(address !== undefined);
    assert.equal(new URL(address).pathname, "/authorize");
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
    assert.match(lines[0] ?? "", /access_denied/);
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

// --- alf --redis: tokens in a real redis-server, started per test ---------------

/** The Redis tests are skipped, with a printed reason, when no redis-server exists (not in CI). */
const withRedis = { ignore: redisSkipReason !== undefined };

Deno.test({
  name: "alf --redis keeps the token in Redis: runs print one token, with one token request",
  ...withRedis,
  async fn() {
    await using server = await startAuthServer(CREDENTIALS);
    await using redis = await startRedisServer();
    const first = await alf(["token", "--redis", redis.url], { env: envFor(server) });
    const second = await alf(["token", "--redis", redis.url], { env: envFor(server) });
    const third = await alf(["request", server.resourceUrl], {
      env: envFor(server, { ALF_REDIS: redis.url }),
    });
    for (const run of [first, second, third]) assert.equal(run.code, 0, run.err);
    assert.equal(first.err + second.err + third.err, "", "no warning");
    assert.equal(first.out, `${server.issuedTokens[0]}\n`);
    assert.equal(second.out, first.out);
    assert.equal(server.tokenRequests.length, 1);
    assert.equal(server.resourceRequests[0]?.token, server.issuedTokens[0]);
    await using check = await connectRedis("node-redis", redis.url);
    const keys = await check.send("KEYS", "*") as string[];
    assert.deepEqual(keys.map((key) => key.replace(/\{[0-9a-f]{64}\}/, "{hash}")), [
      "@alf/client:{hash}:token",
    ]);
    assert.ok(!keys[0]?.includes("cli-client"), "the key shows no client id");
  },
});

Deno.test({
  name: "alf --redis makes one token request for several processes at once",
  ...withRedis,
  async fn() {
    await using server = await startAuthServer(CREDENTIALS);
    server.tokenDelay = 300; // the others start while the first one waits for its token
    await using redis = await startRedisServer();
    const env = envFor(server, { ALF_REDIS: redis.url });
    const runs = await Promise.all(Array.from({ length: 4 }, () => alf(["token"], { env })));
    for (const run of runs) assert.equal(run.code, 0, run.err);
    assert.equal(server.tokenRequests.length, 1);
    assert.deepEqual(runs.map((run) => run.out), runs.map(() => `${server.issuedTokens[0]}\n`));
  },
});

Deno.test("alf --redis exits 2 for a malformed URL, without repeating it or contacting anything", async () => {
  await using server = await startAuthServer(CREDENTIALS);
  const cases: [RunArgs, RegExp][] = [
    [{ args: ["--redis", "127.0.0.1:6379"] }, /the Redis URL is not a URL/],
    [{ args: ["--redis", "redis://:pw-db-7@127.0.0.1/tokens"] }, /must be a database number/],
    [{ env: { ALF_REDIS: "http://:pw-env-7@127.0.0.1" } }, /must start with redis:\/\//],
  ];
  for (const [{ args = [], env = {} }, message] of cases) {
    const { code, out, err } = await alf(["token", ...args], { env: envFor(server, env) });
    assert.equal(code, 2, err);
    assert.equal(out, "");
    assert.ok(isOneLineError(err), err);
    assert.match(err, /^alf: Cannot configure the client: the Redis URL /);
    assert.match(err, message);
    assert.ok(!err.includes("pw-"), err);
  }
  assert.equal(server.tokenRequests.length, 0);
});

/** Arguments and variables of one `alf` run. */
interface RunArgs {
  args?: string[];
  env?: Record<string, string>;
}

Deno.test("alf exits 2 when both --kv and --redis (or their variables) are set", async () => {
  await using server = await startAuthServer(CREDENTIALS);
  await using dir = await tempDir();
  const kv = `${dir.path}/tokens.kv`;
  const redis = "redis://127.0.0.1:6379";
  const cases: RunArgs[] = [
    { args: ["--kv", kv, "--redis", redis] },
    { args: ["--redis", redis], env: { ALF_KV: kv } },
    { args: ["--kv", kv], env: { ALF_REDIS: redis } },
    { env: { ALF_KV: kv, ALF_REDIS: redis } },
  ];
  for (const { args = [], env = {} } of cases) {
    const { code, out, err } = await alf(["token", ...args], { env: envFor(server, env) });
    assert.equal(code, 2, err);
    assert.equal(out, "");
    assert.equal(
      err,
      "alf: Cannot configure the client: --kv (ALF_KV) and --redis (ALF_REDIS) are both set; " +
        "choose one storage\n",
    );
  }
  assert.equal(server.tokenRequests.length, 0);
  assert.deepEqual([...Deno.readDirSync(dir.path)], [], "no KV file was created");
});

Deno.test({
  name:
    "alf --redis prints the token while Redis is down, with a warning, and uses it once it is back",
  ...withRedis,
  async fn() {
    await using server = await startAuthServer(CREDENTIALS);
    await using redis = await startRedisServer(["--requirepass", "pw-redis-7"]);
    const env = envFor(server, {
      ALF_REDIS: `redis://:pw-redis-7@127.0.0.1:${redis.port}`,
    });
    await redis.stop();
    const down = await alf(["token"], { env });
    assert.equal(down.code, 0, down.err);
    assert.equal(down.out, `${server.issuedTokens[0]}\n`);
    // One warning for the outage (one storage error event per outage), in one line.
    assert.match(
      down.err,
      new RegExp(
        "^alf: warning: the token storage failed; going on without it: " +
          `Cannot connect to Redis at 127.0.0.1:${redis.port}: [^\\n]+\\n$`,
      ),
    );
    assert.ok(!down.err.includes("pw-redis"), down.err);
    await redis.start(); // empty: persistence is off
    const back = await alf(["token"], { env });
    const again = await alf(["token"], { env });
    assert.equal(back.code, 0, back.err);
    assert.equal(back.err + again.err, "", "no warning once Redis is back");
    assert.equal(again.out, back.out);
    assert.equal(server.tokenRequests.length, 2, "one while Redis was down, one stored in it");
  },
});

Deno.test("alf --kv exits 5 for another program's SQLite database with no table yet, by its version or application id", async () => {
  await using server = await startAuthServer(CREDENTIALS);
  await using dir = await tempDir();
  // Deno KV leaves both at 0; a program that set one owns the file.
  for (const pragma of ["user_version = 7", "application_id = 1347175248"]) {
    const path = `${dir.path}/app-${pragma.split(" ")[0]}.db`;
    const db = new DatabaseSync(path);
    db.exec(`PRAGMA ${pragma}; VACUUM`);
    db.close();
    const before = await Deno.readFile(path);
    const { code, out, err } = await alf(["token", "--kv", path], { env: envFor(server) });
    assert.equal(code, 5, pragma);
    assert.equal(out, "");
    assert.equal(
      err,
      `alf: Cannot open the KV file ${path}: it is another program's SQLite database, not a Deno KV file; choose another path\n`,
    );
    assert.deepEqual(await Deno.readFile(path), before, "unchanged");
    const after = new DatabaseSync(path, { readOnly: true });
    const tables = after.prepare("SELECT name FROM sqlite_master").all();
    after.close();
    assert.deepEqual(tables, [], "no KV table added");
  }
  assert.deepEqual([...Deno.readDirSync(dir.path)].map((entry) => entry.name).sort(), [
    "app-application_id.db",
    "app-user_version.db",
  ]);
  assert.equal(server.tokenRequests.length, 0);
});

Deno.test({
  name:
    "alf request URL with no configuration: the API's metadata, registration, login, and with --kv no second registration",
  ...linuxOnly,
  async fn() {
    await using server = await startAuthServer({
      protectedResource: { scopesSupported: ["read"] },
      registration: true,
    });
    await using browser = await fakeXdgOpen();
    await using dir = await tempDir();
    const env = { PATH: browser.path, ALF_KV: `${dir.path}/tokens.kv` };
    const args = ["request", `${server.resourceUrl}?page=2`, "--login-ports", "0"];
    const first = await alf(args, { env, clearEnv: false });
    assert.equal(first.code, 0, first.err);
    assert.equal(JSON.parse(first.out).path, "/resource");
    assert.equal(server.registrations.length, 1);
    const registered = JSON.parse(new TextDecoder().decode(server.registrations[0]!.body));
    assert.equal(registered.client_name, "alf (command line)");
    assert.equal(registered.token_endpoint_auth_method, "none");
    assert.equal(
      server.tokenRequests[0]?.form.get("resource"),
      server.resourceUrl,
      "the API, without the query",
    );
    const second = await alf(args, { env });
    assert.equal(second.code, 0, second.err);
    assert.equal(server.registrations.length, 1, "the registration is kept in the KV file");
    assert.equal((await browser.opened()).length, 1, "and the login's token");
  },
});

Deno.test("alf with neither a token endpoint nor a URL says what to pass", async () => {
  const { code, err } = await alf(["token"]);
  assert.equal(code, 2);
  assert.match(err, /no token endpoint; pass --token-endpoint .*or --resource with the API's URL/);
  assert(isOneLineError(err));
});
