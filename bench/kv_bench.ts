/**
 * KV against memory storage, in one run: requests per second with a cached
 * token (target: KV at least 0.9x memory), and how long another process waits
 * for a token while one process renews it.
 *
 * `deno bench -A bench/kv_bench.ts`
 *
 * @module
 */

import { Client, KvTokenStorage, MemoryTokenStorage, type TokenStorage } from "../mod.ts";
import { startAuthServer } from "../testing.ts";
import { startKvWorker } from "../tests/storage/_kv_worker.ts";

/** The stand-in token endpoint's delay while the renewal benchmarks run. */
const TOKEN_DELAY = 20;

const server = await startAuthServer();
const dir = await Deno.makeTempDir({ prefix: "alf_kv_bench_" });
const kvPath = `${dir}/tokens.sqlite`;
const kv = await Deno.openKv(kvPath);
globalThis.addEventListener("unload", () => {
  kv.close();
  Deno.removeSync(dir, { recursive: true });
});

function client(storage: TokenStorage, clientId = "bench"): Client {
  return new Client({
    tokenEndpoint: server.tokenEndpoint,
    clientId,
    clientSecret: "secret",
    storage,
  });
}

const memoryClient = client(new MemoryTokenStorage());
const kvClient = client(new KvTokenStorage(kv));
await memoryClient.getToken();
await kvClient.getToken();

async function fetchOnce(c: Client): Promise<void> {
  const response = await c.fetch(server.resourceUrl);
  await response.body?.cancel();
}

Deno.bench("memory storage: getToken(), cached token", {
  group: "getToken",
  baseline: true,
}, async () => {
  await memoryClient.getToken();
});

Deno.bench("KV storage: getToken(), cached token", { group: "getToken" }, async () => {
  await kvClient.getToken();
});

Deno.bench("memory storage: fetch(), cached token", {
  group: "fetch",
  baseline: true,
}, async () => {
  await fetchOnce(memoryClient);
});

Deno.bench("KV storage: fetch(), cached token", { group: "fetch" }, async () => {
  await fetchOnce(kvClient);
});

let round = 0;

/**
 * One process (this one) renews a token while another process sends one
 * request for it; measures that request, from the moment the renewal is under
 * way until its response. With `stored`, the token is already in KV instead:
 * the time of a request that does not wait, for comparison.
 */
async function otherProcessRequest(b: Deno.BenchContext, stored: boolean): Promise<void> {
  const clientId = `renewal-${++round}`;
  const holder = client(new KvTokenStorage(kv), clientId);
  const worker = startKvWorker({
    kvPath,
    tokenEndpoint: server.tokenEndpoint,
    resourceUrl: server.resourceUrl,
    requests: 1,
    clientId,
  });
  try {
    await worker.ready;
    const before = server.tokenRequests.length;
    server.tokenDelay = TOKEN_DELAY;
    const renewing = holder.getToken();
    if (stored) await renewing;
    // The holder has the lease and its token request is at the endpoint.
    while (server.tokenRequests.length === before) await new Promise((r) => setTimeout(r, 1));
    b.start();
    const report = await worker.go();
    b.end();
    await renewing;
    if (report.tokenRequests !== 0 || report.statuses[0] !== 200) {
      throw new Error(`Cannot measure: the other process got ${JSON.stringify(report)}`);
    }
  } finally {
    server.tokenDelay = 0;
    await holder.close();
    await worker.close();
  }
}

Deno.bench("another process, token already in KV", {
  group: "renewal",
  baseline: true,
  n: 15,
  warmup: 2,
}, async (b) => await otherProcessRequest(b, true));

Deno.bench(`another process, while this one renews (token endpoint: ${TOKEN_DELAY} ms)`, {
  group: "renewal",
  n: 15,
  warmup: 2,
}, async (b) => await otherProcessRequest(b, false));
