/**
 * Memory: the peak resident set size of a 64 MiB upload accepted on the first
 * try (streamed, and as one byte array), and the resident set size after a long run of requests
 * against the one after warm-up. Each measurement runs in a process of its
 * own (this file, started with `--child`), plain `fetch` and `@alf/client`
 * alternating.
 *
 * `deno run -A bench/memory.ts [--repeats 3] [--megabytes 64] [--requests 1000000]`
 *
 * @module
 */

import { parseArgs } from "node:util";
import { ALF_MEMORY, alfClient, consume, type Contender, PLAIN, plainFetch } from "./_clients.ts";
import { type BenchServer, connectBenchServer, startBenchServer } from "./_servers.ts";
import {
  clock,
  collectGarbage,
  fixed,
  median,
  memory,
  mib,
  ratio,
  ratios,
  table,
} from "./_stats.ts";

/** Settings of {@linkcode memoryUse}. */
export interface MemoryOptions {
  /** Upload runs per contender. */
  repeats?: number;
  /** Upload size, MiB. */
  megabytes?: number;
  /** Requests of the long run, after warm-up. */
  requests?: number;
  /** Requests of the warm-up before the long run's first reading. */
  warmup?: number;
}

/** What an upload child reports. */
interface UploadResult {
  /** RSS before the upload, bytes. */
  before: number;
  /** Peak RSS during the upload (since the reset before it), bytes. */
  peak: number;
  /** Whether the peak was reset before the upload (Linux `clear_refs`). */
  peakReset: boolean;
  status: number;
  ms: number;
}

/** What a long-run child reports. */
interface SoakResult {
  /** RSS after warm-up and garbage collection, bytes. */
  warm: number;
  /** RSS at the end, after garbage collection, bytes. */
  end: number;
  /** V8 heap used at the same two points, bytes. */
  heapWarm: number;
  heapEnd: number;
  rate: number;
  seconds: number;
}

const ALF_LIMITED = "@alf/client (maxReplayBytes: 1 MiB)";
const CONTENDERS = { plain: PLAIN, alf: ALF_MEMORY, limited: ALF_LIMITED } as const;
/** Upload bodies: a stream (teed for a possible replay) and bytes (cloned without a copy). */
const BODIES = ["stream", "bytes"] as const;
type BodyKind = typeof BODIES[number];
type ContenderKey = keyof typeof CONTENDERS;
/** The contenders of the long run: the replay limit changes nothing for bodiless requests. */
const SOAK_KEYS = ["plain", "alf"] as const;
type SoakKey = typeof SOAK_KEYS[number];

/** Runs the upload and the long run in child processes. */
export async function memoryUse(
  server: BenchServer,
  options: MemoryOptions = {},
): Promise<{
  /** Each upload's runs, by body and contender. */
  uploads: Record<BodyKind, Record<ContenderKey, UploadResult[]>>;
  soaks: Record<SoakKey, SoakResult>;
  markdown: string;
}> {
  const { repeats = 3, megabytes = 64, requests = 1_000_000, warmup = 20_000 } = options;
  await server.control({ expiresIn: 3600, tokenDelay: 0 });
  const keys = Object.keys(CONTENDERS) as ContenderKey[];
  const noRuns = (): Record<ContenderKey, UploadResult[]> => ({ plain: [], alf: [], limited: [] });
  const uploads = { stream: noRuns(), bytes: noRuns() };
  for (const body of BODIES) {
    for (let i = 0; i < repeats; i++) {
      for (const key of i % 2 === 0 ? keys : [...keys].reverse()) {
        uploads[body][key].push(
          await child<UploadResult>(server, [
            "upload",
            key,
            "--body",
            body,
            "--megabytes",
            String(megabytes),
          ]),
        );
      }
    }
  }
  const soakRun = (key: SoakKey) =>
    child<SoakResult>(server, [
      "soak",
      key,
      "--requests",
      String(requests),
      "--warmup",
      String(warmup),
    ]);
  const soaks = { plain: await soakRun("plain"), alf: await soakRun("alf") };
  const uploadTable = table(
    [
      `${megabytes} MiB upload, body`,
      "contender",
      "peak RSS",
      "peak above RSS before the upload",
      "peak vs plain fetch",
      "statuses",
    ],
    BODIES.flatMap((body) =>
      keys.map((key) => {
        const runs = uploads[body][key];
        const peaks = runs.map((run) => run.peak);
        return [
          body === "stream" ? "streamed, 64 KiB chunks" : "one Uint8Array",
          CONTENDERS[key],
          mib(median(peaks)),
          mib(median(runs.map((run) => run.peak - run.before))),
          key === "plain"
            ? "1 (baseline)"
            : ratio(median(ratios(peaks, uploads[body].plain.map((run) => run.peak)))),
          [...new Set(runs.map((run) => run.status))].join(", "),
        ];
      })
    ),
  );
  const soakTable = table(
    [
      "contender",
      `RSS after ${warmup} warm-up requests`,
      `RSS after ${requests} more`,
      "end vs warm-up",
      "V8 heap warm-up → end",
      "req/s",
    ],
    SOAK_KEYS.map((key) => {
      const soak = soaks[key];
      return [
        CONTENDERS[key],
        mib(soak.warm),
        mib(soak.end),
        ratio(soak.end / soak.warm),
        `${mib(soak.heapWarm)} → ${mib(soak.heapEnd)}`,
        fixed(soak.rate, 0),
      ];
    }),
  );
  const note = Object.values(uploads).flatMap((runs) => Object.values(runs).flat())
      .every((run) => run.peakReset)
    ? "Peaks are measured from a reset just before the upload (Linux `clear_refs`)."
    : "Peaks include the process's start-up (the peak could not be reset).";
  return {
    uploads,
    soaks,
    markdown: [uploadTable, "", note, "", soakTable].join("\n"),
  };
}

