/**
 * Another process's wait for a KV renewal: this process renews a token
 * (through a token endpoint that takes `delay` ms) while a client in another
 * process on the same KV file needs it; the other process's request, from the
 * moment the renewal holds the lease to its response, against the endpoint's
 * delay. At each poll interval of `KvTokenStorage` (the other process cannot
 * be notified by KV: only its polls see the new token), the intervals
 * interleaved in rotating order within each trial, and beside them the same
 * request with the token already in KV (the floor: one KV read and the
 * resource request).
 *
 * `deno run -A bench/kv_wait.ts [--trials 15] [--delay 20]`
 *
 * @module
 */

import { KvTokenStorage } from "../mod.ts";
import { alfClient, rotated } from "./_clients.ts";
import { lines, type WaiterResult } from "./_kv_waiter.ts";
import { benchMain } from "./_main.ts";
import type { BenchServer } from "./_servers.ts";
import { fixed, median, percentile, ratio, table } from "./_stats.ts";

/** Settings of {@linkcode kvWait}. */
export interface KvWaitOptions {
  /** Trials; each runs every poll interval once, and the stored-token floor. */
  trials?: number;
  /** How long the token endpoint takes, milliseconds. */
  delay?: number;
}

/** One setting's figures over the trials. */
export interface KvWaitRow {
  /** `KvTokenStorage`'s poll interval in the other process, ms; 0 for the token already in KV. */
  pollInterval: number;
  /** The other process's wait of each trial, ms. */
  waits: number[];
  /** Each wait divided by the endpoint's delay. */
  ratios: number[];
  /**
   * The renewing process's own request, each trial, ms: from its call to its
   * response (lease, token request, token written, resource request).
   */
  holder: number[];
  /** Token requests the other process made, all trials (target: 0). */
  tokenRequests: number;
  statuses: number[];
}

/** The poll intervals measured, ms. */
export const POLL_INTERVALS = [25, 5, 1];
const WAITER = new URL("./_kv_waiter.ts", import.meta.url);

/** Measures the other process's wait at each poll interval. */
export async function kvWait(
  server: BenchServer,
  options: KvWaitOptions = {},
): Promise<{ rows: KvWaitRow[]; markdown: string }> {
  const { trials = 15, delay = 20 } = options;
  const dir = await Deno.makeTempDir({ prefix: "alf_bench_kv_wait_" });
  const path = `${dir}/tokens.kv`;
  const kv = await Deno.openKv(path);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", WAITER.href, "--origin", server.origin, "--kv", path],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const writer = child.stdin.getWriter();
  const next = lines(child.stdout);
  const expect = async (what: string) => {
    const line = await next();
    if (line === undefined) throw new Error(`Cannot measure the KV wait: the waiter exited`);
    if (what && line !== what) {
      throw new Error(`Cannot measure the KV wait: the waiter said ${line}`);
    }
    return line;
  };
  const say = (line: string) => writer.write(new TextEncoder().encode(`${line}\n`));
  const settings = [0, ...POLL_INTERVALS];
  const rows = settings.map((pollInterval): KvWaitRow => ({
    pollInterval,
    waits: [],
    ratios: [],
    holder: [],
    tokenRequests: 0,
    statuses: [],
  }));
  let trialId = 0;
  try {
    await expect("started");
    await server.control({ expiresIn: 3600, tokenDelay: delay });
    // One unmeasured trial first: JIT, connections and the KV file warm up.
    for (let trial = -1; trial < trials; trial++) {
      for (const row of rotated(rows, Math.max(0, trial))) {
        const prefix = ["bench-kv-wait", ++trialId];
        const holder = alfClient(server, { storage: new KvTokenStorage(kv, { prefix }) });
        try {
          const stored = row.pollInterval === 0;
          if (stored) await holder.fetch(server.resourceUrl).then((r) => r.arrayBuffer());
          await say(JSON.stringify({ prefix, pollInterval: stored ? 25 : row.pollInterval }));
          await expect("ready");
          let renewing: Promise<number> | undefined;
          if (!stored) {
            const renewalStart = performance.now();
            renewing = holder.fetch(server.resourceUrl).then(async (response) => {
              await response.arrayBuffer();
              return performance.now() - renewalStart;
            });
            // Once the lease is taken, the token request is on its way.
            while (!(await hasLease(kv, prefix))) { /* one KV read per turn */ }
          }
          await say("go");
          const result: WaiterResult = JSON.parse(await expect(""));
          const held = renewing ? await renewing : 0;
          if (trial < 0) continue;
          row.waits.push(result.ms);
          row.ratios.push(result.ms / delay);
          row.holder.push(held);
          row.tokenRequests += result.tokenRequests;
          row.statuses.push(result.status);
        } finally {
          await holder.close();
        }
      }
    }
  } finally {
    await server.control({ tokenDelay: 0 }).catch(() => {});
    await writer.close().catch(() => {});
    await child.status;
    kv.close();
    await Deno.remove(dir, { recursive: true });
  }
  const markdown = table(
    [
      "other process's poll interval",
      "its wait (median)",
      "vs the endpoint's delay",
      "middle half",
      "range",
      "renewing process's own time",
      "its token requests",
      "statuses",
    ],
    rows.map((row) => [
      row.pollInterval === 0 ? "token already in KV (floor)" : `${row.pollInterval} ms`,
      `${fixed(median(row.waits))} ms`,
      ratio(median(row.ratios)),
      `${fixed(percentile(row.ratios, 25))}–${fixed(percentile(row.ratios, 75))}`,
      `${fixed(Math.min(...row.ratios))}–${fixed(Math.max(...row.ratios))}`,
      row.pollInterval === 0 ? "" : `${fixed(median(row.holder))} ms`,
      String(row.tokenRequests),
      statusSummary(row.statuses),
    ]),
  );
  return { rows, markdown };
}

async function hasLease(kv: Deno.Kv, prefix: Deno.KvKey): Promise<boolean> {
  for await (const _ of kv.list({ prefix: [...prefix, "lease"] }, { limit: 1 })) return true;
  return false;
}

function statusSummary(statuses: number[]): string {
  const counts = new Map<number, number>();
  for (const status of statuses) counts.set(status, (counts.get(status) ?? 0) + 1);
  return [...counts].map(([code, n]) => `${code}×${n}`).join(", ");
}

if (import.meta.main) await benchMain({ trials: 15, delay: 20 }, kvWait);
