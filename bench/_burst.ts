/**
 * Burst trials, shared by the cold start and revocation storm benchmarks:
 * every contender, on a new client per trial, sends many requests at once;
 * the trials rotate the contenders' order.
 *
 * @module
 */

import {
  alfClient,
  alfKvClient,
  burst,
  byTableOrder,
  type Contender,
  oauth2Fetch,
  PLAIN,
  plainFetch,
  rotated,
  statusText,
} from "./_clients.ts";
import type { BenchServer } from "./_servers.ts";
import { fixed, median, ratio, ratios, spread, table } from "./_stats.ts";

/** One contender's figures over the trials. */
export interface BurstRow {
  contender: string;
  /** Token requests made by each trial's burst. */
  tokenRequests: number[];
  /** Median time to all responses, milliseconds. */
  ms: number;
  /** Each trial's time divided by plain fetch's in the same trial. */
  ratios: number[];
  statuses: string;
}

/** Settings of {@linkcode burstTrials}. */
export interface BurstTrialsOptions {
  trials: number;
  /** Concurrent requests per burst. */
  requests: number;
  /** Before each contender is made (plain fetch gets its token when it is made). */
  beforeEach?: () => Promise<void>;
  /** After a client (not plain fetch) is made, before its burst. */
  prime?: (contender: Contender) => Promise<void>;
}

const FACTORIES: ((server: BenchServer) => Promise<Contender> | Contender)[] = [
  plainFetch,
  (server) => alfClient(server),
  (server) => alfKvClient(server),
  (server) => oauth2Fetch(server),
];

/** Runs an unrecorded warm-up trial, then the trials; returns a row per contender. */
export async function burstTrials(
  server: BenchServer,
  options: BurstTrialsOptions,
): Promise<BurstRow[]> {
  const { trials, requests, beforeEach, prime } = options;
  await server.control({ expiresIn: 3600, tokenDelay: 0 });
  const results = new Map<string, { tokens: number[]; ms: number[]; statuses: string[] }>();
  // Trial -1 warms up connections and JIT.
  for (let trial = -1; trial < trials; trial++) {
    for (const factory of rotated(FACTORIES, trial + 1)) {
      await beforeEach?.();
      const contender = await factory(server);
      try {
        if (contender.name !== PLAIN) await prime?.(contender);
        const before = await server.control();
        const { ms, statuses } = await burst(contender.fetch, server.resourceUrl, requests);
        const after = await server.control();
        if (trial < 0) continue;
        const entry = results.get(contender.name) ?? { tokens: [], ms: [], statuses: [] };
        entry.tokens[trial] = after.tokenRequests - before.tokenRequests;
        entry.ms[trial] = ms;
        entry.statuses[trial] = statusText(statuses);
        results.set(contender.name, entry);
      } finally {
        await contender.close();
      }
    }
  }
  // Plain fetch runs in every trial: without it, no trial ran and there are no rows.
  const baseline = results.get(PLAIN)?.ms ?? [];
  return [...results].sort(byTableOrder).map(([contender, entry]) => ({
    contender,
    tokenRequests: entry.tokens,
    ms: median(entry.ms),
    ratios: ratios(entry.ms, baseline),
    statuses: [...new Set(entry.statuses)].join("; "),
  }));
}

/** The rows as a markdown table; `plainLabel` names the baseline's row. */
export function burstTable(rows: BurstRow[], plainLabel: string): string {
  return table(
    [
      "contender",
      "token requests per trial",
      "time to all responses",
      "vs plain fetch",
      "range",
      "statuses",
    ],
    rows.map((row) => {
      const plain = row.contender === PLAIN;
      return [
        plain ? plainLabel : row.contender,
        plain ? "0 (token given)" : row.tokenRequests.join(", "),
        `${fixed(row.ms, 1)} ms`,
        plain ? "1 (baseline)" : ratio(median(row.ratios)),
        plain ? "" : spread(row.ratios),
        row.statuses,
      ];
    }),
  );
}