async function child<T>(server: BenchServer, args: string[]): Promise<T> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--v8-flags=--expose-gc",
      import.meta.filename ?? import.meta.url,
      "--child",
      ...args,
      "--origin",
      server.origin,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!output.success) throw new Error(`Cannot run the memory child ${args.join(" ")}`);
  return JSON.parse(new TextDecoder().decode(output.stdout));
}

function isContenderKey(key: string | undefined): key is ContenderKey {
  return key !== undefined && Object.hasOwn(CONTENDERS, key);
}

async function contenderFor(key: ContenderKey, server: BenchServer): Promise<Contender> {
  if (key === "plain") return await plainFetch(server);
  if (key === "limited") return alfClient(server, { maxReplayBytes: 1024 * 1024 }, ALF_LIMITED);
  return alfClient(server);
}

/** Resets the peak RSS (VmHWM) of this process; false where that is not possible. */
function resetPeak(): boolean {
  try {
    Deno.writeTextFileSync("/proc/self/clear_refs", "5");
    return true;
  } catch {
    return false;
  }
}

async function uploadChild(
  key: ContenderKey,
  server: BenchServer,
  kind: BodyKind,
  megabytes: number,
) {
  const contender = await contenderFor(key, server);
  await consume(await contender.fetch(server.resourceUrl)); // token and connection
  const size = megabytes * 1024 * 1024;
  // The bytes exist before the reading: they are the caller's, not the upload's.
  const bytes = kind === "bytes" ? new Uint8Array(size).fill(97) : undefined;
  collectGarbage();
  const peakReset = resetPeak();
  const before = memory().rss;
  const chunkSize = 64 * 1024;
  let left = size;
  const body = bytes ?? new ReadableStream<Uint8Array>({
    pull(controller) {
      if (left <= 0) return controller.close();
      // A new chunk each time, as a file or socket reader hands them out.
      controller.enqueue(new Uint8Array(chunkSize).fill(97));
      left -= chunkSize;
    },
  });
  const start = clock();
  const response = await contender.fetch(server.resourceUrl, { method: "POST", body });
  const status = await consume(response);
  const result: UploadResult = {
    before,
    peak: memory().peak,
    peakReset,
    status,
    ms: clock() - start,
  };
  await contender.close();
  return result;
}

async function soakChild(key: ContenderKey, server: BenchServer, warmup: number, requests: number) {
  const contender = await contenderFor(key, server);
  const run = async (count: number) => {
    let left = count;
    await Promise.all(Array.from({ length: 16 }, async () => {
      while (left > 0) {
        left--;
        const status = await consume(await contender.fetch(server.resourceUrl));
        if (status !== 200) throw new Error(`${contender.name} got status ${status}`);
      }
    }));
  };
  await run(warmup);
  collectGarbage();
  const warm = memory().rss;
  const heapWarm = Deno.memoryUsage().heapUsed;
  const start = clock();
  await run(requests);
  const seconds = (clock() - start) / 1000;
  collectGarbage();
  const result: SoakResult = {
    warm,
    end: memory().rss,
    heapWarm,
    heapEnd: Deno.memoryUsage().heapUsed,
    rate: requests / seconds,
    seconds,
  };
  await contender.close();
  return result;
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      child: { type: "boolean", default: false },
      origin: { type: "string" },
      repeats: { type: "string", default: "3" },
      megabytes: { type: "string", default: "64" },
      body: { type: "string", default: "stream" },
      requests: { type: "string", default: "1000000" },
      warmup: { type: "string", default: "20000" },
    },
  });
  if (values.child) {
    const [mode, key] = positionals;
    if (!isContenderKey(key)) {
      throw new TypeError(`Cannot run the memory child: unknown contender ${key}`);
    }
    const server = connectBenchServer(values.origin);
    const result = mode === "upload"
      ? await uploadChild(key, server, values.body as BodyKind, Number(values.megabytes))
      : await soakChild(key, server, Number(values.warmup), Number(values.requests));
    console.log(JSON.stringify(result));
  } else {
    await using server = await startBenchServer();
    const { markdown } = await memoryUse(server, {
      repeats: Number(values.repeats),
      megabytes: Number(values.megabytes),
      requests: Number(values.requests),
      warmup: Number(values.warmup),
    });
    console.log(markdown);
  }
}
