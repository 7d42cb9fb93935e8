import assert from "node:assert/strict";
import { EXIT_CODE, main } from "../../cli.ts";
import denoJson from "../../deno.json" with { type: "json" };
import { startAuthServer } from "../../testing.ts";
import { alf, CREDENTIALS, envFor, isOneLineError } from "./_run.ts";

/** A stream that collects what is written to it, as text. */
function sink(): { stream: WritableStream<Uint8Array>; text(): string } {
  const chunks: Uint8Array[] = [];
  const decoder = new TextDecoder();
  return {
    stream: new WritableStream({ write: (chunk) => void chunks.push(chunk) }),
    text: () => chunks.map((chunk) => decoder.decode(chunk, { stream: true })).join(""),
  };
}

Deno.test("alf --help lists the commands, the configuration and the exit codes", async () => {
  const { code, out, err } = await alf(["--help"]);
  assert.equal(code, 0, err);
  for (
    const text of ["alf request", "alf token", "ALF_TOKEN_ENDPOINT", "--kv PATH", "22 HTTP", "28"]
  ) {
    assert.ok(out.includes(text), text);
  }
  assert.equal((await alf(["-h"])).out, out);
  assert.equal((await alf(["help"])).out, out);
});

Deno.test("alf COMMAND --help and alf help COMMAND print the command's help", async () => {
  for (const command of ["request", "token"]) {
    const { code, out, err } = await alf([command, "--help"]);
    assert.equal(code, 0, err);
    assert.match(out, new RegExp(`^alf ${command}: `));
    assert.match(out, /ALF_CLIENT_SECRET/);
    assert.equal((await alf(["help", command])).out, out);
    assert.equal((await alf([command, "-h"])).out, out);
  }
  assert.match((await alf(["request", "--help"])).out, /-d, --data DATA/);
  assert.match((await alf(["token", "--help"])).out, /--json/);
});

Deno.test("alf without arguments prints the help to stderr and exits 2", async () => {
  const { code, out, err } = await alf([]);
  assert.equal(code, 2);
  assert.equal(out, "");
  assert.match(err, /^alf: call an OAuth 2 protected API/);
});

Deno.test("alf --version prints the package version", async () => {
  const { code, out } = await alf(["--version"]);
  assert.equal(code, 0);
  assert.equal(out, `alf ${denoJson.version}\n`);
});

Deno.test("alf exits 2 for an unknown command or an option before the command", async () => {
  for (const args of [["fetch", "http://127.0.0.1:9/"], ["--json", "token"], ["help", "nope"]]) {
    const { code, out, err } = await alf(args);
    assert.equal(code, 2, args.join(" "));
    assert.equal(out, "");
    assert.ok(isOneLineError(err), err);
    assert.match(
      err,
      /unknown command; the commands are request, token, logout \(see alf --help\)/,
    );
  }
});

Deno.test("main() runs in-process with the given environment and streams", async () => {
  await using server = await startAuthServer();
  const stdout = sink();
  const stderr = sink();
  const stdin = new Blob(["from stdin"]).stream();
  const code = await main(["request", "-v", server.resourceUrl, "-d", "@-"], {
    env: { ALF_TOKEN_ENDPOINT: server.tokenEndpoint, ALF_CLIENT_ID: "id" },
    stdin,
    stdout: stdout.stream,
    stderr: stderr.stream,
  });
  assert.equal(code, EXIT_CODE.OK);
  assert.deepEqual(JSON.parse(stdout.text()), { method: "POST", path: "/resource", bytes: 10 });
  assert.match(stderr.text(), /^> POST http:\/\/127\.0\.0\.1:\d+\/resource\n/); // -v
});

Deno.test("main() reports a failure on the given stderr and returns its exit code", async () => {
  const stderr = sink();
  const code = await main(["token"], { env: {}, stderr: stderr.stream });
  assert.equal(code, EXIT_CODE.USAGE);
  assert.match(stderr.text(), /^alf: Cannot configure the client: no token endpoint/);
});

Deno.test("alf exits 1 with one line when Deno denies a permission", async () => {
  await using server = await startAuthServer(CREDENTIALS);
  const { code, err } = await alf(["token"], { denoFlags: [], env: envFor(server) });
  assert.equal(code, 1);
  assert.ok(isOneLineError(err), err);
  assert.match(err, /^alf: Cannot run the command: .*env/);
  assert.equal(server.tokenRequests.length, 0);
});

Deno.test("alf exits 1, not 3, when Deno denies the network to the token endpoint", async () => {
  await using server = await startAuthServer(CREDENTIALS);
  const { code, err } = await alf(["token"], {
    denoFlags: ["--allow-env"],
    env: envFor(server),
  });
  assert.equal(code, 1, err);
  assert.ok(isOneLineError(err), err);
  assert.match(
    err,
    /^alf: Cannot reach the token endpoint http:\/\/127\.0\.0\.1:\d+\/token: .*net/,
  );
  assert.equal(server.tokenRequests.length, 0);
});
