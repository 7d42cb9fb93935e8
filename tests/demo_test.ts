import assert from "node:assert/strict";
import denoJson from "../deno.json" with { type: "json" };

Deno.test("examples/demo.ts runs to completion as deno task demo and prints its counts", async () => {
  // The task's own command line, so that its permissions are checked too.
  const args = denoJson.tasks.demo.split(" ").slice(1);
  assert.deepEqual(args.slice(0, 1), ["run"]);
  const probe = await Deno.makeTempDir();
  const tmp = probe.slice(0, probe.lastIndexOf("/"));
  await Deno.remove(probe);
  const leftovers = async () =>
    (await Array.fromAsync(Deno.readDir(tmp))).filter((e) => e.name.startsWith("alf-demo-"))
      .map((e) => e.name);
  const before = await leftovers();
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: new URL("..", import.meta.url).pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const out = new TextDecoder().decode(stdout);
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  const counts = [
    /responses\s+20 × 200\n\s+token requests\s+1 \(one, shared by all 20\)/,
    /token requests\s+1 \(the cached token was reused\)/,
    /token requests\s+2 \(renewed early, in the background\)/,
    /replay\s+13 bytes, same body, new token\n\s+token requests\s+3 \(one renewal after the 401\)/,
    /response\s+503 \{"error":"temporarily_unavailable"\}\n\s+resource calls\s+1 /,
    /tokens obtained, and why\s+missing, expiring, rejected, missing/,
    /responses\s+20 × 200, half from each client\n\s+token requests\s+1 \(one, shared through KV\)/,
    /after a revocation\s+2 × 200, both replayed\n\s+token requests\s+2 \(one renewal for both/,
  ];
  for (const count of counts) assert.match(out, count);
  assert.match(out, /Done\.\n$/);
  assert.deepEqual(await leftovers(), before); // the KV file's folder is removed
});

Deno.test("deno task demo and the CLI fetch nothing: an empty DENO_DIR, no package downloaded", async () => {
  // What a new user runs first, on a machine with no cache: the library and the CLI have no
  // dependencies, and the tests' packages are not in the import map, so nothing is installed.
  const denoDir = await Deno.makeTempDir({ prefix: "alf-empty-deno-dir-" });
  const cwd = new URL("..", import.meta.url).pathname;
  const run = async (args: string[]) => {
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args,
      cwd,
      env: { DENO_DIR: denoDir, NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    return { code, out: new TextDecoder().decode(stdout), err: new TextDecoder().decode(stderr) };
  };
  try {
    const demo = await run(["task", "demo"]);
    assert.equal(demo.code, 0, demo.err);
    assert.doesNotMatch(demo.err, /Download/);
    assert.match(demo.out, /Done\.\n$/);
    // --cached-only fails on anything that would have to be fetched.
    const cli = await run(["run", "--cached-only", "cli.ts", "--help"]);
    assert.equal(cli.code, 0, cli.err);
    assert.match(cli.out, /alf request/);
    assert.doesNotMatch(cli.err, /Download/);
  } finally {
    await Deno.remove(denoDir, { recursive: true });
  }
});
