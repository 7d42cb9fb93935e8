// The Redis client of `alf --redis URL`: one connection over Deno.connect
// speaking RESP2, so that the command line needs no npm package. It offers
// only `sendCommand()`, so RedisTokenStorage learns of other processes'
// tokens by polling (no pub/sub connection).

import { RedisTokenStorage } from "../storage/redis.ts";
import { usageError } from "./exit_code.ts";
import { encodeCommand, ProtocolError, ReplyError, ReplyReader } from "./_resp.ts";

/** Where and how to connect: the parts of a `redis://` or `rediss://` URL. */
export interface RedisAddress {
  hostname: string;
  port: number;
  /** `rediss:`: TLS, with the host's certificate checked. */
  tls: boolean;
  username?: string;
  password?: string;
  /** The database to `SELECT`. */
  db?: number;
}

const DEFAULT_PORT = 6379;
/** How long connecting (TCP, TLS, AUTH, SELECT) may take, ms. */
const CONNECT_TIMEOUT = 2_000;
const URL_FORM = "redis://[user:password@]host[:port][/db]";

/**
 * Reads `redis://[user:password@]host[:port][/db]` (or `rediss://`, for TLS).
 *
 * @throws {CliError} with the usage exit code for anything else; the message
 * never repeats the URL, which may hold a password.
 */
export function parseRedisUrl(text: string): RedisAddress {
  const invalid = (why: string) =>
    usageError(`Cannot configure the client: the Redis URL ${why}; use ${URL_FORM}`);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw invalid("is not a URL");
  }
  if (url.protocol !== "redis:" && url.protocol !== "rediss:") {
    throw invalid("must start with redis:// or rediss://");
  }
  const hostname = url.hostname.replace(/^\[(.*)\]$/, "$1"); // [::1] → ::1
  if (hostname === "") throw invalid("has no host");
  if (url.search !== "" || url.hash !== "") throw invalid("cannot have a query or a fragment");
  const path = url.pathname.replace(/^\//, "");
  if (path !== "" && !/^\d{1,5}$/.test(path)) throw invalid("path must be a database number");
  let username: string;
  let password: string;
  try {
    username = decodeURIComponent(url.username);
    password = decodeURIComponent(url.password);
  } catch {
    throw invalid("has a malformed user name or password");
  }
  if (username !== "" && password === "") throw invalid("has a user name but no password");
  return {
    hostname,
    port: url.port === "" ? DEFAULT_PORT : Number(url.port),
    tls: url.protocol === "rediss:",
    username: username === "" ? undefined : username,
    password: password === "" ? undefined : password,
    db: path === "" ? undefined : Number(path),
  };
}

/**
 * Opens the token storage of `alf --redis URL`. Nothing connects yet: the
 * first command does, so a Redis that is down costs a warning, not the run.
 *
 * @throws {CliError} with the usage exit code for a malformed URL.
 */
export function openRedisStorage(
  url: string,
): { storage: RedisTokenStorage; close(): Promise<void> } {
  const connection = new RespConnection(parseRedisUrl(url));
  const storage = new RedisTokenStorage(connection);
  return {
    storage,
    async close() {
      await storage.close();
      await connection.close();
    },
  };
}

/**
 * A Redis client with `sendCommand()` alone: one connection, opened by the
 * first command and opened again by the next command after it broke. A
 * command that times out (its `abortSignal` aborts with a `TimeoutError`)
 * closes the connection, which may be stuck; one aborted for another reason
 * is dropped if not sent yet, and its reply ignored if it was.
 */
export class RespConnection {
  readonly #address: RedisAddress;
  readonly #closing = new AbortController();
  #socket: Promise<Socket> | undefined;

  constructor(address: RedisAddress) {
    this.#address = address;
  }

  /** Sends `args` as one command; resolves with Redis's reply (strings, numbers, arrays, null). */
  async sendCommand(args: string[], options: { abortSignal?: AbortSignal } = {}): Promise<unknown> {
    const signal = options.abortSignal;
    signal?.throwIfAborted();
    if (this.#closing.signal.aborted) {
      throw new Error("Cannot send the Redis command: the connection is closed");
    }
    const socket = await this.#connect();
    return await socket.send(args, signal);
  }

  /** Closes the connection; commands after this reject. */
  async close(): Promise<void> {
    this.#closing.abort(new Error("the connection was closed"));
    const socket = await this.#socket?.catch(() => undefined);
    this.#socket = undefined;
    socket?.close();
    await socket?.closed;
  }

  #connect(): Promise<Socket> {
    if (this.#socket === undefined) {
      // Forgotten as soon as it breaks, so that the next command opens another.
      const forget = () => {
        if (this.#socket === attempt) this.#socket = undefined;
      };
      const attempt = Socket.open(this.#address, this.#closing.signal, forget);
      this.#socket = attempt;
      attempt.catch(forget);
    }
    return this.#socket;
  }
}

/** A command sent and waiting for its reply. */
interface Pending {
  command: string;
  resolve(value: unknown): void;
  reject(error: unknown): void;
  /** Aborted after it was sent: its reply is read and ignored. */
  dropped: boolean;
}

/** One open connection: commands written in order, replies matched in order. */
class Socket {
  readonly #conn: Deno.Conn;
  readonly #where: string;
  readonly #pending: Pending[] = [];
  #writing = Promise.resolve();
  #error: Error | undefined;
  /** Resolves when the connection has ended and every pending command was rejected. */
  readonly closed: Promise<void>;

