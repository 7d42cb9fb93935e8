/**
 * The other process of the KV wait benchmark: for each trial, a new client on
 * a shared KV file that sends one request while the parent renews the token.
 *
 * `deno run -A bench/_kv_waiter.ts --origin URL --kv PATH`
 *
 * Protocol, one line each way: the parent sends a trial as JSON
 * (`{"prefix": [...], "pollInterval": 25}`), the worker makes the client and
 * prints `ready`; the parent sends `go`, the worker sends its request and
 * prints `{"ms": …, "status": …}` (from "go" to the body read). It ends when
 * its input closes.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { KvTokenStorage } from "../mod.ts";
import { alfClient, consume } from "./_clients.ts";
import { connectBenchServer } from "./_servers.ts";

/** One trial, as the parent sends it. */
export interface WaiterTrial {
  prefix: Deno.KvKey;
  pollInterval: number;
}

/** What the worker prints after its request. */
export interface WaiterResult {
  /** From "go" to the response body read, milliseconds. */
  ms: number;
  status: number;
  /** Token requests this process made (target: 0, the parent renews). */
  tokenRequests: number;
}

/** Reads `stream` a line at a time. */
export function lines(stream: ReadableStream<Uint8Array>): () => Promise<string | undefined> {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  return async () => {
    while (!buffer.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) return undefined;
      buffer += value;
    }
    const line = buffer.slice(0, buffer.indexOf("\n"));
    buffer = buffer.slice(line.length + 1);
    return line;
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { origin: { type: "string" }, kv: { type: "string" } } });
  if (values.kv === undefined) throw new TypeError("Cannot run the KV waiter: no --kv was given");
  const server = connectBenchServer(values.origin);
  using kv = await Deno.openKv(values.kv);
  const next = lines(Deno.stdin.readable);
  console.log("started");
  for (let line = await next(); line !== undefined; line = await next()) {
    const trial: WaiterTrial = JSON.parse(line);
    let tokenRequests = 0;
    const client = alfClient(server, {
      storage: new KvTokenStorage(kv, { prefix: trial.prefix, pollInterval: trial.pollInterval }),
      onEvent: (event) => {
        if (event.type === "token") tokenRequests++;
      },
    });
    console.log("ready");
    await next(); // "go"
    const start = performance.now();
    const status = await consume(await client.fetch(server.resourceUrl));
    const result: WaiterResult = { ms: performance.now() - start, status, tokenRequests };
    console.log(JSON.stringify(result));
    await client.close();
  }
}

if (import.meta.main) await main();
