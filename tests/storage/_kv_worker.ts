// A separate process that shares a KV file with the test (or the benchmark):
// it sends a burst of concurrent requests through a Client on KvTokenStorage
// and prints what happened as one JSON line.
//
// deno run -A --unstable-kv tests/storage/_kv_worker.ts '<json WorkerConfig>'
//
// It prints "ready" once the client exists, then waits for a line on stdin
// before sending, so that every process's burst can start together.
// Imported, it gives `startKvWorker`, which spawns and drives one.

import { Client, type ClientEvent, KvTokenStorage } from "../../mod.ts";
import { isTransientKvError } from "../../src/storage/_kv_retry.ts";

/** What a worker is told to do. */
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

/** A running worker process. */
export interface KvWorker {
  process: Deno.ChildProcess;
  /** Resolves once the worker's client exists. */
  ready: Promise<void>;
  /** Starts the burst; resolves with the worker's report. */
  go(): Promise<WorkerReport>;
  /** Waits for the process to end, closing its input and output. */
  close(): Promise<void>;
}

/** Spawns a worker process with `config`. */
export function startKvWorker(config: WorkerConfig): KvWorker {
  const process = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--unstable-kv", new URL(import.meta.url).pathname, JSON.stringify(config)],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines = readLines(process.stdout);
  const stderr = new Response(process.stderr).text();
  const writer = process.stdin.getWriter();
  const next = async () => {
    const { value, done } = await lines.next();
    if (done) throw new Error(`Cannot read the worker's output: it exited\n${await stderr}`);
    return value;
  };
  const ready = next().then((line) => {
    if (line !== "ready") throw new Error(`Cannot start the worker: it said ${line}`);
  });
  return {
    process,
    ready,
    async go() {
      const report = next();
      await writer.write(new TextEncoder().encode("go\n"));
      return JSON.parse(await report);
    },
    async close() {
      await ready.catch(() => {});
      await writer.close().catch(() => {});
      await lines.return(undefined);
      await stderr;
      await process.status;
    },
  };
}

async function* readLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let buffer = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buffer += chunk;
    let newline;
    while ((newline = buffer.indexOf("\n")) >= 0) {
      yield buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
    }
  }
}

if (import.meta.main) {
  const [config] = Deno.args;
  if (config === undefined) throw new TypeError("Cannot run the KV worker: no config argument");
  await runWorker(JSON.parse(config));
}

/** The worker process itself. */
async function runWorker(config: WorkerConfig): Promise<void> {
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
