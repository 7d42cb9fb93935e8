/**
 * One process of the processes benchmark: a cold client (no token yet) that
 * sends a burst of concurrent requests when the parent says "go".
 *
 * `deno run -A bench/_process_worker.ts <alf|plain> --origin URL [--kv PATH] [--requests 100] [--poll-interval MS]`
 *
 * Prints `ready` once set up, waits for a line on standard input, then prints
 * the burst's figures as JSON.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { KvTokenStorage } from "../mod.ts";
import { alfClient, burst, type Contender, plainFetch } from "./_clients.ts";
import { connectBenchServer } from "./_servers.ts";

/** What a worker prints when its burst is done. */
export interface WorkerResult {
  /** From "go" to the last response read, milliseconds. */
  ms: number;
  statuses: Record<number, number>;
  /** The client's error events (storage failures), as `phase: message`. */
  errors: string[];
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      origin: { type: "string" },
      kv: { type: "string" },
      requests: { type: "string", default: "100" },
      "poll-interval": { type: "string" },
    },
  });
  const server = connectBenchServer(values.origin);
  let kv: Deno.Kv | undefined;
  let contender: Contender;
  const errors: string[] = [];
  if (positionals[0] === "plain") {
    contender = await plainFetch(server);
  } else {
    if (values.kv === undefined) throw new TypeError("Cannot run the KV worker: no --kv was given");
    kv = await openKv(values.kv);
    contender = alfClient(server, {
      storage: new KvTokenStorage(kv, {
        pollInterval: values["poll-interval"] ? Number(values["poll-interval"]) : undefined,
      }),
      onEvent: (event) => {
        if (event.type === "error") errors.push(`${event.phase}: ${String(event.error)}`);
      },
    });
  }
  console.log("ready");
  const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream()).getReader();
  await lines.read(); // "go"
  const { ms, statuses } = await burst(
    contender.fetch,
    server.resourceUrl,
    Number(values.requests),
  );
  const result: WorkerResult = { ms, statuses, errors };
  console.log(JSON.stringify(result));
  await contender.close();
  kv?.close();
  await lines.cancel();
}

/** Opens the KV file, retrying while the other processes hold its lock. */
async function openKv(path: string): Promise<Deno.Kv> {
  for (let attempt = 1;; attempt++) {
    try {
      return await Deno.openKv(path);
    } catch (error) {
      if (attempt >= 100 || !/database is locked/i.test(String(error))) throw error;
      await new Promise((resolve) => setTimeout(resolve, 10 + Math.random() * 40));
    }
  }
}

if (import.meta.main) await main();
