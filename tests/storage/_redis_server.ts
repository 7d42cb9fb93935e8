// A real redis-server for the tests and the benchmark: on a free loopback
// port, persistence off, stopped (and started again) on demand; and the
// clients the tests use on it (node-redis, ioredis, a bare sendCommand).

import { createClient, Redis } from "../_dev_deps.ts";
import type { RedisClient } from "../../redis.ts";
import { requireBinary } from "../_requirements.ts";

/** Why the Redis tests are skipped (no redis-server), or `undefined` when they run. */
export const redisSkipReason: string | undefined = await requireBinary(
  "redis-server",
  "apt-get install -y redis-server",
);

/** A redis-server process of the tests. */
export interface RedisServer extends AsyncDisposable {
  readonly port: number;
  readonly url: string;
  /** Stops the server (SIGKILL: no goodbye to the clients). */
  stop(): Promise<void>;
  /** Starts it again on the same port, empty. */
  start(): Promise<void>;
}

/**
 * Starts a redis-server on a free loopback port, with `args` added to its
 * command line (`["--requirepass", "pw"]`); stop it with `await using`.
 */
export async function startRedisServer(args: string[] = []): Promise<RedisServer> {
  const port = freePort();
  let process: Deno.ChildProcess | undefined;
  const start = async () => {
    process = new Deno.Command("redis-server", {
      args: [
        ...["--save", "", "--appendonly", "no", "--port", String(port), "--bind", "127.0.0.1"],
        ...args,
      ],
      stdout: "null",
      stderr: "null",
    }).spawn();
    await waitForPort(port, process);
  };
  const stop = async () => {
    if (!process) return;
    const stopping = process;
    process = undefined;
    try {
      stopping.kill("SIGKILL");
    } catch {
      // It had exited already.
    }
    await stopping.status;
  };
  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    stop,
    start,
    [Symbol.asyncDispose]: stop,
  };
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** Resolves once the server answers PING (or asks for a password). */
async function waitForPort(port: number, process: Deno.ChildProcess): Promise<void> {
  let exited = false;
  process.status.then(() => exited = true);
  for (let attempt = 0; attempt < 500; attempt++) {
    if (exited) throw new Error(`Cannot start redis-server on port ${port}: it exited`);
    try {
      const connection = await Deno.connect({ hostname: "127.0.0.1", port });
      try {
        await connection.write(new TextEncoder().encode("PING\r\n"));
        const buffer = new Uint8Array(16);
        const n = await connection.read(buffer);
        const reply = new TextDecoder().decode(buffer.subarray(0, n ?? 0));
        if (reply.startsWith("+PONG") || reply.startsWith("-NOAUTH")) return; // up, maybe locked
      } finally {
        connection.close();
      }
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`Cannot start redis-server on port ${port}: it does not answer`);
}

/** The kinds of client the storage is tested with. */
export type RedisClientKind = "node-redis" | "ioredis" | "sendCommand";

export const CLIENT_KINDS: readonly RedisClientKind[] = ["node-redis", "ioredis", "sendCommand"];

/** A connected client of `kind`; `close()` ends its connection. */
export interface TestRedisClient extends AsyncDisposable {
  readonly client: RedisClient;
  /** A raw command, for the tests' own look at Redis. */
  send(...args: string[]): Promise<unknown>;
  close(): Promise<void>;
}

/**
 * Connects a client of `kind` to `url`. The bare `sendCommand` kind is a
 * node-redis client seen only through its `sendCommand()`: no pub/sub.
 */
export async function connectRedis(kind: RedisClientKind, url: string): Promise<TestRedisClient> {
  if (kind === "ioredis") {
    const redis = new Redis(url, { lazyConnect: true });
    redis.on("error", () => {}); // Outages are part of the tests.
    await redis.connect();
    return {
      client: redis,
      send: (command, ...args) => redis.call(command, ...args),
      close: () => closeIoredis(redis),
      [Symbol.asyncDispose]: () => closeIoredis(redis),
    };
  }
  const redis = createClient({ url });
  redis.on("error", () => {});
  await redis.connect();
  const close = async () => {
    if (redis.isOpen) redis.destroy();
    await Promise.resolve();
  };
  const send = (...args: string[]) => redis.sendCommand(args);
  return {
    client: kind === "node-redis" ? redis : { sendCommand: (args: string[]) => send(...args) },
    send,
    close,
    [Symbol.asyncDispose]: close,
  };
}

async function closeIoredis(redis: Redis): Promise<void> {
  // Between reconnection attempts it has no socket, and would never say "end".
  if (redis.status === "end" || redis.status === "reconnecting") return redis.disconnect();
  const ended = new Promise((resolve) => redis.once("end", resolve));
  redis.disconnect();
  await ended;
}
