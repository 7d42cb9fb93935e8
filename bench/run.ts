/**
 * Runs every benchmark against one stand-in server process and prints the
 * results as markdown: the machine, the targets with their measured figures,
 * then each benchmark's table. `deno task bench` runs it.
 *
 * `deno run -A bench/run.ts [--quick] [--write] [--only overhead,renewal] [--requests N]`
 *
 * - `--quick`: one short iteration of everything (a smoke run, under 10 s).
 * - `--write`: also puts the output into BENCHMARKS.md, between its result markers.
 * - `--only`: a comma-separated list of benchmarks to run (overhead, cold,
 *   revocation, renewal, memory, processes, redis).
 * - `--requests`: requests of the long memory run (default 1,000,000).
 *
 * The Redis benchmark starts its own `redis-server` (loopback, persistence
 * off); without one on the PATH it is skipped, and says why.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { ALF_DPOP, ALF_DPOP_EDDSA, ALF_KV, ALF_MEMORY, OAUTH2_FETCH, PLAIN } from "./_clients.ts";
import { startBenchServer } from "./_servers.ts";
import { fixed, loadText, machine, median, mib, ratio, ratios, spread, table } from "./_stats.ts";
import { coldStart } from "./cold_start.ts";
import { memoryUse } from "./memory.ts";
import { overhead } from "./overhead.ts";
import { processes, type ProcessesRow } from "./processes.ts";
import { ALF_IOREDIS, ALF_REDIS, redisBench } from "./redis_bench.ts";
import { redisSkipReason } from "../tests/storage/_redis_server.ts";
import { renewal } from "./renewal.ts";
import { revocation } from "./revocation.ts";

/** Sizes of every benchmark, for a full or a quick run. */
export function settings(quick: boolean, requests?: number) {
  return quick
    ? {
      overhead: { rounds: 1, seconds: 0.1, concurrency: 8 },
      coldStart: { trials: 1, requests: 100 },
      revocation: { trials: 1, requests: 100 },
      renewal: { seconds: 1.5, rate: 50, lifetime: 2, delay: 200 },
      memory: { repeats: 1, megabytes: 8, requests: requests ?? 2_000, warmup: 500 },
      processes: { trials: 1, processes: 2, requests: 10 },
      redis: { rounds: 1, seconds: 0.1, concurrency: 8, trials: 1, processes: 2, requests: 10 },
    }
    : {
      overhead: { rounds: 20, seconds: 0.5, concurrency: 16 },
      coldStart: { trials: 7, requests: 1000 },
      revocation: { trials: 7, requests: 1000 },
      renewal: { seconds: 20, rate: 200, lifetime: 4, delay: 200 },
      memory: { repeats: 3, megabytes: 64, requests: requests ?? 1_000_000, warmup: 20_000 },
      processes: { trials: 5, processes: 8, requests: 100 },
      redis: { rounds: 10, seconds: 0.5, concurrency: 16, trials: 5, processes: 8, requests: 100 },
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

/** The target of a processes run: one token request for all processes together. */
function oneTokenRequest(measure: string, row: ProcessesRow, note = ""): Target {
  const most = Math.max(...row.tokenRequests);
  return {
    measure,
    target: "1 token request",
    measured: `${most} (most in a trial); slowest process ${fixed(row.slowest, 1)} ms, ${
      ratio(median(row.ratios))
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

  if (wanted("overhead")) {
    log("overhead…");
    const { rows, markdown } = await overhead(server, size.overhead);
    sections.push(`### Overhead: requests per second with a cached token\n\n${markdown}`);
    for (const workload of ["GET", "POST 80 B JSON"]) {
      const ofWorkload = rows.filter((row) => row.workload === workload);
      const alf = rowOf(ofWorkload, ALF_MEMORY);
      const oauth = rowOf(ofWorkload, OAUTH2_FETCH);
      const kv = ofWorkload.find((row) => row.contender === ALF_KV);
      targets.push({
        measure: `overhead, ${workload}`,
        target: "@alf/client ≥ 0.97× plain fetch (req/s)",
        measured: `${ratio(alf.ratio)} (client CPU per request ${ratio(alf.cpuRatio)})`,
        met: alf.ratio >= 0.97,
      });
      const vsOauth = median(ratios(alf.ratios, oauth.ratios));
      targets.push({
        measure: `overhead, ${workload}`,
        target: "@alf/client not slower than OAuth2Fetch",
        measured: `${ratio(vsOauth)} OAuth2Fetch's req/s`,
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
          measured: `${ratio(median(vsBearer))} (rounds ${
            spread(vsBearer)
          }; client CPU per request ${ratio(dpop.cpuRatio / alf.cpuRatio)})`,
          met: undefined,
        });
      }
      if (kv) {
        const vsMemory = median(ratios(kv.ratios, alf.ratios));
        targets.push({
          measure: `overhead, ${workload}`,
          target: "KV ≥ 0.9× memory",
          measured: ratio(vsMemory),
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
        measured: `${most} (most in a trial); ${ratio(median(row.ratios))} plain fetch's time`,
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
    targets.push({
      measure: "renewal, requests that waited for a token",
      target: "0",
      measured: `${alf.waited} of ${alf.requests} (longest wait ${fixed(alf.maxWait)} ms)`,
      met: alf.waited === 0,
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
          measured: `${ratio(vsMemory)} (range ${spread(row.ratios)})`,
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