  readonly #onClose: () => void;

  private constructor(conn: Deno.Conn, where: string, onClose: () => void) {
    this.#conn = conn;
    this.#where = where;
    this.#onClose = onClose;
    this.closed = this.#read();
  }

  /**
   * Connects, with TLS for `rediss:`, then sends `AUTH` and `SELECT`, all
   * within the connect timeout. `onClose` is called when the connection breaks.
   */
  static async open(
    address: RedisAddress,
    closing: AbortSignal,
    onClose: () => void,
  ): Promise<Socket> {
    const where = `${address.hostname}:${address.port}`;
    const stop = new AbortController();
    const timer = setTimeout(
      () => stop.abort(new Error(`Redis did not answer within ${CONNECT_TIMEOUT} ms`)),
      CONNECT_TIMEOUT,
    );
    const onClosing = () => stop.abort(closing.reason);
    closing.addEventListener("abort", onClosing);
    let conn: Deno.Conn | undefined;
    let socket: Socket | undefined;
    const giveUp = () => socket ? socket.close() : closeQuietly(conn);
    stop.signal.addEventListener("abort", giveUp);
    try {
      stop.signal.throwIfAborted();
      const { hostname, port } = address;
      const tcp = await Deno.connect({ hostname, port, signal: stop.signal });
      conn = tcp;
      if (address.tls) {
        const tls = await Deno.startTls(tcp, { hostname });
        conn = tls;
        await tls.handshake(); // now, within the connect timeout, not at the first command
      }
      stop.signal.throwIfAborted();
      socket = new Socket(conn, where, onClose);
      const { username, password, db } = address;
      if (password !== undefined) {
        await socket.send(
          username === undefined ? ["AUTH", password] : ["AUTH", username, password],
        );
      }
      if (db !== undefined) await socket.send(["SELECT", String(db)]);
      return socket;
    } catch (error) {
      if (socket) {
        socket.close();
        await socket.closed;
      } else closeQuietly(conn);
      const why = stop.signal.aborted ? stop.signal.reason : error;
      throw new Error(`Cannot connect to Redis at ${where}: ${messageOf(why)}`, { cause: why });
    } finally {
      clearTimeout(timer);
      closing.removeEventListener("abort", onClosing);
      stop.signal.removeEventListener("abort", giveUp);
    }
  }

  send(args: string[], signal?: AbortSignal): Promise<unknown> {
    if (this.#error) return Promise.reject(this.#error);
    if (signal?.aborted) return Promise.reject(signal.reason);
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    const onAbort = () => {
      entry.dropped = true;
      reject(signal!.reason);
      if ((signal!.reason as Error | undefined)?.name === "TimeoutError") {
        this.close(new Error("a command timed out"));
      }
    };
    const entry: Pending = {
      command: args[0] ?? "",
      resolve(value) {
        signal?.removeEventListener("abort", onAbort);
        resolve(value);
      },
      reject(error) {
        signal?.removeEventListener("abort", onAbort);
        reject(error);
      },
      dropped: false,
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    this.#pending.push(entry);
    const bytes = encodeCommand(args);
    this.#writing = this.#writing.then(() => writeAll(this.#conn, bytes)).catch((error) =>
      this.close(new Error(`the connection failed: ${messageOf(error)}`))
    );
    return promise;
  }

  /** Ends the connection; every pending command rejects with `why`. */
  close(why = new Error("the connection is closed")): void {
    this.#end(new Error(`Cannot reach Redis at ${this.#where}: ${why.message}`));
  }

  #end(error: Error): void {
    if (this.#error) return;
    this.#error = error;
    closeQuietly(this.#conn);
    this.#onClose();
  }

  async #read(): Promise<void> {
    const replies = new ReplyReader();
    try {
      while (true) {
        const n = await this.#conn.read(replies.space());
        if (n === null) {
          this.close(new Error("Redis closed the connection"));
          break;
        }
        for (const reply of replies.read(n)) this.#deliver(reply);
      }
    } catch (error) {
      if (error instanceof ProtocolError) {
        // Not Redis, or not a reply to wait for: what follows cannot be trusted.
        this.#end(new Error(`Cannot read the reply of Redis at ${this.#where}: ${error.message}`));
      } else this.close(new Error(`the connection failed: ${messageOf(error)}`));
    }
    for (const entry of this.#pending.splice(0)) entry.reject(this.#error);
  }

  /** Hands a reply to its command, the oldest one waiting. */
  #deliver(reply: unknown): void {
    const entry = this.#pending.shift();
    if (entry === undefined) throw new ProtocolError("a reply to no command");
    if (entry.dropped) return;
    if (reply instanceof ReplyError) {
      entry.reject(new Error(`Cannot run the Redis command ${entry.command}: ${reply.message}`));
    } else entry.resolve(reply);
  }
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
}

function closeQuietly(conn: Deno.Conn | undefined): void {
  try {
    conn?.close();
  } catch {
    // Closed already.
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
