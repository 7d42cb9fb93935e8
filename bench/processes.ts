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
import { clock, fixed, median, ratio, ratios, spread, table } from "./_stats.ts";

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

const WORKER = new URL("./_process_worker.ts", import.meta.url);

/** Runs the trials, plain fetch and `@alf/client` alternating. */
export async function processes(
  server: BenchServer,
  options: ProcessesOptions = {},
): Promise<{ rows: ProcessesRow[]; markdown: string }> {
  const { trials = 5, processes = 8, requests = 100, pollInterval = 0 } = options;
  await server.control({ expiresIn: 3600, tokenDelay: 0 });
  const modes = [["plain", PLAIN], ["alf", ALF_KV]] as const;
  const emptyEntry = () => ({
    tokens: [] as number[],
    slowest: [] as number[],
    statuses: [] as string[],
    errors: [] as string[],
    times: [] as number[][],
  });
  const results = { plain: emptyEntry(), alf: emptyEntry() };
  for (let trial = 0; trial < trials; trial++) {
    for (const [mode] of trial % 2 === 0 ? modes : [...modes].reverse()) {
      const dir = await Deno.makeTempDir({ prefix: "alf_bench_kv_" });
      try {
        const run = await runProcesses(server, mode, `${dir}/tokens.kv`, processes, [
          "--requests",
          String(requests),
          ...(pollInterval > 0 ? ["--poll-interval", String(pollInterval)] : []),
        ]);
        const entry = results[mode];
        entry.times[trial] = run.results.map((result) => result.ms);
        entry.errors.push(...run.results.flatMap((result) => result.errors));
        entry.tokens[trial] = run.tokenRequests;
        entry.slowest[trial] = Math.max(...run.results.map((result) => result.ms));
        const all: Record<number, number> = {};
        for (const result of run.results) {
          for (const [code, n] of Object.entries(result.statuses)) {
            all[Number(code)] = (all[Number(code)] ?? 0) + n;
          }
        }
        entry.statuses[trial] = statusText(all);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    }
  }
  const rows = modes.map(([mode, contender]) => {
    const entry = results[mode];
    return {
      contender,
      tokenRequests: entry.tokens,
      slowest: median(entry.slowest),
      ratios: ratios(entry.slowest, results.plain.slowest),
      statuses: [...new Set(entry.statuses)].join("; "),
      errors: entry.errors.length,
      times: entry.times,
    };
  });
  const markdown = table(
    [
      "contender",
      `token requests of ${processes} processes × ${requests} requests, per trial`,
      "slowest process: go → last response",
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
  const messages = [...new Set(Object.values(results).flatMap((entry) => entry.errors))];
  const note = messages.length === 0
    ? ""
    : `\n\nClient error events: ${messages.slice(0, 3).map((m) => `\`${m}\``).join("; ")}.`;
  return { rows, markdown: markdown + note };
}

/** Starts the processes, waits until all are ready, says "go" to all, collects their results. */
async function runProcesses(
  server: BenchServer,
  mode: "plain" | "alf",
  kvPath: string,
  count: number,
  workerFlags: string[],
): Promise<{ tokenRequests: number; results: WorkerResult[]; wall: number }> {
  const children = Array.from({ length: count }, () =>
    new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        WORKER.href,
        mode,
        "--origin",
        server.origin,
        "--kv",
        kvPath,
        ...workerFlags,
      ],
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
    const start = clock();
    const writers = children.map((child) => child.stdin.getWriter());
    await Promise.all(writers.map((writer) => writer.write(go)));
    const lines = await Promise.all(nextLines.map((nextLine) => nextLine()));
    const wall = clock() - start;
    const after = await server.control();
    await Promise.all(writers.map((writer) => writer.close()));
    done = true;
    return {
      tokenRequests: after.tokenRequests - before.tokenRequests,
      results: lines.map((line) => JSON.parse(line)),
      wall,
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
      console.error(`Warning: ${mode} workers failed: ${statuses.map((s) => s.code).join(", ")}`);
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
