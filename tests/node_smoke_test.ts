// The core on Node, the Node this machine has: mod.ts bundled by `deno bundle`,
// then scripts/node_smoke.mjs runs a Client against a loopback token endpoint
// and resource made with node:http (a token, a POST, a 401 and its replay).

import assert from "node:assert/strict";
import { requireBinary, skipUnlessCi } from "./_requirements.ts";

const ROOT = new URL("../", import.meta.url);

/** The oldest Node the core supports (README, "Runtimes"). */
const OLDEST_NODE = 20;

const nodeSkipReason = await requireBinary("node", "apt-get install -y nodejs") ??
  await requireNodeVersion();

async function requireNodeVersion(): Promise<string | undefined> {
  const version = (await run("node", ["--version"])).stdout.trim();
  if (Number(version.match(/^v(\d+)\./)?.[1]) >= OLDEST_NODE) return undefined;
  return skipUnlessCi(
    "node",
    `node ${version} is older than Node ${OLDEST_NODE}, the oldest the core supports ` +
      `(install a newer one: https://nodejs.org/en/download)`,
  );
}

Deno.test(
  "Client.fetch() runs on Node from a bundle of mod.ts: a token, a request, a 401 and its replay",
  { ignore: nodeSkipReason !== undefined },
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "alf-node-smoke-" });
    try {
      const bundle = `${dir}/alf.mjs`;
      const bundled = await run(Deno.execPath(), [
        "bundle",
        "--quiet",
        "--sourcemap=external",
        "--output",
        bundle,
        "mod.ts",
      ]);
      assert(bundled.success, `Cannot bundle mod.ts: ${bundled.stderr}`);
      const version = (await run("node", ["--version"])).stdout.trim();
      const smoke = await run("node", ["scripts/node_smoke.mjs", bundle]);
      if (!smoke.success) {
        throw new Error(
          `Cannot run the core on Node ${version}: ${await explain(smoke.stderr, bundle)}`,
        );
      }
      assert.equal(
        smoke.stdout,
        `node ${version}: 200 "hello from node"; tokens token-1, token-2; resource saw ` +
          `POST Bearer token-1 "from node", then POST Bearer token-2 "from node"\n`,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

async function run(
  command: string,
  args: string[],
): Promise<{ success: boolean; stdout: string; stderr: string }> {
  const { success, stdout, stderr } = await new Deno.Command(command, {
    args,
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
  }).output();
  const decoder = new TextDecoder();
  return { success, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}

/**
 * Node's error, with the place in src/ it points at: Node reports a line of
 * the bundle (`file:///…/alf.mjs:1256`), the source map says whose it is.
 */
async function explain(stderr: string, bundle: string): Promise<string> {
  const error = stderr.split("\n").find((line) => /^\w*Error\b/.test(line)) ?? stderr.trim();
  const at = stderr.match(/alf\.mjs:(\d+)/);
  if (!at) return error;
  const where = await sourceOf(bundle, Number(at[1]));
  let message = `${error} at ${where ?? `line ${at[1]} of the bundle`}`;
  // Node < 24 parses no `using` declaration: name them all, not only the first.
  if (error.startsWith("SyntaxError")) {
    const lines = (await Deno.readTextFile(bundle)).split("\n");
    const usings: string[] = [];
    for (const [index, line] of lines.entries()) {
      if (/^\s*(await\s+)?using\s+[\w$]+\s*=/.test(line)) {
        usings.push((await sourceOf(bundle, index + 1)) ?? `bundle line ${index + 1}`);
      }
    }
    if (usings.length) message += `; \`using\` declarations in the bundle: ${usings.join(", ")}`;
  }
  return message;
}

/** `src/file.ts:line` of a line (1-based) of the bundle, from its source map. */
async function sourceOf(bundle: string, line: number): Promise<string | undefined> {
  const map: { sources: string[]; mappings: string } = JSON.parse(
    await Deno.readTextFile(`${bundle}.map`),
  );
  // Source index and line are relative to the segment before, across lines.
  let source = 0;
  let sourceLine = 0;
  const lines = map.mappings.split(";");
  for (let index = 0; index < line && index < lines.length; index++) {
    for (const segment of lines[index]!.split(",")) {
      const fields = decodeVlq(segment);
      if (fields.length < 4) continue;
      source += fields[1]!;
      sourceLine += fields[2]!;
      if (index === line - 1) {
        const file = new URL(map.sources[source]!, `file://${bundle}`).pathname;
        const relative = file.startsWith(ROOT.pathname) ? file.slice(ROOT.pathname.length) : file;
        return `${relative}:${sourceLine + 1}`;
      }
    }
  }
  return undefined;
}

const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** The numbers of a source map segment (base64 VLQ, sign in the lowest bit). */
function decodeVlq(segment: string): number[] {
  const values: number[] = [];
  let value = 0;
  let shift = 0;
  for (const char of segment) {
    const digit = BASE64.indexOf(char);
    value += (digit & 31) * 2 ** shift;
    if (digit & 32) {
      shift += 5;
    } else {
      values.push(value % 2 ? -Math.floor(value / 2) : value / 2);
      value = 0;
      shift = 0;
    }
  }
  return values;
}
