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
import { ALF_KV, ALF_MEMORY, consume, PLAIN } from "./_clients.ts";
import { benchMain } from "./_main.ts";
import { type BenchServer, CLIENT } from "./_servers.ts";
import { closedLoop, fixed, median, ratio, spread, table } from "./_stats.ts";
import { processTrials, processWorker } from "./processes.ts";

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
      const run = async (c: Contender) => {
        const loop = await closedLoop(
          () => send(c.client),
          options.concurrency,
          options.seconds * 1000,
        );
        return loop.calls / loop.seconds;
      };
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

/** Plain fetch, KV and Redis processes, alternating; the slowest process of each trial. */
function processRuns(
  server: BenchServer,
  redisUrl: string,
  options: { trials: number; processes: number; requests: number },
) {
  const { trials, processes, requests } = options;
  const worker = processWorker(server, requests);
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
  return processTrials(server, [
    { name: PLAIN, args: () => worker("plain") },
    { name: ALF_KV, args: (_, dir) => worker("alf", "--kv", `${dir}/tokens.kv`) },
    { name: ALF_REDIS, args: redisWorker("node-redis") },
    { name: ALF_IOREDIS, args: redisWorker("ioredis") },
  ], { trials, processes });
}

if (import.meta.main) {
  await benchMain(
    { rounds: 10, seconds: 0.5, concurrency: 16, trials: 5, processes: 8, requests: 100 },
    redisBench,
  );
}
