// The debug printer: the `debug` option and the `ALF_DEBUG` variable.

import assert from "node:assert/strict";
import { Client, TokenError } from "../mod.ts";
import { startAuthServer } from "../testing.ts";
import { debugLine, withDebug } from "../src/_debug.ts";
import { fetchText } from "./_helpers.ts";

Deno.test("debugLine() prints a token request as one line", () => {
  const line = debugLine({
    type: "request",
    endpoint: "https://auth.example.com/token",
    grant: "client_credentials",
    status: 200,
    durationMs: 12,
  });
  assert.equal(
    line,
    "alf: token request POST https://auth.example.com/token client_credentials → 200 in 12 ms",
  );
  assert.equal(
    debugLine({
      type: "request",
      endpoint: "https://auth.example.com/token",
      grant: "refresh_token",
      status: undefined,
      durationMs: 3,
      error: "network_error",
    }),
    "alf: token request POST https://auth.example.com/token refresh_token → no response network_error in 3 ms",
  );
  assert.equal(
    debugLine({ type: "replay", status: 200 }),
    "alf: request replayed with a new token after a 401 → 200",
  );
  const error = new TokenError(
    "Cannot reach the token endpoint https://a.example/token: fetch failed",
    {
      code: "network_error",
    },
  );
  assert.equal(
    debugLine({ type: "error", phase: "token", error }),
    "alf: token failed: network_error: Cannot reach the token endpoint https://a.example/token: fetch failed",
  );
});

Deno.test("withDebug() prints every event when debug is true and passes it on", async () => {
  await using server = await startAuthServer({ clientId: "id", clientSecret: "s3cret" });
  const lines: string[] = [];
  const seen: string[] = [];
  const onEvent = withDebug((event) => seen.push(event.type), true, (line) => lines.push(line));
  await using client = new Client({
    tokenEndpoint: server.tokenEndpoint,
    clientId: "id",
    clientSecret: "s3cret",
    onEvent,
  });
  await fetchText(client.fetch, server.resourceUrl);
  assert.deepEqual(seen, ["request", "token"]);
  assert.equal(lines.length, 2);
  assert.match(
    lines[0]!,
    new RegExp(
      `^alf: token request POST ${server.tokenEndpoint} client_credentials → 200 in \\d+ ms$`,
    ),
  );
  assert.match(lines[1]!, /^alf: token obtained \(missing\), expires \d{4}-/);
  const text = lines.join("\n");
  assert.ok(!text.includes("s3cret") && !text.includes(server.issuedTokens[0]!));
});

Deno.test("withDebug() returns the listener as it is when debug is false", () => {
  const listener = () => {};
  assert.equal(withDebug(listener, false, () => assert.fail("printed")), listener);
  assert.throws(() => withDebug(listener, "yes"), {
    name: "TypeError",
    message: 'Cannot create the client: "debug" must be a boolean',
  });
});

async function runWithAlfDebug(allowEnv: boolean): Promise<string> {
  const script = `
    import { withDebug } from ${JSON.stringify(new URL("../src/_debug.ts", import.meta.url).href)};
    withDebug(undefined, undefined)?.({ type: "replay", status: 204 });
  `;
  // `deno eval` grants every permission: a script file is run as a user would.
  const file = await Deno.makeTempFile({ suffix: ".ts" });
  await Deno.writeTextFile(file, script);
  const permission = allowEnv ? ["--allow-env=ALF_DEBUG"] : [];
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", "--allow-read", ...permission, file],
    env: { ALF_DEBUG: "1", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output().finally(() => Deno.remove(file));
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  return new TextDecoder().decode(output.stderr);
}

Deno.test("withDebug() prints with ALF_DEBUG set only when its env permission is granted", async () => {
  assert.equal(
    await runWithAlfDebug(true),
    "alf: request replayed with a new token after a 401 → 204\n",
  );
  assert.equal(await runWithAlfDebug(false), "");
});
