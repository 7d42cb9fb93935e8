// The Redis client as RedisTokenStorage sees it: commands bounded in time
// whatever client was given (node-redis, ioredis, a bare sendCommand), and
// pub/sub notifications on a connection of its own where the client can
// make one.

import { abortable, deadline } from "../_abort.ts";
import type { RedisClient } from "./redis.ts";

/** After a subscription failed, how long to poll before trying another one, ms. */
const RESUBSCRIBE_DELAY = 5_000;
/** How long close() waits for a subscriber connection to end, ms. */
const CLOSE_WAIT = 1_000;

/** The parts of a node-redis or ioredis client this module reads, all optional. */
interface ClientParts {
  call?(command: string, ...args: string[]): Promise<unknown>;
  sendCommand?(args: string[], options?: { abortSignal?: AbortSignal }): Promise<unknown>;
  duplicate?(): ClientParts;
  connect?(): Promise<unknown>;
  subscribe?(channel: string, listener?: (message: string) => void): Promise<unknown>;
  on?(event: string, listener: (...args: string[]) => void): unknown;
  destroy?(): unknown;
  disconnect?(): unknown;
  /** node-redis */
  isOpen?: boolean;
  isReady?: boolean;
  /** ioredis */
  status?: string;
}

/** A subscriber connection made with the client's `duplicate()`. */
interface Subscriber {
  readonly failed: boolean;
  readonly startedAt: number;
  live(): boolean;
  close(): Promise<void>;
}

/** One Redis client, bounded in time, with notifications on `channel`. */
export class RedisConnection {
  readonly #redis: ClientParts;
  /** ioredis, or anything with `call()`: its `sendCommand()` takes a command object. */
  readonly #ioredis: boolean;
  readonly #timeout: number;
  readonly #channel: string;
  /** The waits for notifications, by message (a token key's hash). */
  readonly #listeners = new Map<string, Set<() => void>>();
  /** `null` when the client cannot make a subscriber connection. */
  #subscriber: Subscriber | null | undefined;
  #closed = false;

  /** @throws {TypeError} when `redis` has neither `call()` nor `sendCommand()`. */
  constructor(redis: RedisClient, timeout: number, channel: string) {
    const client = redis as ClientParts | null;
    if (
      typeof client !== "object" || client === null ||
      (typeof client.call !== "function" && typeof client.sendCommand !== "function")
    ) {
      throw new TypeError(
        'Cannot create the Redis token storage: "redis" must be a node-redis or ioredis ' +
          "client, or have a sendCommand() method",
      );
    }
    this.#redis = client;
    this.#ioredis = typeof this.#redis.call === "function";
    this.#timeout = timeout;
    this.#channel = channel;
  }

  /** Whether notifications arrive now: polls can then be rarer. */
  get subscribed(): boolean {
    return this.#subscriber?.live() ?? false;
  }

  /**
   * Sends one command, bounded by the timeout; fails at once while the client
   * says it is reconnecting (it would queue the command until it is back).
   */
  async command(action: string, args: string[], signal?: AbortSignal): Promise<unknown> {
    const redis = this.#redis;
    if (this.#ioredis ? redis.status === "reconnecting" : redis.isOpen && !redis.isReady) {
      throw new Error(`Cannot ${action}: the Redis client is not connected`);
    }
    const ms = this.#timeout;
    const limit = deadline(signal, ms, `Cannot ${action}: Redis did not answer within ${ms} ms`);
    try {
      const [command = "", ...rest] = args;
      const reply = this.#ioredis
        ? redis.call!(command, ...rest)
        : redis.sendCommand!(args, { abortSignal: limit.signal });
      return await abortable(reply, limit.signal);
    } finally {
      limit[Symbol.dispose]();
    }
  }

  /** Calls `wake` on each notification `message` until the returned function is called. */
  listen(message: string, wake: () => void): () => void {
    let listeners = this.#listeners.get(message);
    if (!listeners) this.#listeners.set(message, listeners = new Set());
    listeners.add(wake);
    return () => {
      listeners.delete(wake);
      if (listeners.size === 0 && this.#listeners.get(message) === listeners) {
        this.#listeners.delete(message);
      }
    };
  }

  /**
   * Opens the subscriber connection once, and again a while after it failed.
   * Called after a command succeeded, so that no connection is attempted
   * while Redis is known to be down.
   */
  subscribe(): void {
    const current = this.#subscriber;
    if (this.#closed || current === null || (current && !current.failed)) return;
    if (current) {
      if (performance.now() - current.startedAt < RESUBSCRIBE_DELAY) return;
      void current.close();
    }
    this.#subscriber = openSubscriber(this.#redis, this.#ioredis, this.#channel, (message) => {
      for (const wake of this.#listeners.get(message) ?? []) wake();
    });
  }

  /** Closes the subscriber connection; the client itself stays open. */
  async close(): Promise<void> {
    this.#closed = true;
    const subscriber = this.#subscriber;
    this.#subscriber = undefined;
    await subscriber?.close();
  }
}

/** Opens a subscriber connection on `channel`, or returns `null` when the client cannot. */
function openSubscriber(
  client: ClientParts,
  ioredis: boolean,
  channel: string,
  onMessage: (message: string) => void,
): Subscriber | null {
  let connection: ClientParts;
  try {
    if (typeof client.duplicate !== "function") return null;
    connection = client.duplicate();
    if (typeof connection?.subscribe !== "function" || typeof connection.on !== "function") {
      return null;
    }
  } catch {
    return null;
  }
  let failed = false;
  let subscribed = false;
  const attempt = (async () => {
    // Its failures show in the polls; an "error" event without a listener ends the process.
    connection.on!("error", () => {});
    if (ioredis) {
      connection.on!("message", (from, message) => from === channel && onMessage(message));
      await connection.subscribe!(channel);
    } else {
      await connection.connect?.();
      await connection.subscribe!(channel, onMessage);
    }
    subscribed = true;
  })().catch(() => {
    failed = true;
  });
  return {
    get failed() {
      return failed;
    },
    startedAt: performance.now(),
    live: () =>
      subscribed && !failed &&
      (ioredis ? connection.status === "ready" : connection.isReady === true),
    async close() {
      failed = true;
      // Waits until the library's own timers are done: node-redis ends a
      // pending connect() after its reconnection delay; ioredis says "end"
      // once a socket it has is closed, and between reconnection attempts
      // has none (its pending subscribe() then never settles).
      const { promise: done, resolve } = Promise.withResolvers<void>();
      if (!ioredis) attempt.then(() => resolve());
      else if (["end", "reconnecting", "wait"].includes(connection.status ?? "")) resolve();
      else connection.on!("end", () => resolve());
      try {
        if (typeof connection.destroy === "function") connection.destroy();
        else connection.disconnect?.();
      } catch {
        // Closed already.
      }
      const timer = setTimeout(resolve, CLOSE_WAIT);
      await done;
      clearTimeout(timer);
    },
  };
}

/** A string reply, or `null` for none. */
export function stringReply(reply: unknown): string | null {
  if (reply === null || reply === undefined || typeof reply === "string") return reply ?? null;
  if (reply instanceof Uint8Array) return new TextDecoder().decode(reply);
  throw new TypeError("Cannot read the stored token: Redis gave a reply that is not a string");
}
