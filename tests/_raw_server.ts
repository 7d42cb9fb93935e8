// A raw TCP server on 127.0.0.1 for what `Deno.serve` cannot send: truncated
// bodies, resets, bytes that are not HTTP.

/** Reads one HTTP request (headers and a Content-Length body) from a raw connection. */
export async function readRequest(conn: Deno.Conn): Promise<string> {
  const buffer = new Uint8Array(64 * 1024);
  let text = "";
  while (true) {
    const n = await conn.read(buffer);
    if (n === null) return text;
    text += new TextDecoder().decode(buffer.subarray(0, n));
    const end = text.indexOf("\r\n\r\n");
    if (end === -1) continue;
    const length = Number(/content-length:\s*(\d+)/i.exec(text)?.[1] ?? 0);
    if (text.length - end - 4 >= length) return text;
  }
}

/** Writes `text` to a raw connection. */
export async function write(conn: Deno.Conn, text: string): Promise<void> {
  const data = new TextEncoder().encode(text);
  for (let written = 0; written < data.length;) {
    written += await conn.write(data.subarray(written));
  }
}

/** Reads a request and answers it whole, closing the connection afterwards. */
export async function answer(
  conn: Deno.Conn,
  status: string,
  body: string,
  headers = "",
): Promise<void> {
  await readRequest(conn);
  await write(
    conn,
    `HTTP/1.1 ${status}\r\n${headers}Connection: close\r\n` +
      `Content-Length: ${new TextEncoder().encode(body).length}\r\n\r\n${body}`,
  );
}

/** A raw server: connection number `n` (from 0) is handled by `handle(conn, n)`, then closed. */
export function rawServer(
  handle: (conn: Deno.Conn, n: number) => Promise<void>,
): { url: string; close(): Promise<void>; [Symbol.asyncDispose](): Promise<void> } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const open = new Set<Deno.Conn>();
  const handlers: Promise<void>[] = [];
  const closeConn = (conn: Deno.Conn) => {
    open.delete(conn);
    try {
      conn.close();
    } catch {
      // Already closed by the handler.
    }
  };
  const accepting = (async () => {
    let count = 0;
    try {
      for await (const conn of listener) {
        open.add(conn);
        // A peer that goes away is part of the script, not a failure.
        handlers.push(handle(conn, count++).catch(() => {}).finally(() => closeConn(conn)));
      }
    } catch {
      // The listener was closed.
    }
  })();
  const close = async () => {
    listener.close();
    await accepting;
    for (const conn of open) closeConn(conn);
    await Promise.all(handlers);
  };
  const { port } = listener.addr as Deno.NetAddr;
  return { url: `http://127.0.0.1:${port}`, close, [Symbol.asyncDispose]: close };
}
