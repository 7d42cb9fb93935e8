/**
 * Processes: several processes share one KV file, each with a cold client
 * that sends a burst of concurrent requests at the same moment. Counts the
 * token requests of all of them together (target: 1) and the slowest
 * process's time to its last response, against the same processes using
 * plain `fetch` with a token they already have.
 *
 * `deno run -A bench/processes.ts [--trials 5] [--processes 8] [--requests 100] [--poll-interval 0]`
 *
 * `--poll-interval` sets `KvTokenStorage`'s poll interval; 0 (default) keeps its default.
 *
 * @module
 */

import { ALF_KV, PLAIN, statusText } from "./_clients.ts";
import type { WorkerResult } from "./_process_worker.ts";
import { benchMain } from "./_main.ts";
import type { BenchServer } from "./_servers.ts";
import { fixed, median, ratio, ratios, spread, table } from "./_stats.ts";
import type { WorkerReport } from "../tests/storage/_worker_process.ts";

/** Settings of {@linkcode processes}. */
export interface ProcessesOptions {
  /** Trials; each runs plain fetch and @alf/client once. */
  trials?: number;
  /** Processes per trial. */
  processes?: number;
  /** Concurrent requests per process. */
  requests?: number;
  /** `KvTokenStorage`'s `pollInterval`, ms; 0 keeps its default. */
  pollInterval?: number;
}

/** One mode's figures. */
export interface ProcessesRow {
  contender: string;
  /** Token requests of all processes together, per trial. */
  tokenRequests: number[];
  /** Median over trials of the slowest process's time from "go" to its last response, ms. */
  slowest: number;
  /** Each trial's slowest time divided by plain fetch's. */
  ratios: number[];
  statuses: string;
  /** Error events of the clients (storage failures), all trials. */
  errors: number;
  /** Each trial's time of every process, ms. */
  times: number[][];
}

/** One kind of process in the processes runs: its contender, and how to start one. */
export interface ProcessMode {
  name: string;
  /** The `deno run -A` arguments of one process in `trial`, with a fresh directory `dir`. */
  args(trial: number, dir: string): string[];
}

const WORKER = new URL("./_process_worker.ts", import.meta.url);

/** Runs the trials, plain fetch and `@alf/client` alternating. */
export async function processes(
  server: BenchServer,
  options: ProcessesOptions = {},
): Promise<{ rows: ProcessesRow[]; markdown: string }> {
  const { trials = 5, processes = 8, requests = 100, pollInterval = 0 } = options;
  await server.control({ expiresIn: 3600, tokenDelay: 0 });
  const worker = processWorker(server, requests);
  const poll = pollInterval > 0 ? ["--poll-interval", String(pollInterval)] : [];
  return await processTrials(server, [
    { name: PLAIN, args: () => worker("plain") },
    { name: ALF_KV, args: (_, dir) => worker("alf", "--kv", `${dir}/tokens.kv`, ...poll) },
  ], { trials, processes });
}

/** The arguments of a bench/_process_worker.ts process, by mode, sending `requests` each. */
export function processWorker(
  server: BenchServer,
  requests: number,
): (mode: "plain" | "alf", ...flags: string[]) => string[] {
  return (mode, ...flags) => [
    WORKER.href,
    mode,
    "--origin",
    server.origin,
    "--requests",
    String(requests),
    ...flags,
  ];
}

/**
 * Runs `trials` trials of `processes` processes of each mode, the modes in
 * turn, their order reversed every other trial; compares each mode's slowest
 * process with plain fetch's (a mode named {@linkcode PLAIN}).
 */
