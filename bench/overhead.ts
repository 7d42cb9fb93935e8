/**
 * Overhead: requests per second with a cached token, against plain `fetch`
 * with a fixed header, measured in rounds that rotate the contenders' order
 * so that each ratio compares runs taken side by side.
 *
 * `deno run -A bench/overhead.ts [--rounds 20] [--seconds 1] [--concurrency 16]`
 *
 * @module
 */

import {
  alfClient,
  alfKvClient,
  consume,
  type Contender,
  oauth2Fetch,
  PLAIN,
  plainFetch,
} from "./_clients.ts";
import { benchMain } from "./_main.ts";
import type { BenchServer } from "./_servers.ts";
import { clock, cpuMicros, fixed, median, ratio, spread, table } from "./_stats.ts";

/** Settings of {@linkcode overhead}. */
export interface OverheadOptions {
  /** Rounds per workload; each round runs every contender once. */
  rounds?: number;
  /** Length of one contender's run in a round, seconds. */
  seconds?: number;
  /** Requests in flight at once. */
  concurrency?: number;
}

/** One contender's figures for one workload. */
export interface OverheadRow {
  workload: string;
  contender: string;
  /** Median requests per second over the rounds. */
  rate: number;
  /** Median over the rounds of (this rate / plain fetch's rate in the same round). */
  ratio: number;
  /** Each round's ratio. */
  ratios: number[];
  /** Median client CPU time per request, microseconds. */
  cpu: number;
  /** Median over the rounds of (this CPU per request / plain fetch's). */
  cpuRatio: number;
}

interface Workload {
  name: string;
  request(url: string): RequestInit | undefined;
}

const BODY = JSON.stringify({ name: "alf", items: [1, 2, 3], note: "a small JSON body" });

const WORKLOADS: Workload[] = [
  { name: "GET", request: () => undefined },
  {
    name: "POST 80 B JSON",
    request: () => ({
      method: "POST",
      body: BODY,
      headers: { "content-type": "application/json" },
    }),
  },
];

/** Measures each contender's throughput with a cached token. */
export async function overhead(
  server: BenchServer,
  options: OverheadOptions = {},
): Promise<{ rows: OverheadRow[]; markdown: string }> {
  const { rounds = 20, seconds = 1, concurrency = 16 } = options;
  const contenders: Contender[] = [
    await plainFetch(server),
    alfClient(server),
    await alfKvClient(server),
    oauth2Fetch(server),
  ];
  const rows: OverheadRow[] = [];
  try {
    for (const workload of WORKLOADS) {
      // Warm-up: tokens, connections and JIT for every contender.
      for (const contender of contenders) {
        await closedLoop(contender, server.resourceUrl, workload, concurrency, 300);
      }
      const runs = new Map(contenders.map((c) => [c.name, [] as Run[]]));
      for (let round = 0; round < rounds; round++) {
        const order = contenders.map((_, i) => contenders[(i + round) % contenders.length]);
        for (const contender of order) {
          const run = await closedLoop(
            contender,
            server.resourceUrl,
            workload,
            concurrency,
            seconds * 1000,
          );
          runs.get(contender.name)!.push(run);
        }
      }
      const plain = runs.get(PLAIN)!;
      for (const contender of contenders) {
        const own = runs.get(contender.name)!;
        const ratios = own.map((run, i) => run.rate / plain[i].rate);
        rows.push({
          workload: workload.name,
          contender: contender.name,
          rate: median(own.map((run) => run.rate)),
          ratio: median(ratios),
          ratios,
          cpu: median(own.map((run) => run.cpu)),
          cpuRatio: median(own.map((run, i) => run.cpu / plain[i].cpu)),
        });
      }
    }
  } finally {
    for (const contender of contenders) await contender.close();
  }
  const markdown = table(
    [
      "workload",
      "contender",
      "req/s",
      "vs plain fetch",
      "ratio range",
      "CPU µs/req",
      "CPU vs plain",
    ],
    rows.map((row) => [
      row.workload,
      row.contender,
      fixed(row.rate, 0),
      row.contender === PLAIN ? "1 (baseline)" : ratio(row.ratio),
      row.contender === PLAIN ? "" : spread(row.ratios),
      fixed(row.cpu, 1),
      row.contender === PLAIN ? "1 (baseline)" : ratio(row.cpuRatio),
    ]),
  );
  return { rows, markdown };
}

interface Run {
  /** Requests per second. */
  rate: number;
  /** Client CPU microseconds per request. */
  cpu: number;
}

/** `concurrency` callers each sending requests back to back for `ms`. */
async function closedLoop(
  contender: Contender,
  url: string,
  workload: Workload,
  concurrency: number,
  ms: number,
): Promise<Run> {
  let count = 0;
  const cpu = cpuMicros();
  const start = clock();
  const deadline = start + ms;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (clock() < deadline) {
      const status = await consume(await contender.fetch(url, workload.request(url)));
      if (status !== 200) throw new Error(`${contender.name} got status ${status}`);
      count++;
    }
  }));
  const elapsed = (clock() - start) / 1000;
  return { rate: count / elapsed, cpu: (cpuMicros() - cpu) / count };
}

if (import.meta.main) await benchMain({ rounds: 20, seconds: 1, concurrency: 16 }, overhead);
