/**
 * Overhead: requests per second with a cached token, against plain `fetch`
 * with a fixed header. Plain fetch runs between every two other runs
 * (P A P B P C P A ...), and each run is compared with the mean of the two
 * plain fetch runs around it, so that a ratio compares runs taken seconds
 * apart; the other contenders' order rotates from round to round.
 *
 * `deno run -A bench/overhead.ts [--rounds 20] [--seconds 0.5] [--concurrency 16]`
 *
 * @module
 */

import {
  ALF_DPOP,
  ALF_DPOP_EDDSA,
  alfClient,
  alfKvClient,
  consume,
  type Contender,
  headerWrapperFetch,
  oauth2Fetch,
  PLAIN,
  plainFetch,
  rotated,
} from "./_clients.ts";
import { benchMain } from "./_main.ts";
import type { BenchServer } from "./_servers.ts";
import { closedLoop, cpuMicros, fixed, median, percentile, ratio, table } from "./_stats.ts";

/** Settings of {@linkcode overhead}. */
export interface OverheadOptions {
  /** Rounds per workload; each round runs every other contender once, each after plain fetch. */
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
  /** Median over the rounds of (this rate / the mean rate of the plain fetch runs around it). */
  ratio: number;
  /** Each round's ratio. */
  ratios: number[];
  /** Median client CPU time per request, microseconds. */
  cpu: number;
  /** Median over the rounds of (this CPU per request / that of the plain fetch runs around it). */
  cpuRatio: number;
  /** Each round's CPU ratio. */
  cpuRatios: number[];
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
  const { rounds = 20, seconds = 0.5, concurrency = 16 } = options;
  const plain = await plainFetch(server);
  const others: Contender[] = [
    await headerWrapperFetch(server),
    alfClient(server),
    await alfKvClient(server),
    alfClient(server, { dpop: true }, ALF_DPOP),
    alfClient(server, { dpop: { algorithm: "EdDSA" } }, ALF_DPOP_EDDSA),
    oauth2Fetch(server),
  ];
  const contenders = [plain, ...others];
  const rows: OverheadRow[] = [];
  try {
    for (const workload of WORKLOADS) {
      // Warm-up: tokens, connections and JIT for every contender.
      for (const contender of contenders) {
        await requestLoop(contender, server.resourceUrl, workload, concurrency, 300);
      }
      // Plain fetch runs between every two other runs (P A P B P C P ...),
      // and each run is compared with the mean of the plain runs around it.
      const run = (contender: Contender) =>
        requestLoop(contender, server.resourceUrl, workload, concurrency, seconds * 1000);
      let before = await run(plain);
      const plainRuns: Run[] = [before];
      const runs = others.map((contender) => ({
        contender,
        measured: [] as { run: Run; base: Run }[],
      }));
      for (let round = 0; round < rounds; round++) {
        for (const { contender, measured } of rotated(runs, round)) {
          const own = await run(contender);
          const after = await run(plain);
          plainRuns.push(after);
          const base = { rate: (before.rate + after.rate) / 2, cpu: (before.cpu + after.cpu) / 2 };
          measured.push({ run: own, base });
          before = after;
        }
      }
      rows.push({
        workload: workload.name,
        contender: PLAIN,
        rate: median(plainRuns.map((r) => r.rate)),
        ratio: 1,
        ratios: [],
        cpu: median(plainRuns.map((r) => r.cpu)),
        cpuRatio: 1,
        cpuRatios: [],
      });
      for (const { contender, measured } of runs) {
        const ratios = measured.map(({ run, base }) => run.rate / base.rate);
        const cpuRatios = measured.map(({ run, base }) => run.cpu / base.cpu);
        rows.push({
          workload: workload.name,
          contender: contender.name,
          rate: median(measured.map(({ run }) => run.rate)),
          ratio: median(ratios),
          ratios,
          cpu: median(measured.map(({ run }) => run.cpu)),
          cpuRatio: median(cpuRatios),
          cpuRatios,
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
      "middle half of rounds",
      "CPU µs/req",
      "CPU vs plain",
      "middle half",
    ],
    rows.map((row) => [
      row.workload,
      row.contender,
      fixed(row.rate, 0),
      row.contender === PLAIN ? "1 (baseline)" : ratio(row.ratio),
      row.contender === PLAIN
        ? ""
        : `${fixed(percentile(row.ratios, 25))}–${fixed(percentile(row.ratios, 75))}`,
      fixed(row.cpu, 1),
      row.contender === PLAIN ? "1 (baseline)" : ratio(row.cpuRatio),
      row.contender === PLAIN
        ? ""
        : `${fixed(percentile(row.cpuRatios, 25))}–${fixed(percentile(row.cpuRatios, 75))}`,
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
async function requestLoop(
  contender: Contender,
  url: string,
  workload: Workload,
  concurrency: number,
  ms: number,
): Promise<Run> {
  const cpu = cpuMicros();
  const { calls, seconds } = await closedLoop(
    async () => {
      const status = await consume(await contender.fetch(url, workload.request(url)));
      if (status !== 200) throw new Error(`${contender.name} got status ${status}`);
    },
    concurrency,
    ms,
  );
  return { rate: calls / seconds, cpu: (cpuMicros() - cpu) / calls };
}

if (import.meta.main) await benchMain({ rounds: 20, seconds: 0.5, concurrency: 16 }, overhead);
