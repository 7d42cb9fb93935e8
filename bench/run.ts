/**
 * Runs every benchmark against one stand-in server process and prints the
 * results as markdown: the machine, the targets with their measured figures,
 * then each benchmark's table. `deno task bench` runs it.
 *
 * `deno run -A bench/run.ts [--quick] [--write] [--only overhead,renewal] [--requests N]`
 *
 * - `--quick`: one short iteration of everything (a smoke run, under 30 s).
 * - `--write`: also puts the output into BENCHMARKS.md, between its result markers.
 * - `--only`: a comma-separated list of benchmarks to run (import, overhead,
 *   cold, revocation, renewal, memory, tenants, processes, kvwait, redis).
 * - `--requests`: requests of the long memory run (default 1,000,000).
 *
 * The Redis benchmark starts its own `redis-server` (loopback, persistence
 * off); without one on the PATH it is skipped, and says why.
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  ALF_DPOP,
  ALF_DPOP_EDDSA,
  ALF_KV,
  ALF_MEMORY,
  HEADER_WRAPPER,
  OAUTH2_FETCH,
  PLAIN,
} from "./_clients.ts";
import { startBenchServer } from "./_servers.ts";
import {
  fixed,
  loadText,
  machine,
  median,
  mib,
  percentile,
  ratio,
  ratios,
  spread,
  table,
} from "./_stats.ts";
import { coldStart } from "./cold_start.ts";
import { importCost } from "./import_cost.ts";
import { kvWait, POLL_INTERVALS } from "./kv_wait.ts";
import { memoryUse } from "./memory.ts";
import { overhead } from "./overhead.ts";
import { processes, type ProcessesRow } from "./processes.ts";
import { ALF_IOREDIS, ALF_REDIS, redisBench } from "./redis_bench.ts";
import { redisSkipReason } from "../tests/storage/_redis_server.ts";
import { renewal } from "./renewal.ts";
import { revocation } from "./revocation.ts";
import { tenants } from "./tenants.ts";

/** Sizes of every benchmark, for a full or a quick run. */
export function settings(quick: boolean, requests?: number) {
  return quick
    ? {
      importCost: { pairs: 2 },
      overhead: { rounds: 1, seconds: 0.1, concurrency: 8 },
      coldStart: { trials: 1, requests: 100 },
      revocation: { trials: 1, requests: 100 },
      renewal: { seconds: 1.5, rate: 50, lifetime: 2, delay: 200 },
      memory: { repeats: 1, megabytes: 8, requests: requests ?? 2_000, warmup: 500 },
      tenants: { repeats: 1, clients: 1_000 },
      processes: { trials: 1, processes: 2, requests: 10 },
      kvWait: { trials: 1, delay: 20 },
      redis: { rounds: 1, seconds: 0.1, concurrency: 8, trials: 1, processes: 2, requests: 10 },
    }
    : {
      importCost: { pairs: 15 },
      overhead: { rounds: 20, seconds: 0.5, concurrency: 16 },
      coldStart: { trials: 15, requests: 10_000 },
      revocation: { trials: 15, requests: 10_000 },
      renewal: { seconds: 20, rate: 200, lifetime: 4, delay: 200 },
      memory: { repeats: 3, megabytes: 64, requests: requests ?? 1_000_000, warmup: 20_000 },
      tenants: { repeats: 5, clients: 10_000 },
      processes: { trials: 15, processes: 8, requests: 100 },
      kvWait: { trials: 15, delay: 20 },
      redis: { rounds: 15, seconds: 0.5, concurrency: 16, trials: 15, processes: 8, requests: 100 },
    };
}

/** A target and its measured figure. */
interface Target {
  measure: string;
  target: string;
  measured: string;
  met: boolean | undefined;
}

/** The row of `contender`, which a benchmark's targets are about. */
function rowOf<T extends { contender: string }>(rows: T[], contender: string): T {
  const row = rows.find((row) => row.contender === contender);
  if (row === undefined) throw new Error(`Cannot report the targets: no row for ${contender}`);
  return row;
}

/** The median of `values` and their spread, as `0.98× (middle half 0.96–1.00, range 0.90–1.03)`. */
function withSpread(values: number[]): string {
  const half = `${fixed(percentile(values, 25))}–${fixed(percentile(values, 75))}`;
  return `${ratio(median(values))} (middle half ${half}, range ${
    spread(values)
  }, n=${values.length})`;
}