export async function processTrials(
  server: BenchServer,
  modes: ProcessMode[],
  options: { trials: number; processes: number },
): Promise<{ rows: ProcessesRow[]; markdown: string }> {
  const results = new Map(modes.map((mode) => [mode.name, {
    tokens: [] as number[],
    slowest: [] as number[],
    statuses: [] as string[],
    errors: [] as string[],
    times: [] as number[][],
  }]));
  for (let trial = 0; trial < options.trials; trial++) {
    for (const mode of trial % 2 === 0 ? modes : [...modes].reverse()) {
      const dir = await Deno.makeTempDir({ prefix: "alf_bench_processes_" });
      try {
        const run = await runProcesses(server, mode.args(trial, dir), options.processes);
        const entry = results.get(mode.name)!;
        entry.times[trial] = run.times;
        entry.errors.push(...run.errors);
        entry.tokens[trial] = run.tokenRequests;
        entry.slowest[trial] = Math.max(...run.times);
        entry.statuses[trial] = run.statuses;
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    }
  }
  const plain = results.get(PLAIN)!;
  const rows = modes.map(({ name }): ProcessesRow => {
    const entry = results.get(name)!;
    return {
      contender: name,
      tokenRequests: entry.tokens,
      slowest: median(entry.slowest),
      ratios: ratios(entry.slowest, plain.slowest),
      statuses: [...new Set(entry.statuses)].join("; "),
      errors: entry.errors.length,
      times: entry.times,
    };
  });
  const markdown = table(
    [
      "contender",
      "token requests, per trial",
      "slowest process: go → last response (median)",
      "vs plain fetch",
      "range",
      "statuses",
      "client error events",
    ],
    rows.map((row) => [
      row.contender,
      row.contender === PLAIN ? "0 (token given)" : row.tokenRequests.join(", "),
      `${fixed(row.slowest, 1)} ms`,
      row.contender === PLAIN ? "1 (baseline)" : ratio(median(row.ratios)),
      row.contender === PLAIN ? "" : spread(row.ratios),
      row.statuses,
      String(row.errors),
    ]),
  );
  const messages = [...new Set([...results.values()].flatMap((entry) => entry.errors))];
  const note = messages.length === 0
    ? ""
    : `\n\nClient error events: ${messages.slice(0, 3).map((m) => `\`${m}\``).join("; ")}.`;
  return { rows, markdown: markdown + note };
}

/**
 * Starts `count` processes of `args`, waits until all are ready, says "go" to
 * all, and sums up what they report: the bench worker's figures or a storage
 * test worker's report.
 */
async function runProcesses(server: BenchServer, args: string[], count: number) {
  const children = Array.from({ length: count }, () =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", ...args],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn());
  const readers = children.map((child) =>
    child.stdout.pipeThrough(new TextDecoderStream()).getReader()
  );
  let done = false;
  try {
    const nextLines = readers.map((reader, i) => lineReader(reader, i));
    await Promise.all(nextLines.map((nextLine) => nextLine())); // "ready"
    const before = await server.control();
    const go = new TextEncoder().encode("go\n");
    const writers = children.map((child) => child.stdin.getWriter());
    await Promise.all(writers.map((writer) => writer.write(go)));
    const lines = await Promise.all(nextLines.map((nextLine) => nextLine()));
    const after = await server.control();
    await Promise.all(writers.map((writer) => writer.close()));
    done = true;
    const reports: (WorkerResult | WorkerReport)[] = lines.map((line) => JSON.parse(line));
    const all: Record<number, number> = {};
    for (const report of reports) {
      const statuses: [string, number][] = Array.isArray(report.statuses)
        ? report.statuses.map((status) => [String(status), 1])
        : Object.entries(report.statuses);
      for (const [code, n] of statuses) all[Number(code)] = (all[Number(code)] ?? 0) + n;
    }
    return {
      tokenRequests: after.tokenRequests - before.tokenRequests,
      times: reports.map((report) => "ms" in report ? report.ms : report.elapsed),
      errors: reports.flatMap((report) => report.errors),
      statuses: statusText(all),
    };
  } finally {
    // A worker that failed leaves the others waiting for "go": end them.
    if (!done) {
      for (const child of children) {
        try {
          child.kill();
        } catch {
          // It had exited already.
        }
      }
    }
    await Promise.all(readers.map((reader) => reader.cancel().catch(() => {})));
    const statuses = await Promise.all(children.map((child) => child.status));
    await Promise.all(children.map((child) => child.stdin.close().catch(() => {})));
    if (done && statuses.some((status) => !status.success)) {
      console.error(`Warning: workers failed: ${statuses.map((s) => s.code).join(", ")}`);
    }
  }
}

/** Reads worker `worker`'s output a line at a time. */
function lineReader(
  reader: ReadableStreamDefaultReader<string>,
  worker: number,
): () => Promise<string> {
  let output = "";
  return async () => {
    while (!output.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) {
        throw new Error(`Cannot run the processes benchmark: worker ${worker} exited early`);
      }
      output += value;
    }
    const line = output.slice(0, output.indexOf("\n"));
    output = output.slice(line.length + 1);
    return line;
  };
}

if (import.meta.main) {
  await benchMain({ trials: 5, processes: 8, requests: 100, pollInterval: 0 }, processes);
}
