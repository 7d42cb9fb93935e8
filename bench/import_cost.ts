/**
 * Import cost: the CPU time (user + system) of a process that imports one
 * entry point of the package (for `mod.ts`, and makes a `Client`), against a
 * process that imports nothing, in interleaved pairs (empty, entry, empty,
 * entry, ...; the entries' order rotating from pair to pair). Every script
 * reads its own CPU time the same way (`process.cpuUsage()`, which counts
 * from the process's start: the runtime's own start-up, module loading and
 * the code that runs). The module cache is warmed first, so no pair pays for
 * transpiling. One more script imports the same code as `mod.ts` bundled into
 * a single module (`deno bundle`) and makes the same `Client`: what is left
 * between the two is the module loader's own cost per module, not the code.
 *
 * `deno run -A bench/import_cost.ts [--pairs 15]`
 *
 * @module
 */

import { parseArgs } from "node:util";
import { rotated } from "./_clients.ts";
import { staticModules } from "./_module_graph.ts";
import { fixed, median, percentile, ratio, ratios, table } from "./_stats.ts";

/** Settings of {@linkcode importCost}. */
export interface ImportCostOptions {
  /** Pairs per entry point. */
  pairs?: number;
}

/** One entry point's figures. */
export interface ImportCostRow {
  entry: string;
  /** Modules of the package it loads at start (static imports; not the lazily loaded). */
  modules: number;
  /** CPU time of each of its processes, ms. */
  cpu: number[];
  /** Each process's CPU time divided by the empty script's of its pair. */
  ratios: number[];
}

const ROOT = new URL("../", import.meta.url);
const MEASURE = 'import process from "node:process";\n';
const REPORT = "const { user, system } = process.cpuUsage();\n" +
  "console.log((user + system) / 1000);\n";

const MAKE_CLIENT = "const client = new Client({ tokenEndpoint: 'https://as.example/token', " +
  "clientId: 'id', clientSecret: 'secret' });\n";

/** The scripts: an empty one, then one per entry point, then the bundle. */
function scripts(bundle: string): { entry: string; code: string }[] {
  const at = (path: string) => new URL(path, ROOT).href;
  return [
    { entry: "empty script", code: MEASURE + REPORT },
    {
      entry: "mod.ts, making a Client",
      code: MEASURE + `import { Client } from "${at("mod.ts")}";\n` + MAKE_CLIENT + REPORT +
        "await client.close();\n",
    },
    { entry: "testing.ts", code: MEASURE + `import "${at("testing.ts")}";\n` + REPORT },
    { entry: "cli.ts", code: MEASURE + `import "${at("cli.ts")}";\n` + REPORT },
    { entry: "redis.ts", code: MEASURE + `import "${at("redis.ts")}";\n` + REPORT },
    {
      entry: "mod.ts bundled into one module, making a Client",
      code: MEASURE + `import { Client } from "${bundle}";\n` + MAKE_CLIENT + REPORT +
        "await client.close();\n",
    },
  ];
}

/** Measures each entry point against the empty script. */
export async function importCost(
  options: ImportCostOptions = {},
): Promise<{ rows: ImportCostRow[]; markdown: string }> {
  const { pairs = 15 } = options;
  const dir = await Deno.makeTempDir({ prefix: "alf_bench_import_" });
  try {
    const bundle = `${dir}/mod_bundle.js`;
    await bundleOf(new URL("mod.ts", ROOT).pathname, bundle);
    const [empty, ...entries] = await Promise.all(
      scripts(new URL(`file://${bundle}`).href).map(async (script, i) => {
        const path = `${dir}/script_${i}.ts`;
        await Deno.writeTextFile(path, script.code);
        return { ...script, path };
      }),
    );
    // Warm the module cache (transpiled code) of every script.
    for (const script of [empty!, ...entries]) await cpuOf(script.path);
    const own = new Map(
      entries.map((e) => [e.entry, { cpu: [] as number[], base: [] as number[] }]),
    );
    for (let pair = 0; pair < pairs; pair++) {
      for (const entry of rotated(entries, pair)) {
        const base = await cpuOf(empty!.path);
        const cpu = await cpuOf(entry.path);
        own.get(entry.entry)!.cpu.push(cpu);
        own.get(entry.entry)!.base.push(base);
      }
    }
    const baseAll = [...own.values()].flatMap((e) => e.base);
    const rows: ImportCostRow[] = await Promise.all(entries.map(async ({ entry, path }) => {
      const { cpu, base } = own.get(entry)!;
      return { entry, modules: await modulesOf(path), cpu, ratios: ratios(cpu, base) };
    }));
    const markdown = table(
      [
        "script",
        "modules loaded",
        "CPU time (median)",
        "vs empty script",
        "middle half of pairs",
        "range",
      ],
      [
        ["empty script", "0", `${fixed(median(baseAll), 1)} ms`, "1 (baseline)", "", ""],
        ...rows.map((row) => [
          row.entry,
          String(row.modules),
          `${fixed(median(row.cpu), 1)} ms`,
          ratio(median(row.ratios)),
          `${fixed(percentile(row.ratios, 25))}–${fixed(percentile(row.ratios, 75))}`,
          `${fixed(Math.min(...row.ratios))}–${fixed(Math.max(...row.ratios))}`,
        ]),
      ],
    );
    return { rows, markdown: `${pairs} pairs per entry point.\n\n${markdown}` };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * How many modules a `deno run` of the script at `path` loads before it runs,
 * besides the script itself and Node's built-ins.
 */
async function modulesOf(path: string): Promise<number> {
  const modules = await staticModules(path);
  return modules.filter((s) => s.startsWith("file:")).length - 1;
}

/** Bundles `entry` and everything it imports into the one module `out`. */
async function bundleOf(entry: string, out: string): Promise<void> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", "--no-lock", "-o", out, entry],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!output.success) {
    throw new Error(`Cannot bundle ${entry}: ${new TextDecoder().decode(output.stderr)}`);
  }
}

/** The CPU time a `deno run` of `path` reports for itself, ms. */
async function cpuOf(path: string): Promise<number> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-config", "--no-lock", path],
    cwd: new URL(".", ROOT).pathname,
    stderr: "inherit",
  }).output();
  const text = new TextDecoder().decode(output.stdout).trim();
  const cpu = Number(text.split("\n").at(-1));
  if (!output.success || !Number.isFinite(cpu)) {
    throw new Error(`Cannot measure the import cost of ${path}: it printed ${text}`);
  }
  return cpu;
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { pairs: { type: "string", default: "15" } } });
  console.log((await importCost({ pairs: Number(values.pairs) })).markdown);
}