/** The target of a processes run: one token request for all processes together. */
function oneTokenRequest(measure: string, row: ProcessesRow, note = ""): Target {
  const most = Math.max(...row.tokenRequests);
  return {
    measure,
    target: "1 token request",
    measured: `${most} (most in a trial); slowest process ${fixed(row.slowest, 1)} ms, ${
      withSpread(row.ratios)
    } plain fetch's${note}`,
    met: most === 1,
  };
}

/** Runs the selected benchmarks; returns the markdown and the targets. */
export async function runAll(
  options: { quick?: boolean; only?: string[]; requests?: number; log?: (line: string) => void },
): Promise<{ markdown: string; targets: Target[] }> {
  const { quick = false, only, requests, log = () => {} } = options;
  const size = settings(quick, requests);
  const wanted = (name: string) => !only || only.includes(name);
  const sections: string[] = [];
  const targets: Target[] = [];
  const loads: string[] = [`start: ${loadText()}`];
  await using server = await startBenchServer();

  if (wanted("import")) {
    log("import cost…");
    const { rows, markdown } = await importCost(size.importCost);
    sections.push(
      `### Import cost: CPU time of a process that imports an entry point\n\n${markdown}`,
    );
    for (const row of rows) {
      const isMod = row.entry.startsWith("mod.ts,");
      targets.push({
        measure: `import cost, ${row.entry}`,
        target: isMod ? "≤ 1.10× an empty script's CPU time" : "vs an empty script: reported",
        measured: `${withSpread(row.ratios)}; ${row.modules} modules loaded`,
        met: isMod ? median(row.ratios) <= 1.1 : undefined,
      });
    }
    loads.push(`after import cost: ${loadText()}`);
  }

  if (wanted("overhead")) {
    log("overhead…");
    const { rows, markdown } = await overhead(server, size.overhead);
    sections.push(`### Overhead: requests per second with a cached token\n\n${markdown}`);
    for (const workload of ["GET", "POST 80 B JSON"]) {
      const ofWorkload = rows.filter((row) => row.workload === workload);
      const alf = rowOf(ofWorkload, ALF_MEMORY);
      const oauth = rowOf(ofWorkload, OAUTH2_FETCH);
      const kv = ofWorkload.find((row) => row.contender === ALF_KV);
      const wrapper = rowOf(ofWorkload, HEADER_WRAPPER);
      targets.push({
        measure: `overhead, ${workload}`,
        target: "@alf/client ≥ 0.98× plain fetch (req/s), CPU per request ≤ 1.02×",
        measured: `${withSpread(alf.ratios)}; client CPU per request ${withSpread(alf.cpuRatios)}`,
        met: alf.ratio >= 0.98 && alf.cpuRatio <= 1.02,
      });
      targets.push({
        measure: `overhead, ${workload}`,
        target: "a wrapper that only adds the header (the physical limit): reported",
        measured: `${withSpread(wrapper.ratios)}; CPU per request ${
          withSpread(wrapper.cpuRatios)
        }; @alf/client vs it: ${withSpread(ratios(alf.ratios, wrapper.ratios))}`,
        met: undefined,
      });
      const vsOauth = median(ratios(alf.ratios, oauth.ratios));
      targets.push({
        measure: `overhead, ${workload}`,
        target: "@alf/client not slower than OAuth2Fetch",
        measured: `${withSpread(ratios(alf.ratios, oauth.ratios))} OAuth2Fetch's req/s`,
        met: vsOauth >= 0.97,
      });
      for (const name of [ALF_DPOP, ALF_DPOP_EDDSA]) {
        const dpop = ofWorkload.find((row) => row.contender === name);
        if (!dpop) continue;
        const vsBearer = ratios(dpop.ratios, alf.ratios);
        targets.push({
          measure: `overhead, ${workload}`,
          target: `${
            name.replace("@alf/client ", "")
          } vs Bearer (a proof signed per request, checked by the server on this machine): reported`,
          measured: `${withSpread(vsBearer)}; client CPU per request ${
            withSpread(ratios(dpop.cpuRatios, alf.cpuRatios))
          }`,
          met: undefined,
        });
      }
      if (kv) {
        const vsMemory = median(ratios(kv.ratios, alf.ratios));
        targets.push({
          measure: `overhead, ${workload}`,
          target: "KV ≥ 0.9× memory",
          measured: withSpread(ratios(kv.ratios, alf.ratios)),
          met: vsMemory >= 0.9,
        });
      }
    }
    loads.push(`after overhead: ${loadText()}`);
  }

  const bursts = [
    {
      name: "cold",
      measure: "cold start",
      target: "1 token request",
      title: `Cold start: ${size.coldStart.requests} concurrent requests on a new client`,
      run: () => coldStart(server, size.coldStart),
    },
    {
      name: "revocation",
      measure: "revocation storm",
      target: "1 renewal",
      title:
        `Revocation storm: ${size.revocation.requests} concurrent requests with a revoked token`,
      run: () => revocation(server, size.revocation),
    },
  ];
  for (const { name, measure, target, title, run } of bursts) {
    if (!wanted(name)) continue;
    log(`${measure}…`);
    const { rows, markdown } = await run();
    sections.push(`### ${title}\n\n${markdown}`);
    for (const row of rows.filter((row) => row.contender !== PLAIN)) {
      const most = Math.max(...row.tokenRequests);
      targets.push({
        measure: `${measure}, ${row.contender}`,
        target,
        measured: `${most} (most in a trial); ${withSpread(row.ratios)} plain fetch's time`,
        // OAuth2Fetch is shown for comparison; the targets are this library's.
        met: row.contender === OAUTH2_FETCH ? undefined : most === 1,
      });
    }
    loads.push(`after ${measure}: ${loadText()}`);
  }

  if (wanted("renewal")) {
    log(`renewal (${size.renewal.seconds} s)…`);
    const { rows, markdown } = await renewal(server, size.renewal);
    sections.push(`### Renewal without stalls\n\n${markdown}`);
    const alf = rowOf(rows, ALF_MEMORY);
    const plain = rowOf(rows, PLAIN);
    targets.push({
      measure: "renewal, requests that waited for a token",
      target: "none waits longer than plain fetch's own p99 latency",
      measured: `${alf.waited} of ${alf.requests} waited > threshold; longest wait ${
        fixed(alf.maxWait)
      } ms (plain fetch's longest ${fixed(plain.maxWait)} ms, its p99 latency ${
        fixed(plain.p99)
      } ms)`,
      met: alf.maxWait <= plain.p99,
    });
    targets.push({
      measure: "renewal, p99 latency",
      target: "≤ 1.5× plain fetch",
      measured: `${ratio(alf.p99Ratio)} (${fixed(alf.p99)} ms)`,
      met: alf.p99Ratio <= 1.5,
    });
    loads.push(`after renewal: ${loadText()}`);
  }

  if (wanted("memory")) {
    log("memory…");
    const { uploads, soaks, markdown } = await memoryUse(server, size.memory);
    sections.push(`### Memory\n\n${markdown}`);
    const peak = (key: "alf" | "plain") => median(uploads.stream[key].map((run) => run.peak));
    targets.push({
      measure: `memory, ${size.memory.megabytes} MiB streamed upload`,
      target: "peak RSS vs plain fetch",
      measured: `${ratio(peak("alf") / peak("plain"))} (${mib(peak("alf"))} vs ${
        mib(peak("plain"))
      })`,
      met: undefined,
    });
    const soak = soaks.alf;
    targets.push({
      measure: `memory, ${size.memory.requests} requests`,
      target: "no growth: RSS at the end vs after warm-up",
      measured: `${ratio(soak.end / soak.warm)} (plain fetch ${
        ratio(soaks.plain.end / soaks.plain.warm)
      })`,
      met: soak.end / soak.warm <= Math.max(1.1, (soaks.plain.end / soaks.plain.warm) * 1.05),
    });
    loads.push(`after memory: ${loadText()}`);
  }

  if (wanted("tenants")) {
    log("tenants…");
    const { rows, markdown } = await tenants(size.tenants);
    sections.push(`### Tenants: retained heap per client with a token\n\n${markdown}`);
    const alf = rowOf(rows, ALF_MEMORY);
    const kb = (bytes: number[]) =>
      `${fixed(median(bytes) / 1024)} KB (range ${fixed(Math.min(...bytes) / 1024)}–${
        fixed(Math.max(...bytes) / 1024)
      })`;
    targets.push({
      measure: `tenants, ${size.tenants.clients} clients with a token`,
      target: "≤ 1 KB retained heap per client",
      measured: `${kb(alf.bytes)}; ${withSpread(alf.vsOauth)} OAuth2Fetch's; header-only wrapper ${
        kb(rowOf(rows, HEADER_WRAPPER).bytes)
      }`,
      met: median(alf.bytes) <= 1024,
    });
    loads.push(`after tenants: ${loadText()}`);
  }

  if (wanted("processes")) {
    log("processes…");
    const result = await processes(server, size.processes);
    const { processes: count, requests } = size.processes;
    const title = `### Processes: ${count} processes × ${requests} cold requests on one KV file`;
    sections.push(`${title}\n\n${result.markdown}`);
    const measure = `processes, ${count} × ${requests} on one KV file`;
    targets.push(oneTokenRequest(measure, rowOf(result.rows, ALF_KV)));
    loads.push(`after processes: ${loadText()}`);
  }

  if (wanted("kvwait")) {
    log("KV wait…");
    const { rows, markdown } = await kvWait(server, size.kvWait);
    const { delay } = size.kvWait;
    sections.push(
      `### Another process's wait for a KV renewal (token endpoint: ${delay} ms)\n\n${markdown}`,
    );
    for (const row of rows.filter((row) => row.pollInterval > 0)) {
      const isDefault = row.pollInterval === POLL_INTERVALS[0];
      targets.push({
        measure: `KV wait, other process polling every ${row.pollInterval} ms${
          isDefault ? " (default)" : ""
        }`,
        target: isDefault ? `≤ 1.2× the endpoint's ${delay} ms` : "reported",
        measured: `${withSpread(row.ratios)}; the renewing process's own time ${
          fixed(median(row.holder) / delay)
        }×; its token requests ${row.tokenRequests}`,
        met: isDefault ? median(row.ratios) <= 1.2 : undefined,
      });
    }
    loads.push(`after KV wait: ${loadText()}`);
  }

  if (wanted("redis")) {
    const { processes: count, requests } = size.redis;
    if (redisSkipReason !== undefined) {
      log(`redis: skipped (${redisSkipReason})`);
      sections.push(`### Redis\n\nSkipped: ${redisSkipReason}.`);
    } else {
      log("redis…");
      const result = await redisBench(server, size.redis);
      const title = `### Redis: cached token against memory; ${count} processes × ${requests} ` +
        "cold requests on one Redis, beside one KV file";
      sections.push(`${title}\n\n${result.markdown}`);
      for (const row of result.cached.filter((row) => row.contender !== ALF_MEMORY)) {
        const vsMemory = median(row.ratios);
        targets.push({
          measure: `cached token, ${row.workload}, ${row.contender}`,
          target: row.contender === ALF_KV ? "KV ≥ 0.9× memory" : "Redis ≥ 0.9× memory",
          measured: withSpread(row.ratios),
          met: vsMemory >= 0.9,
        });
      }
      const kv = ` (one KV file: ${ratio(median(rowOf(result.processes, ALF_KV).ratios))})`;
      for (const contender of [ALF_REDIS, ALF_IOREDIS]) {
        const measure = `processes, ${count} × ${requests} on one Redis, ${contender}`;
        targets.push(oneTokenRequest(measure, rowOf(result.processes, contender), kv));
      }
    }
    loads.push(`after redis: ${loadText()}`);
  }

  const info = machine();
  const head = [
    `Machine: ${info.cpus} CPUs (${info.cpu}), ${info.os}; Deno ${info.deno} (V8 ${info.v8}).`,
    `Load average (1, 5, 15 min) — ${loads.join("; ")}.`,
    "",
    "#### Targets",
    "",
    table(
      ["measure", "target", "measured", "met"],
      targets.map((
        t,
      ) => [t.measure, t.target, t.measured, t.met === undefined ? "—" : t.met ? "yes" : "no"]),
    ),
    "",
  ];
  return { markdown: [...head, sections.join("\n\n")].join("\n"), targets };
}

