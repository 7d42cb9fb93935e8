/**
 * Numbers for the benchmarks: medians, percentiles, ratios, memory readings
 * and a description of the machine they were taken on.
 *
 * @module
 */

import process from "node:process";

/** The median of `values` (NaN when empty). */
export function median(values: number[]): number {
  return percentile(values, 50);
}

/** The `p`-th percentile of `values`, nearest-rank (NaN when empty). */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  // The index is clamped into a non-empty array: the value is there.
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

/**
 * Each of `values` divided by the `baseline` value of the same run (trial,
 * round): both series must have one value per run.
 */
export function ratios(values: number[], baseline: number[]): number[] {
  if (values.length !== baseline.length) {
    throw new RangeError(
      `Cannot compare runs: ${values.length} values against ${baseline.length} of the baseline`,
    );
  }
  return values.map((value, i) => value / baseline[i]!);
}

/** `value` with `digits` decimals. */
export function fixed(value: number, digits = 2): string {
  return Number.isFinite(value) ? value.toFixed(digits) : "n/a";
}

/** A ratio as `0.98×`. */
export function ratio(value: number): string {
  return `${fixed(value)}×`;
}

/** The spread of ratios over repeats: `min–max`. */
export function spread(values: number[]): string {
  if (values.length === 0) return "n/a";
  return `${fixed(Math.min(...values))}–${fixed(Math.max(...values))}`;
}

/** Bytes as MiB with one decimal. */
export function mib(bytes: number): string {
  return `${fixed(bytes / 1024 / 1024, 1)} MiB`;
}

/** Milliseconds since an arbitrary origin, sub-millisecond. */
export const clock = (): number => performance.now();

/** CPU time (user + system) this process has used, in microseconds. */
export function cpuMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

/** The current and the peak resident set size of this process, in bytes. */
export function memory(): { rss: number; peak: number } {
  try {
    const status = Deno.readTextFileSync("/proc/self/status");
    const field = (name: string) =>
      Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1]) * 1024;
    return { rss: field("VmRSS"), peak: field("VmHWM") };
  } catch {
    const rss = Deno.memoryUsage().rss;
    return { rss, peak: NaN };
  }
}

/** Runs `gc()` when the process was started with `--v8-flags=--expose-gc`. */
export function collectGarbage(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) { for (let i = 0; i < 3; i++) gc(); }
}

/** The machine, runtime and load, for the record. */
export function machine(): Record<string, string> {
  let cpu = "unknown";
  try {
    const info = Deno.readTextFileSync("/proc/cpuinfo");
    cpu = /^model name\s*:\s*(.+)$/m.exec(info)?.[1]?.trim() ?? cpu;
  } catch {
    // Not Linux: leave it unknown.
  }
  return {
    cpus: String(navigator.hardwareConcurrency),
    cpu,
    os: `${Deno.build.os} ${Deno.osRelease()}`,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    load: loadText(),
  };
}

/** The 1, 5 and 15 minute load averages. */
export function loadText(): string {
  return Deno.loadavg().map((value) => fixed(value)).join(" ");
}

/**
 * `concurrency` callers, each calling `send` back to back for `ms`
 * milliseconds: how many calls they made, in how many seconds.
 */
export async function closedLoop(
  send: () => Promise<void>,
  concurrency: number,
  ms: number,
): Promise<{ calls: number; seconds: number }> {
  let calls = 0;
  const start = clock();
  const end = start + ms;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (clock() < end) {
      await send();
      calls++;
    }
  }));
  return { calls, seconds: (clock() - start) / 1000 };
}

/** Waits `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A markdown table. */
export function table(head: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(head), line(head.map(() => "---")), ...rows.map(line)].join("\n");
}
