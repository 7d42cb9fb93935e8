// The fresh-machine run: `deno test` with a PATH that has deno and nothing
// else (no chromium, redis-server or node), as a new user's machine may be.

import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);

/** Test files that need each tool; two need redis-server, to see it said once. */
const FILES = [
  "tests/e2e/browser_login_test.ts",
  "tests/storage/redis_test.ts",
  "tests/cli/_redis_connection_test.ts",
  "tests/node_smoke_test.ts",
];

const SKIP_LINES = [
  "Skipping the tests that need chromium: no chromium on the PATH (install it: apt-get install -y chromium)",
  "Skipping the tests that need redis-server: no redis-server on the PATH (install it: apt-get install -y redis-server)",
  "Skipping the tests that need node: no node on the PATH (install it: apt-get install -y nodejs)",
];

/**
 * Runs `deno test` on `files` with only deno (and `scripts`, name to shell
 * script) on the PATH, the same HOME and DENO_DIR (nothing to download).
 */
async function testWithoutTools(
  { env = {}, files = FILES, scripts = {} }: {
    env?: Record<string, string>;
    files?: string[];
    scripts?: Record<string, string>;
  } = {},
) {
  const bin = await Deno.makeTempDir({ prefix: "alf-bare-path-" });
  try {
    await Deno.symlink(Deno.execPath(), `${bin}/deno`);
    for (const [name, script] of Object.entries(scripts)) {
      await Deno.writeTextFile(`${bin}/${name}`, `#!/bin/sh\n${script}\n`, { mode: 0o755 });
    }
    const kept: Record<string, string> = {};
    for (const name of ["HOME", "DENO_DIR", "XDG_CACHE_HOME"]) {
      const value = Deno.env.get(name);
      if (value !== undefined) kept[name] = value;
    }
    const { code, stdout, stderr } = await new Deno.Command(`${bin}/deno`, {
      // Type checking is the suite's own business, not the subject here.
      args: ["test", "-A", "--no-check", ...files],
      cwd: ROOT,
      clearEnv: true,
      env: { ...kept, PATH: bin, NO_COLOR: "1", ...env },
      stdin: "null",
    }).output();
    const decoder = new TextDecoder();
    return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
  } finally {
    await Deno.remove(bin, { recursive: true });
  }
}

Deno.test("requireBinary() skips the tests of a missing tool with one line saying how to install it", async () => {
  const { code, stdout, stderr } = await testWithoutTools();
  assert.equal(code, 0, `deno test failed without the tools:\n${stdout}\n${stderr}`);
  const skipLines = stdout.split("\n").filter((line) => line.startsWith("Skipping "));
  assert.deepEqual(skipLines.sort(), [...SKIP_LINES].sort());
  assert.match(
    stdout,
    /AuthorizationCodeGrant logs in through Chromium with PKCE \.\.\. ignored/,
  );
  assert.match(stdout, /Client\.fetch\(\) runs on Node from a bundle of mod\.ts.* \.\.\. ignored/);
  assert.doesNotMatch(stdout, /FAILED/);
});

Deno.test("requireBinary() fails the run in CI when a tool is missing, with a test saying which", async () => {
  const { code, stdout } = await testWithoutTools({ env: { CI: "true" } });
  assert.notEqual(code, 0);
  assert.doesNotMatch(stdout, /^Skipping /m);
  for (const tool of ["chromium", "redis-server", "node"]) {
    assert.match(stdout, new RegExp(`^${tool} is installed \\.\\.\\. FAILED`, "m"));
  }
  assert.match(
    stdout,
    /Error: Cannot run the tests that need chromium in CI: no chromium on the PATH \(install it: apt-get install -y chromium\)/,
  );
  assert.match(stdout, /FAILED \| \d+ passed \| 3 failed \| \d+ ignored/);
});

Deno.test("skipUnlessCi() skips the Node smoke test on a Node older than 20, with one line", async () => {
  const { code, stdout, stderr } = await testWithoutTools({
    files: ["tests/node_smoke_test.ts"],
    scripts: { node: "echo v18.19.0" },
  });
  assert.equal(code, 0, `deno test failed on an old Node:\n${stdout}\n${stderr}`);
  assert.deepEqual(stdout.split("\n").filter((line) => line.startsWith("Skipping ")), [
    "Skipping the tests that need node: node v18.19.0 is older than Node 20, the oldest the core " +
    "supports (install a newer one: https://nodejs.org/en/download)",
  ]);
  assert.match(stdout, /Client\.fetch\(\) runs on Node from a bundle of mod\.ts.* \.\.\. ignored/);
});
