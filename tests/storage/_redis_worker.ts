// A separate process that shares a Redis with the test (or the benchmark):
// for each line on its standard input it sends a burst of concurrent
// requests through one Client on RedisTokenStorage, and prints what happened
// as one JSON line. It ends when its input closes.
//
// deno run -A tests/storage/_redis_worker.ts '<json RedisWorkerConfig>'
//
// It prints "ready" once the client exists, so that every process's burst
// can start together. Imported, it gives `startRedisWorker`.

import { Client, type ClientEvent } from "../../mod.ts";
import { RedisTokenStorage } from "../../redis.ts";
import { connectRedis, type RedisClientKind } from "./_redis_server.ts";

/** What a worker is told to do. */
export interface RedisWorkerConfig {
  redisUrl: string;
  client: RedisClientKind;
  tokenEndpoint: string;
  resourceUrl: string;
  /** Concurrent requests per burst. */
  requests: number;
  prefix?: string;
  clientId?: string;
  clientSecret?: string;
  tokenTimeout?: number;
  pollInterval?: number;
}

/** What a worker prints after each burst. */
export interface RedisWorkerReport {
  statuses: number[];
  /** The `token` events of this process's client during the burst: its token requests. */
  tokenRequests: number;
  /** The burst's error events, as `phase: message`. */
  errors: string[];
  /** Milliseconds from the start of the burst until every response arrived. */
  elapsed: number;
}

/** A running worker process. */
export interface RedisWorker {
  process: Deno.ChildProcess;
  /** Resolves once the worker's client exists. */
  ready: Promise<void>;
  /** Sends one burst; resolves with its report. */
  go(): Promise<RedisWorkerReport>;
  /** Closes the worker's input and waits for it to end. */
  close(): Promise<void>;
}

/** Spawns a worker process with `config`. */
export function startRedisWorker(config: RedisWorkerConfig): RedisWorker {
  const process = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(import.meta.url).pathname, JSON.stringify(config)],
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

if (import.meta.main) await runWorker(JSON.parse(Deno.args[0] ?? "{}"));

/** The worker process itself. */
async function runWorker(config: RedisWorkerConfig): Promise<void> {
  await using redis = await connectRedis(config.client, config.redisUrl);
  await using storage = new RedisTokenStorage(redis.client, {
    prefix: config.prefix,
    pollInterval: config.pollInterval,
  });
  const events: ClientEvent[] = [];
  await using client = new Client({
    tokenEndpoint: config.tokenEndpoint,
    clientId: config.clientId ?? "client-id",
    clientSecret: config.clientSecret ?? "client-secret",
    tokenTimeout: config.tokenTimeout,
    storage,
    onEvent: (event) => events.push(event),
  });
  console.log("ready");
  const input = Deno.stdin.readable.pipeThrough(new TextDecoderStream());
  for await (const chunk of input) {
    const bursts = chunk.split("\n").length - 1; // one per line
    for (let burst = 0; burst < bursts; burst++) {
      events.length = 0;
      const start = performance.now();
      const statuses = await Promise.all(
        Array.from({ length: config.requests }, async () => {
          const response = await client.fetch(config.resourceUrl);
          await response.arrayBuffer(); // read, as a caller would
          return response.status;
        }),
      );
      const report: RedisWorkerReport = {
        statuses,
        tokenRequests: events.filter((event) => event.type === "token").length,
        errors: events.flatMap((e) => e.type === "error" ? [`${e.phase}: ${String(e.error)}`] : []),
        elapsed: performance.now() - start,
      };
      console.log(JSON.stringify(report));
    }
  }
}
