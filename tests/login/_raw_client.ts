// A raw TCP client for what `fetch` will not send to a login listener: a
// request whose body never arrives, a foreign `Host` header.

import { write } from "../_raw_server.ts";

/** A connection whose request declared a body it never sends. */
export interface HeldRequest extends Disposable {
  readonly conn: Deno.Conn;
  /** The status of the answer, once the listener gives one (`undefined` if it closes without). */
  status(): Promise<number | undefined>;
}

/**
 * Starts `METHOD /callback` on 127.0.0.1:`port` with `Content-Length: 100`
 * and sends no body: the connection stays open until disposed.
 */
export async function holdBody(port: number, method = "POST"): Promise<HeldRequest> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await write(
    conn,
    `${method} /callback HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n` +
      "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nstate=",
  );
  return {
    conn,
    status: () => readStatus(conn),
    [Symbol.dispose]: () => conn.close(),
  };
}

/**
 * Sends `GET target` with the given `Host` header (none when `null`) and
 * returns the answer's status.
 */
export async function getWithHost(
  port: number,
  target: string,
  host: string | null,
): Promise<number | undefined> {
  using conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const hostLine = host === null ? "" : `Host: ${host}\r\n`;
  // HTTP/1.0 lets a request go without Host (HTTP/1.1 requires one).
  const version = host === null ? "HTTP/1.0" : "HTTP/1.1";
  await write(conn, `GET ${target} ${version}\r\n${hostLine}Connection: close\r\n\r\n`);
  return await readStatus(conn);
}

/** The status code of the first answer on `conn`, read through to its end. */
async function readStatus(conn: Deno.Conn): Promise<number | undefined> {
  const buffer = new Uint8Array(16 * 1024);
  let text = "";
  while (!text.includes("\r\n")) {
    const n = await conn.read(buffer).catch(() => null);
    if (n === null) break;
    text += new TextDecoder().decode(buffer.subarray(0, n));
  }
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1];
  return status === undefined ? undefined : Number(status);
}

/**
 * Settles like `promise`, or rejects when `ms` milliseconds pass first: a
 * guard that fails a test instead of letting it hang (not a speed assertion).
 */
export async function guarded<T>(promise: Promise<T>, what: string, ms = 10_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, guard]);
  } finally {
    clearTimeout(timer);
  }
}
