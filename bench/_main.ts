/**
 * The command line of a benchmark file run alone: numeric flags with
 * defaults, a bench server for the run, the markdown on standard output.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { type BenchServer, startBenchServer } from "./_servers.ts";

/**
 * Parses `--flag value` for every key of `defaults` (`waitThreshold` is
 * `--wait-threshold`), runs `bench` against a new bench server and prints its
 * markdown.
 */
export async function benchMain<T extends Record<string, number>>(
  defaults: T,
  bench: (server: BenchServer, options: T) => Promise<{ markdown: string }>,
): Promise<void> {
  const flag = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
  const { values } = parseArgs({
    options: Object.fromEntries(
      Object.keys(defaults).map((key) => [flag(key), { type: "string" as const }]),
    ),
  });
  const options = Object.fromEntries(
    Object.entries(defaults).map(([key, value]) => {
      const given = values[flag(key)];
      return [key, typeof given === "string" ? Number(given) : value];
    }),
  ) as T;
  await using server = await startBenchServer();
  console.log((await bench(server, options)).markdown);
}
