// A separate process that shares a KV file with the test: it sends a burst of
// concurrent requests through a Client on KvTokenStorage and prints what
// happened as one JSON line.
//
// deno run -A --unstable-kv tests/storage/_kv_worker.ts '<json WorkerConfig>'
//
// It prints "ready" once the client exists, then waits for a line on stdin
// before sending, so that the test can start every process's burst together.

import { Client, type ClientEvent, KvTokenStorage } from "../../mod.ts";
import { isTransientKvError } from "../../src/storage/_kv_retry.ts";

/** What the test tells a worker. */
export interface WorkerConfig {
  kvPath: string;
  tokenEndpoint: string;
  resourceUrl: string;
  /** Concurrent requests in the burst. */
  requests: number;
  clientId?: string;
  tokenTimeout?: number;
  pollInterval?: number;
}

/** What a worker prints when its burst is done. */
export interface WorkerReport {
  statuses: number[];
  /** The `token` events of this process's client: its token requests. */
  tokenRequests: number;
  errors: string[];
  /** Milliseconds from the start of the burst until every response arrived. */
  elapsed: number;
}

const config: WorkerConfig = JSON.parse(Deno.args[0]);
const kv = await openKv(config.kvPath);
const events: ClientEvent[] = [];
const client = new Client({
  tokenEndpoint: config.tokenEndpoint,
  clientId: config.clientId ?? "client-id",
  clientSecret: "client-secret",
  tokenTimeout: config.tokenTimeout,
  storage: new KvTokenStorage(kv, { pollInterval: config.pollInterval }),
  onEvent: (event) => events.push(event),
});
console.log("ready");
await waitForLine();
const start = performance.now();
const statuses = await Promise.all(
  Array.from({ length: config.requests }, async () => {
    const response = await client.fetch(config.resourceUrl);
    await response.body?.cancel();
    return response.status;
  }),
);
const report: WorkerReport = {
  statuses,
  tokenRequests: events.filter((event) => event.type === "token").length,
  errors: events.flatMap((event) => event.type === "error" ? [String(event.error)] : []),
  elapsed: performance.now() - start,
};
console.log(JSON.stringify(report));
await client.close();
kv.close();

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

async function waitForLine(): Promise<void> {
  const reader = Deno.stdin.readable.getReader();
  const decoder = new TextDecoder();
  let text = "";
  while (!text.includes("\n")) {
    const { done, value } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  reader.releaseLock();
}
