/**
 * Renewal without stalls: a steady open-loop load while tokens live 4 s and
 * the token endpoint takes 200 ms to answer. Every contender sends at the
 * same rate in the same time window, so their latencies compare side by side.
 *
 * A request "waited for a token" when the contender's transport was called
 * more than `--wait-threshold` ms (default 10) after the request was made: a
 * cached token is handed out within microtasks (plain fetch, which has no
 * token step, shows the machine's jitter on that path: up to a few ms), while
 * a request that waits for a token request waits for up to the endpoint's
 * 200 ms. The token events of
 * `@alf/client` back this up: every renewal after the first token must be a
 * background one (`expiring`), none `expired` or `rejected`.
 *
 * `deno run -A bench/renewal.ts [--seconds 20] [--rate 200] [--lifetime 4] [--delay 200]`
 *
 * @module
 */

import type { ClientEvent } from "../mod.ts";
import {
  ALF_MEMORY,
  alfClient,
  consume,
  type Contender,
  OAUTH2_FETCH,
  oauth2Fetch,
  PLAIN,
  plainFetch,
} from "./_clients.ts";
import { benchMain } from "./_main.ts";
import type { BenchServer } from "./_servers.ts";
import { clock, fixed, percentile, ratio, sleep, table } from "./_stats.ts";

/** Settings of {@linkcode renewal}. */
export interface RenewalOptions {
  /** Length of the run, seconds. */
  seconds?: number;
  /** Requests per second, per contender. */
  rate?: number;
  /** Token lifetime (`expires_in`), seconds. */
  lifetime?: number;
  /** Token endpoint delay, milliseconds. */
  delay?: number;
  /** A wait for the transport longer than this counts as a wait for a token, ms. */
  waitThreshold?: number;
}

/** One contender's figures. */
export interface RenewalRow {
  contender: string;
  requests: number;
  /** Requests that waited for a token (transport called later than the threshold). */
  waited: number;
  /** Requests whose transport was called more than 1 ms after the call. */
  over1ms: number;
  /** The longest time from the call to the transport, ms. */
  maxWait: number;
  p50: number;
  p99: number;
  max: number;
  /** p99 divided by plain fetch's p99. */
  p99Ratio: number;
  /** Statuses other than 200. */
  failures: number;
}

const START_HEADER = "x-bench-start";

interface Samples {
  waits: number[];
  latencies: number[];
  failures: number;
}

/**
 * A transport that records, per request, how long after the call it was
 * reached. Token requests (which carry no start header) are not recorded.
 */
function instrumented(samples: Samples): typeof fetch {
  return (input, init) => {
    const headers = input instanceof Request ? input.headers : new Headers(init?.headers);
    const start = headers.get(START_HEADER);
    if (start !== null) samples.waits.push(clock() - Number(start));
    return fetch(input, init);
  };
}

/** Runs the steady load and reports waits and latency percentiles. */
export async function renewal(
  server: BenchServer,
  options: RenewalOptions = {},
): Promise<{ rows: RenewalRow[]; events: Record<string, number>; markdown: string }> {
  const { seconds = 20, rate = 200, lifetime = 4, delay = 200, waitThreshold = 10 } = options;
  await server.control({ expiresIn: 3600, tokenDelay: 0 });
  const samples = new Map<string, Samples>();
  const sampler = (name: string) => {
    const entry: Samples = { waits: [], latencies: [], failures: 0 };
    samples.set(name, entry);
    return instrumented(entry);
  };
  const samplesOf = (name: string) => {
    const entry = samples.get(name);
    if (entry === undefined) {
      throw new Error(`Cannot run the renewal benchmark: ${name} has no sampler`);
    }
    return entry;
  };
  // Plain fetch's token is long-lived; the clients' tokens live `lifetime` s.
  const plain = await plainFetch(server, sampler(PLAIN));
  await server.control({ expiresIn: lifetime, tokenDelay: delay });
  const events: ClientEvent[] = [];
  const alf = alfClient(server, { fetch: sampler(ALF_MEMORY) });
  const contenders: Contender[] = [plain, alf, oauth2Fetch(server, sampler(OAUTH2_FETCH))];
  try {
    // Each client gets its first token before the run: that wait is not counted.
    for (const contender of contenders) await consume(await contender.fetch(server.resourceUrl));
    for (const entry of samples.values()) entry.waits.length = 0;
    alf.events.length = 0;

    const pending: Promise<void>[] = [];
    const send = (contender: Contender) => {
      const entry = samplesOf(contender.name);
      const start = clock();
      pending.push((async () => {
        const response = await contender.fetch(server.resourceUrl, {
          headers: { [START_HEADER]: String(start) },
        });
        if (await consume(response) !== 200) entry.failures++;
        entry.latencies.push(clock() - start);
      })());
    };
    const interval = 1000 / rate;
    const begin = clock();
    let sent = 0;
    while (clock() - begin < seconds * 1000) {
      const due = Math.floor((clock() - begin) / interval) + 1;
      for (; sent < due; sent++) for (const contender of contenders) send(contender);
      await sleep(1);
      // Keep the pending list short: settled requests are dropped.
      if (pending.length > 10_000) await Promise.all(pending.splice(0, 5_000));
    }
    await Promise.all(pending);
    events.push(...alf.events);
  } finally {
    for (const contender of contenders) await contender.close();
    await server.control({ expiresIn: 3600, tokenDelay: 0 });
  }
  const plainP99 = percentile(samplesOf(PLAIN).latencies, 99);
  const rows = [...samples].map(([contender, entry]) => {
    const p99 = percentile(entry.latencies, 99);
    return {
      contender,
      requests: entry.latencies.length,
      waited: entry.waits.filter((wait) => wait > waitThreshold).length,
      over1ms: entry.waits.filter((wait) => wait > 1).length,
      maxWait: Math.max(...entry.waits),
      p50: percentile(entry.latencies, 50),
      p99,
      max: Math.max(...entry.latencies),
      p99Ratio: p99 / plainP99,
      failures: entry.failures,
    };
  });
  const reasons: Record<string, number> = {};
  for (const event of events) {
    if (event.type !== "token" && event.type !== "error") continue;
    const name = event.type === "token" ? `token:${event.reason}` : `error:${event.phase}`;
    reasons[name] = (reasons[name] ?? 0) + 1;
  }
  const markdown = [
    table(
      [
        "contender",
        "requests",
        `waited for a token (> ${waitThreshold} ms)`,
        "waits > 1 ms",
        "longest wait",
        "p50",
        "p99",
        "max",
        "p99 vs plain fetch",
        "non-200",
      ],
      rows.map((row) => [
        row.contender,
        String(row.requests),
        String(row.waited),
        String(row.over1ms),
        `${fixed(row.maxWait, 2)} ms`,
        `${fixed(row.p50)} ms`,
        `${fixed(row.p99)} ms`,
        `${fixed(row.max)} ms`,
        row.contender === PLAIN ? "1 (baseline)" : ratio(row.p99Ratio),
        String(row.failures),
      ]),
    ),
    "",
    `@alf/client token events during the run: ${
      Object.entries(reasons).map(([name, n]) => `${name} ${n}`).join(", ") || "none"
    } (token lifetime ${lifetime} s, token endpoint delay ${delay} ms, ${rate} req/s per contender for ${seconds} s).`,
  ].join("\n");
  return { rows, events: reasons, markdown };
}

if (import.meta.main) {
  await benchMain(
    { seconds: 20, rate: 200, lifetime: 4, delay: 200, waitThreshold: 10 },
    renewal,
  );
}
