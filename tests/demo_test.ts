import assert from "node:assert/strict";

Deno.test("examples/demo.ts runs to completion and shows one shared token request", async () => {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      new URL("../examples/demo.ts", import.meta.url).pathname,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const out = new TextDecoder().decode(stdout);
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  assert.match(out, /token requests\s+1 \(one, shared by all 20\)/);
  assert.match(out, /tokens obtained, and why\s+missing, expiring, rejected, missing/);
  assert.match(out, /response\s+503/);
  assert.match(out, /Done\./);
});
