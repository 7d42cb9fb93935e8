// The worker process of tests/storage/_worker_process.ts on KvTokenStorage:
// it shares a KV file with the test (or the benchmark).
//
// deno run -A --unstable-kv tests/storage/_kv_worker.ts '<json KvWorkerConfig>'
//
// Imported, it gives `startKvWorker`.

import { KvTokenStorage } from "../../mod.ts";
import { isTransientKvError } from "../../src/storage/_kv_retry.ts";
import {
  serveBursts,
  startWorker,
  type Worker,
  type WorkerConfig,
  workerConfig,
} from "./_worker_process.ts";

/** What a worker is told to do. */
export interface KvWorkerConfig extends WorkerConfig {
  kvPath: string;
}

/** Spawns a worker process with `config`. */
export function startKvWorker(config: KvWorkerConfig): Worker {
  return startWorker(import.meta.url, ["--unstable-kv"], config);
}

if (import.meta.main) await runWorker(workerConfig());

/** The worker process itself. */
async function runWorker(config: KvWorkerConfig): Promise<void> {
  using kv = await openKv(config.kvPath);
  await serveBursts(config, new KvTokenStorage(kv, { pollInterval: config.pollInterval }));
}

/** Opens the file, which other processes may be opening (and locking) too. */
async function openKv(path: string): Promise<Deno.Kv> {
  for (let attempt = 1;; attempt++) {
    try {
      return await Deno.openKv(path);
    } catch (error) {
      if (attempt === 20 || !isTransientKvError(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 10 * Math.random() * attempt));
    }
  }
}
