/**
 * Redis against memory and KV storage, in one run, on a redis-server of its
 * own (loopback, persistence off):
 *
 * - Cached token: requests per second of `getToken()` and of `fetch()` with
 *   memory, KV and Redis (node-redis, ioredis) storage. Memory runs between
 *   every two other runs (M K M R M I M …) and each run is compared with the
 *   mean of the memory runs around it; the order rotates from round to round.
 *   Target: Redis at least 0.9× memory, as for KV.
 * - Processes: `processes` cold processes send `requests` concurrent requests
 *   each at the same moment; plain fetch (a token given), KV (one file) and
 *   Redis (one server) alternate from trial to trial. Counts the token
 *   requests of all processes together (target: 1) and compares the slowest
 *   process's time to its last response with plain fetch's.
 *
 * `deno run -A bench/redis_bench.ts [--rounds 10] [--seconds 0.5] [--concurrency 16]`
 * `[--trials 5] [--processes 8] [--requests 100]`
 *
 * @module
 */

import { Client, KvTokenStorage, type TokenStorage } from "../mod.ts";
import { RedisTokenStorage } from "../redis.ts";
import {
  connectRedis,
  type RedisClientKind,
  startRedisServer,
} from "../tests/storage/_redis_server.ts";
import { ALF_KV, ALF_MEMORY, consume, PLAIN, statusText } from "./_clients.ts";
import { benchMain } from "./_main.ts";
import { type BenchServer, CLIENT } from "./_servers.ts";
import { clock, fixed, median, ratio, spread, table } from "./_stats.ts";

/** Settings of {@linkcode redisBench}. */
export interface RedisBenchOptions {
  /** Rounds of the cached-token runs; each runs every storage once, each after memory. */
  rounds?: number;
  /** Length of one cached-token run, seconds. */
  seconds?: number;
  /** Requests in flight at once in the cached-token runs. */
  concurrency?: number;
  /** Trials of the processes runs; each runs plain fetch, KV and Redis once. */
  trials?: number;
  /** Processes per trial. */
  processes?: number;
  /** Concurrent requests per process. */
  requests?: number;
}

/** The contenders on Redis, by client library. */
export const ALF_REDIS = "@alf/client (Redis, node-redis)";
export const ALF_IOREDIS = "@alf/client (Redis, ioredis)";
const PROCESS_WORKER = new URL("./_process_worker.ts", import.meta.url);
const REDIS_WORKER = new URL("../tests/storage/_redis_worker.ts", import.meta.url);

/** Runs both parts; returns their rows and markdown. */
export async function redisBench(server: BenchServer, options: RedisBenchOptions = {}) {
  const {
    rounds = 10,
    seconds = 0.5,
    concurrency = 16,
    trials = 5,
    processes = 8,
    requests = 100,
  } = options;
  await using redis = await startRedisServer();
  await server.control({ expiresIn: 3600, tokenDelay: 0 });
  const cached = await cachedToken(server, redis.url, { rounds, seconds, concurrency });
  const fleet = await processRuns(server, redis.url, { trials, processes, requests });
  const markdown = [
    `#### Cached token: ${concurrency} requests in flight, ${rounds} rounds of ${seconds} s`,
    "",
    cached.markdown,
    "",
    `#### ${processes} processes × ${requests} cold requests, ${trials} trials`,
    "",
    fleet.markdown,
  ].join("\n");
  return { cached: cached.rows, processes: fleet.rows, markdown };
}

/** A storage's client in the cached-token runs. */
interface Contender {
  name: string;
  client: Client;
}

