// What the KV and Redis workers share: a separate process that shares a
// storage with the test (or the benchmark) and, for each line on its standard
// input, sends a burst of concurrent requests through one Client on that
// storage and prints what happened as one JSON line. It prints "ready" once
// the client exists, so that every process's burst can start together, and
// ends when its input closes. `startWorker` spawns and drives one.

import { Client, type ClientEvent, type TokenStorage } from "../../mod.ts";

/** What every worker is told to do; each storage's worker adds where its storage is. */
export interface WorkerConfig {
  tokenEndpoint: string;
  resourceUrl: string;
  /** Concurrent requests per burst. */
  requests: number;
  clientId?: string;
  clientSecret?: string;
  tokenTimeout?: number;
  pollInterval?: number;
  /**
   * DPoP: `"own"` makes a key of this process's own; a private JWK (ES256)
   * is a key shared with the processes given the same one.
   */
  dpop?: "own" | JsonWebKey;
}

/** What a worker prints after each burst. */
export interface WorkerReport {
  statuses: number[];
  /** The `token` events of this process's client during the burst: its token requests. */
  tokenRequests: number;
  /** The burst's error events, as `phase: message`. */
  errors: string[];
  /** Milliseconds from the start of the burst until every response arrived. */
  elapsed: number;
}

/** A running worker process. */
export interface Worker {
  process: Deno.ChildProcess;
  /** Resolves once the worker's client exists. */
  ready: Promise<void>;
  /** Sends one burst; resolves with its report. */
  go(): Promise<WorkerReport>;
  /** Closes the worker's input and waits for it to end. */
  close(): Promise<void>;
}

/** Spawns the worker module `module` (with `flags` for `deno run`) on `config`. */
export function startWorker(module: string, flags: string[], config: WorkerConfig): Worker {
  const process = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...flags, new URL(module).pathname, JSON.stringify(config)],
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

/** `count` workers made by `start`, all started and ready; `burst()` sends one in each at once. */
export async function startWorkers(count: number, start: (index: number) => Worker) {
  const workers = Array.from({ length: count }, (_, i) => start(i));
  const close = () => Promise.all(workers.map((worker) => worker.close())).then(() => {});
  try {
    await Promise.all(workers.map((worker) => worker.ready));
  } catch (error) {
    for (const worker of workers) worker.process.kill("SIGKILL");
    await close();
    throw error;
  }
  return {
    /** One burst in every process at once. */
    burst: (): Promise<WorkerReport[]> => Promise.all(workers.map((worker) => worker.go())),
    [Symbol.asyncDispose]: close,
  };
}

/**
 * Has `worker` start a burst and kills it once `server` has its token
 * request: a lease holder that dies mid-renewal, holding the lease.
 */
export async function killMidRenewal(
  worker: Worker,
  server: { tokenRequests: unknown[] },
): Promise<void> {
  try {
    await worker.ready;
    const going = worker.go().catch(() => undefined); // it never reports: it is killed
    while (server.tokenRequests.length === 0) await new Promise((r) => setTimeout(r, 2));
    worker.process.kill("SIGKILL");
    await going;
  } finally {
    await worker.close();
  }
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

/** In the worker process: its config, the JSON in its first argument. */
export function workerConfig<T extends WorkerConfig>(): T {
  const [config] = Deno.args;
  if (config === undefined) throw new TypeError("Cannot run the worker: no config argument");
  return JSON.parse(config);
}

/**
 * In the worker process: creates the client on `storage`, says "ready", then
 * sends one burst per line of input and prints its report; returns once the
 * input has closed and the client with it.
 */
export async function serveBursts(config: WorkerConfig, storage: TokenStorage): Promise<void> {
  const events: ClientEvent[] = [];
  await using client = new Client({
    tokenEndpoint: config.tokenEndpoint,
    clientId: config.clientId ?? "client-id",
    clientSecret: config.clientSecret ?? "client-secret",
    tokenTimeout: config.tokenTimeout,
    dpop: await dpopOption(config.dpop),
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
      const report: WorkerReport = {
        statuses,
        tokenRequests: events.filter((event) => event.type === "token").length,
        errors: events.flatMap((e) => e.type === "error" ? [`${e.phase}: ${String(e.error)}`] : []),
        elapsed: performance.now() - start,
      };
      console.log(JSON.stringify(report));
    }
  }
}

/** The client's `dpop` option for a worker's `dpop` setting. */
async function dpopOption(dpop: WorkerConfig["dpop"]) {
  if (dpop === undefined || dpop === "own") return dpop !== undefined;
  const algorithm = { name: "ECDSA", namedCurve: "P-256" };
  const { d: _, key_ops: __, ...publicJwk } = dpop;
  return {
    keyPair: {
      privateKey: await crypto.subtle.importKey("jwk", dpop, algorithm, false, ["sign"]),
      publicKey: await crypto.subtle.importKey("jwk", publicJwk, algorithm, true, ["verify"]),
    },
  };
}
