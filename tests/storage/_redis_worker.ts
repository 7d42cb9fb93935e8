// The worker process of tests/storage/_worker_process.ts on RedisTokenStorage:
// it shares a Redis with the test (or the benchmark).
//
// deno run -A tests/storage/_redis_worker.ts '<json RedisWorkerConfig>'
//
// Imported, it gives `startRedisWorker`.

import { RedisTokenStorage } from "../../redis.ts";
import { connectRedis, type RedisClientKind } from "./_redis_server.ts";
import {
  serveBursts,
  startWorker,
  type Worker,
  type WorkerConfig,
  workerConfig,
} from "./_worker_process.ts";

/** What a worker is told to do. */
export interface RedisWorkerConfig extends WorkerConfig {
  redisUrl: string;
  client: RedisClientKind;
  prefix?: string;
}

/** Spawns a worker process with `config`. */
export function startRedisWorker(config: RedisWorkerConfig): Worker {
  return startWorker(import.meta.url, [], config);
}

if (import.meta.main) await runWorker(workerConfig());

/** The worker process itself. */
async function runWorker(config: RedisWorkerConfig): Promise<void> {
  await using redis = await connectRedis(config.client, config.redisUrl);
  await using storage = new RedisTokenStorage(redis.client, {
    prefix: config.prefix,
    pollInterval: config.pollInterval,
  });
  await serveBursts(config, storage);
}