/** Requests per second with a cached token, each storage against memory. */
async function cachedToken(
  server: BenchServer,
  redisUrl: string,
  options: { rounds: number; seconds: number; concurrency: number },
) {
  await using nodeRedis = await connectRedis("node-redis", redisUrl);
  await using ioredis = await connectRedis("ioredis", redisUrl);
  await using onNodeRedis = new RedisTokenStorage(nodeRedis.client, { prefix: "bench:" });
  await using onIoredis = new RedisTokenStorage(ioredis.client, { prefix: "bench:" });
  using kv = await Deno.openKv(":memory:");
  const contender = (name: string, storage?: TokenStorage): Contender => ({
    name,
    client: new Client({ tokenEndpoint: server.tokenEndpoint, ...CLIENT, storage }),
  });
  const memory = contender(ALF_MEMORY);
  const others = [
    contender(ALF_KV, new KvTokenStorage(kv)),
    contender(ALF_REDIS, onNodeRedis),
    contender(ALF_IOREDIS, onIoredis),
  ];
  const workloads: [string, (client: Client) => Promise<void>][] = [
    ["getToken()", async (client) => void await client.getToken()],
    ["fetch() GET", async (client) => {
      const status = await consume(await client.fetch(server.resourceUrl));
      if (status !== 200) throw new Error(`Cannot measure: status ${status}`);
    }],
  ];
  const rows: { workload: string; contender: string; rate: number; ratios: number[] }[] = [];
  try {
    for (const [workload, send] of workloads) {
      const run = (c: Contender) =>
        closedLoop(c.client, send, options.concurrency, options.seconds);
      for (const c of [memory, ...others]) await run(c); // warm-up: tokens, connections, JIT
      let before = await run(memory);
      const memoryRates = [before];
      const measured = others.map(() => ({ rates: [] as number[], ratios: [] as number[] }));
      for (let round = 0; round < options.rounds; round++) {
        for (let i = 0; i < others.length; i++) {
          const index = (i + round) % others.length;
          const own = await run(others[index]!);
          const after = await run(memory);
          memoryRates.push(after);
          measured[index]!.rates.push(own);
          measured[index]!.ratios.push(own / ((before + after) / 2));
          before = after;
        }
      }
      rows.push({ workload, contender: ALF_MEMORY, rate: median(memoryRates), ratios: [] });
      others.forEach((c, i) =>
        rows.push({
          workload,
          contender: c.name,
          rate: median(measured[i]!.rates),
          ratios: measured[i]!.ratios,
        })
      );
    }
  } finally {
    for (const c of [memory, ...others]) await c.client.close();
  }
  const markdown = table(
    ["workload", "storage", "calls/s", "vs memory (median of rounds)", "range"],
    rows.map((row) => [
      row.workload,
      row.contender,
      fixed(row.rate, 0),
      row.ratios.length === 0 ? "1 (baseline)" : ratio(median(row.ratios)),
      row.ratios.length === 0 ? "" : spread(row.ratios),
    ]),
  );
  return { rows, markdown };
}

/** `concurrency` callers each calling `send` back to back for `seconds`; calls per second. */
async function closedLoop<C>(
  contender: C,
  send: (c: C) => Promise<void>,
  concurrency: number,
  seconds: number,
): Promise<number> {
  let count = 0;
  const start = clock();
  const end = start + seconds * 1000;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (clock() < end) {
      await send(contender);
      count++;
    }
  }));
  return count / ((clock() - start) / 1000);
}

/** One mode of the processes runs: how to start one process. */
interface Mode {
  name: string;
  command(trial: number, dir: string): string[];
}

