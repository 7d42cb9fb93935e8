/**
 * Revocation storm: many concurrent requests on a client whose token the
 * server has just revoked. Every first attempt gets a 401; counts the token
 * requests that causes (target: 1 renewal) and times the burst against plain
 * `fetch` with a valid token, in rotating order.
 *
 * `deno run -A bench/revocation.ts [--trials 7] [--requests 1000]`
 *
 * @module
 */

import { type BurstRow, burstTable, burstTrials } from "./_burst.ts";
import { consume, PLAIN } from "./_clients.ts";
import { benchMain } from "./_main.ts";
import type { BenchServer } from "./_servers.ts";

/** Settings of {@linkcode revocation}. */
export interface RevocationOptions {
  /** Trials; each runs every contender once, on a new client. */
  trials?: number;
  /** Concurrent requests per trial. */
  requests?: number;
}

/** Times `requests` concurrent requests whose token was revoked. */
export async function revocation(
  server: BenchServer,
  options: RevocationOptions = {},
): Promise<{ rows: BurstRow[]; markdown: string }> {
  const { trials = 7, requests = 1000 } = options;
  const rows = await burstTrials(server, {
    trials,
    requests,
    // Revoke first: plain fetch then gets a valid token when it is made.
    beforeEach: async () => void await server.control({ revoke: true }),
    // A client gets its token, which is then revoked.
    prime: async (contender) => {
      await consume(await contender.fetch(server.resourceUrl));
      await server.control({ revoke: true });
    },
  });
  return { rows, markdown: burstTable(rows, `${PLAIN} (valid token, no 401)`) };
}

if (import.meta.main) await benchMain({ trials: 7, requests: 1000 }, revocation);
