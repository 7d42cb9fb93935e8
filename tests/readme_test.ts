// The README's copyable test file, run as a user would run it: the block as it
// is, `@alf/client` from a deno.json, and the command the README states.

import assert from "node:assert/strict";

const README = await Deno.readTextFile(new URL("../README.md", import.meta.url));

/** The README's test file, and the `deno test ...` command it is to be run with. */
function copyableTestFile(): { code: string; command: string[] } {
  const start = README.indexOf("A test file you can copy");
  assert.ok(start >= 0, 'The README has no "A test file you can copy" section');
  const intro = README.slice(start, README.indexOf("```ts", start));
  const command = intro.match(/`(deno test[^`]*)`/)?.[1];
  assert.ok(command, "The README states no `deno test ...` command for its test file");
  const open = README.indexOf("```ts\n", start) + "```ts\n".length;
  return {
    code: README.slice(open, README.indexOf("\n```", open) + 1),
    command: command.split(" "),
  };
}

Deno.test("README's copyable test file passes with the command and permissions it states", async () => {
  const { code, command } = copyableTestFile();
  const [deno, ...args] = command;
  assert.equal(deno, "deno");
  const file = args.at(-1)!;
  assert.match(file, /_test\.ts$/, "The command names the file to save the block as");
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/${file}`, code);
    const imports = {
      "@alf/client": new URL("../mod.ts", import.meta.url).href,
      "@alf/client/testing": new URL("../testing.ts", import.meta.url).href,
    };
    await Deno.writeTextFile(`${dir}/deno.json`, JSON.stringify({ imports }));
    const output = await new Deno.Command(Deno.execPath(), {
      args,
      cwd: dir,
      env: { NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
    assert.equal(output.code, 0, text);
    assert.match(text, /ok \| [1-9]\d* passed \| 0 failed/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
