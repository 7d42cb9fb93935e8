// testTokenStorage() can fail: `deno test` on storages that each break one
// rule (tests/testing/_flawed_storages.ts) fails that rule's case, and only it.

import assert from "node:assert/strict";
import { MemoryTokenStorage } from "../../mod.ts";
import { testTokenStorage, type TestTokenStorageOptions } from "../../testing.ts";

interface FixtureRun {
  code: number;
  output: string;
  /** Each top-level test's outcome (`ok`, `FAILED`), by name. */
  outcomes: Map<string, string>;
}

let fixtureRun: Promise<FixtureRun> | undefined;

/** `deno test` on the fixture, run once for the tests of this file. */
function runFixture(): Promise<FixtureRun> {
  fixtureRun ??= (async () => {
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["test", "--no-prompt", "tests/testing/_flawed_storages.ts"],
      cwd: new URL("../../", import.meta.url),
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const output = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
    const outcomes = new Map<string, string>();
    for (const [, name, outcome] of output.matchAll(/^(\S.*?) \.\.\. (ok|FAILED)\b/gm)) {
      if (name !== undefined && outcome !== undefined) outcomes.set(name, outcome);
    }
    return { code, output, outcomes };
  })();
  return fixtureRun;
}

/** The names of `storage`'s cases that failed, and how many passed. */
function outcomesOf(run: FixtureRun, storage: string): { failed: string[]; passed: number } {
  const mine = [...run.outcomes].filter(([name]) => name.startsWith(storage));
  assert.ok(mine.length > 0, `no case of ${storage} ran:\n${run.output}`);
  return {
    failed: mine.filter(([, outcome]) => outcome === "FAILED").map(([name]) => name),
    passed: mine.filter(([, outcome]) => outcome === "ok").length,
  };
}

Deno.test("testTokenStorage() fails a storage whose delete() ignores accessToken", async () => {
  const run = await runFixture();
  assert.notEqual(run.code, 0, run.output);
  const { failed, passed } = outcomesOf(run, "IgnoresDeleteCondition");
  assert.deepEqual(
    failed,
    ["IgnoresDeleteCondition.delete() with accessToken deletes only while that token is stored"],
    run.output,
  );
  assert.ok(passed >= 10, run.output);
  assert.match(run.output, /delete\(\) with another accessToken removed the stored token/);
});

Deno.test("testTokenStorage() fails a storage that writes under an expired lease", async () => {
  const run = await runFixture();
  assert.notEqual(run.code, 0, run.output);
  const { failed, passed } = outcomesOf(run, "WritesUnderExpiredLease");
  assert.deepEqual(
    failed,
    ["WritesUnderExpiredLease.set() under a lease that ran out or was taken over writes nothing"],
    run.output,
  );
  assert.ok(passed >= 10, run.output);
  assert.match(run.output, /set\(\) wrote under an expired lease/);
});

Deno.test("testTokenStorage() rejects a name, create or option that is not valid", () => {
  const create = () => new MemoryTokenStorage();
  assert.throws(
    () => testTokenStorage(undefined as unknown as string, create),
    new TypeError('Cannot test the token storage: "name" must be a string'),
  );
  assert.throws(
    () => testTokenStorage("S", "storage" as unknown as typeof create),
    new TypeError('Cannot test the token storage: "create" must be a function'),
  );
  assert.throws(
    () => testTokenStorage("S", create, { leaseTtl: 0 }),
    new RangeError(
      'Cannot test the token storage: "leaseTtl" must be a positive number of milliseconds',
    ),
  );
  assert.throws(() => testTokenStorage("S", create, { patience: Infinity }), RangeError);
});

Deno.test("testTokenStorage() refuses a misspelled option, naming the one meant", () => {
  const options = { leaseTTL: 100 } as TestTokenStorageOptions;
  assert.throws(
    () => testTokenStorage("S", () => new MemoryTokenStorage(), options),
    new TypeError(
      'Cannot test the token storage: unknown option "leaseTTL"; did you mean "leaseTtl"?',
    ),
  );
});