/** Plain fetch, KV and Redis processes, alternating; the slowest process of each trial. */
async function processRuns(
  server: BenchServer,
  redisUrl: string,
  options: { trials: number; processes: number; requests: number },
) {
  const { trials, processes, requests } = options;
  const redisWorker = (kind: RedisClientKind) => (trial: number) => [
    REDIS_WORKER.href,
    JSON.stringify({
      redisUrl,
      client: kind,
      prefix: `bench-${kind}-${trial}:`, // a cold start: no token under this prefix yet
      tokenEndpoint: server.tokenEndpoint,
      resourceUrl: server.resourceUrl,
      requests,
      ...CLIENT,
    }),
  ];
  const modes: Mode[] = [
    {
      name: PLAIN,
      command: () => [
        PROCESS_WORKER.href,
        "plain",
        "--origin",
        server.origin,
        "--requests",
        String(requests),
      ],
    },
    {
      name: ALF_KV,
      command: (_, dir) => [
        PROCESS_WORKER.href,
        "alf",
        "--origin",
        server.origin,
        "--kv",
        `${dir}/tokens.kv`,
        "--requests",
        String(requests),
      ],
    },
    { name: ALF_REDIS, command: redisWorker("node-redis") },
    { name: ALF_IOREDIS, command: redisWorker("ioredis") },
  ];
  const results = new Map(modes.map((mode) => [mode.name, {
    tokens: [] as number[],
    slowest: [] as number[],
    statuses: new Set<string>(),
    errors: [] as string[],
  }]));
  for (let trial = 0; trial < trials; trial++) {
    const order = trial % 2 === 0 ? modes : [...modes].reverse();
    for (const mode of order) {
      const dir = await Deno.makeTempDir({ prefix: "alf_bench_redis_" });
      try {
        const run = await runProcesses(server, mode.command(trial, dir), processes);
        const entry = results.get(mode.name)!;
        entry.tokens.push(run.tokenRequests);
        entry.slowest.push(Math.max(...run.times));
        entry.statuses.add(run.statuses);
        entry.errors.push(...run.errors);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    }
  }
  const plain = results.get(PLAIN)!;
  const rows = modes.map(({ name }) => {
    const entry = results.get(name)!;
    const ratios = entry.slowest.map((ms, i) => ms / plain.slowest[i]!);
    return { contender: name, ...entry, ratios };
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
      row.contender === PLAIN ? "0 (token given)" : row.tokens.join(", "),
      `${fixed(median(row.slowest), 1)} ms`,
      row.contender === PLAIN ? "1 (baseline)" : ratio(median(row.ratios)),
      row.contender === PLAIN ? "" : spread(row.ratios),
      [...row.statuses].join("; "),
      String(row.errors.length),
    ]),
  );
  return { rows, markdown };
}

/**
 * Starts `count` processes of `args`, waits until every one is ready, says
 * "go" to all, and collects each one's time and statuses.
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
  const buffers = children.map(() => "");
  const readLine = async (i: number) => {
    while (!buffers[i]!.includes("\n")) {
      const { value, done } = await readers[i]!.read();
      if (done) throw new Error(`Cannot run the processes: process ${i} exited early`);
      buffers[i] += value;
    }
    const line = buffers[i]!.slice(0, buffers[i]!.indexOf("\n"));
    buffers[i] = buffers[i]!.slice(line.length + 1);
    return line;
  };
  const writers = children.map((child) => child.stdin.getWriter());
  try {
    await Promise.all(children.map((_, i) => readLine(i))); // "ready"
    const before = await server.control();
    const go = new TextEncoder().encode("go\n");
    await Promise.all(writers.map((writer) => writer.write(go)));
    const reports = (await Promise.all(children.map((_, i) => readLine(i)))).map((line) =>
      JSON.parse(line)
    );
    const after = await server.control();
    const all: Record<number, number> = {};
    const times: number[] = [];
    const errors: string[] = [];
    for (const report of reports) {
      // The bench worker reports `ms` and counts per status; the Redis worker `elapsed`, a list.
      times.push(report.ms ?? report.elapsed);
      errors.push(...report.errors);
      const statuses: [string, number][] = Array.isArray(report.statuses)
        ? report.statuses.map((status: number) => [String(status), 1])
        : Object.entries(report.statuses);
      for (const [code, n] of statuses) all[Number(code)] = (all[Number(code)] ?? 0) + n;
    }
    return {
      tokenRequests: after.tokenRequests - before.tokenRequests,
      times,
      errors,
      statuses: statusText(all),
    };
  } finally {
    await Promise.all(writers.map((writer) => writer.close().catch(() => {})));
    await Promise.all(readers.map((reader) => reader.cancel().catch(() => {})));
    await Promise.all(children.map((child) => child.status));
  }
}

if (import.meta.main) {
  await benchMain(
    { rounds: 10, seconds: 0.5, concurrency: 16, trials: 5, processes: 8, requests: 100 },
    redisBench,
  );
}