const BEGIN = "<!-- bench:begin -->";
const END = "<!-- bench:end -->";

/** Replaces the text between the result markers of `file`. */
async function writeInto(file: URL, markdown: string, command: string): Promise<void> {
  const text = await Deno.readTextFile(file);
  const begin = text.indexOf(BEGIN);
  const end = text.indexOf(END);
  if (begin < 0 || end < begin) throw new Error(`Cannot write the results: no markers in ${file}`);
  const stamp = `Run on ${new Date().toISOString().slice(0, 10)} with \`${command}\`.`;
  const body = `${BEGIN}\n\n${stamp}\n\n${markdown}\n\n`;
  await Deno.writeTextFile(file, text.slice(0, begin) + body + text.slice(end));
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      quick: { type: "boolean", default: false },
      write: { type: "boolean", default: false },
      only: { type: "string" },
      requests: { type: "string" },
    },
  });
  const { markdown } = await runAll({
    quick: values.quick,
    only: values.only?.split(","),
    requests: values.requests === undefined ? undefined : Number(values.requests),
    log: (line) => console.error(line),
  });
  console.log(markdown);
  if (values.write) {
    const command = ["deno task bench", ...Deno.args].join(" ");
    await writeInto(new URL("../BENCHMARKS.md", import.meta.url), markdown, command);
  }
}
