// RESP2, the Redis protocol, as far as the command line's Redis client needs
// it: a command as an array of bulk strings, and replies of every RESP2 type.
// https://redis.io/docs/latest/develop/reference/protocol-spec/

/** An error reply (`-ERR ...`). */
export class ReplyError extends Error {}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A command as a RESP array of bulk strings. */
export function encodeCommand(args: string[]): Uint8Array {
  const chunks: Uint8Array[] = [encoder.encode(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = encoder.encode(arg);
    chunks.push(encoder.encode(`$${bytes.length}\r\n`), bytes, encoder.encode("\r\n"));
  }
  const out = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

/**
 * The RESP2 reply that starts at `start` and where it ends, or `undefined`
 * when the buffer does not hold all of it yet. Bulk strings are decoded as
 * UTF-8; an error reply is a {@linkcode ReplyError}.
 *
 * @throws {Error} for bytes that are not RESP2.
 */
export function parseReply(
  buffer: Uint8Array,
  start: number,
): { value: unknown; end: number } | undefined {
  let lineEnd = buffer.indexOf(13, start + 1);
  while (lineEnd >= 0 && buffer[lineEnd + 1] !== 10) {
    if (lineEnd + 1 >= buffer.length) return undefined;
    lineEnd = buffer.indexOf(13, lineEnd + 1);
  }
  if (lineEnd < 0) return undefined;
  const line = decoder.decode(buffer.subarray(start + 1, lineEnd));
  const next = lineEnd + 2;
  const count = () => {
    if (!/^-?\d+$/.test(line)) throw new Error("Cannot read the Redis reply: a bad length");
    return Number(line);
  };
  switch (buffer[start]) {
    case 0x2b: // +
      return { value: line, end: next };
    case 0x2d: // -
      return { value: new ReplyError(line), end: next };
    case 0x3a: // :
      return { value: count(), end: next };
    case 0x24: { // $
      const length = count();
      if (length < 0) return { value: null, end: next };
      if (buffer.length < next + length + 2) return undefined;
      return {
        value: decoder.decode(buffer.subarray(next, next + length)),
        end: next + length + 2,
      };
    }
    case 0x2a: { // *
      const length = count();
      if (length < 0) return { value: null, end: next };
      const items: unknown[] = [];
      let end = next;
      for (let i = 0; i < length; i++) {
        const item = parseReply(buffer, end);
        if (item === undefined) return undefined;
        items.push(item.value);
        end = item.end;
      }
      return { value: items, end };
    }
    default:
      throw new Error("Cannot read the Redis reply: it is not RESP2");
  }
}
