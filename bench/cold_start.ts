/**
 * Cold start: many concurrent requests on a new client, which has no token
 * yet. Counts the token requests they cause (target: 1) and times them
 * against plain `fetch` with a token it already has, in rotating order.
 *
 * `deno run -A bench/cold_start.ts [--trials 7] [--requests 1000]`
 *
 * @module
 */

import { type BurstRow, burstTable, burstTrials } from "./_burst.ts";
import { PLAIN } from "./_clients.ts";
import { benchMain } from "./_main.ts";
import type { BenchServer } from "./_servers.ts";

/** Settings of {@linkcode coldStart}. */
export interface ColdStartOptions {
  /** Trials; each runs every contender once, on a new client. */
  trials?: number;
  /** Concurrent requests per trial. */
  requests?: number;
}

/** Times `requests` concurrent requests on new clients. */
export async function coldStart(
  server: BenchServer,
  options: ColdStartOptions = {},
): Promise<{ rows: BurstRow[]; markdown: string }> {
  const { trials = 7, requests = 1000 } = options;
  const rows = await burstTrials(server, { trials, requests });
  return { rows, markdown: burstTable(rows, PLAIN) };
}

if (import.meta.main) await benchMain({ trials: 7, requests: 1000 }, coldStart);
