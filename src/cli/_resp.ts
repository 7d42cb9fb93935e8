// RESP2, the Redis protocol, as far as the command line's Redis client needs
// it: a command as an array of bulk strings, and replies of every RESP2 type,
// each bounded in size.
// https://redis.io/docs/latest/develop/reference/protocol-spec/

/** An error reply (`-ERR ...`). */
export class ReplyError extends Error {}

/**
 * Bytes that are not a reply this client reads: not RESP2, or a reply over
 * {@linkcode MAX_REPLY_BYTES}. The connection cannot be trusted after one.
 */
export class ProtocolError extends Error {}

/**
 * The longest reply read, framing included: 1 MiB. A token record is a few
 * kilobytes; a server that sends more is not a token store to wait for.
 */
export const MAX_REPLY_BYTES = 1024 * 1024;
/** How deep arrays may nest (the storage's replies nest one level). */
const MAX_DEPTH = 8;
/** How many bytes one read asks for at least. */
const READ_SIZE = 16 * 1024;

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
 * @throws {ProtocolError} for bytes that are not RESP2, and for a reply
 * longer than {@linkcode MAX_REPLY_BYTES}: a bulk string or an array that
 * announces more is refused at its header, before its bytes arrive, and a
 * line is refused once the buffer holds more than the limit without its end.
 */
export function parseReply(
  buffer: Uint8Array,
  start: number,
): { value: unknown; end: number } | undefined {
  return parseAt(buffer, start, start + MAX_REPLY_BYTES, 0);
}

/** The reply at `start`, part of one that must end by `limit`. */
function parseAt(
  buffer: Uint8Array,
  start: number,
  limit: number,
  depth: number,
): { value: unknown; end: number } | undefined {
  if (start >= buffer.length) return undefined;
  const type = buffer[start];
  // Checked first: bytes of another protocol are refused before a line ends.
  if (type !== 0x2b && type !== 0x2d && type !== 0x3a && type !== 0x24 && type !== 0x2a) {
    throw new ProtocolError("it is not RESP2");
  }
  let lineEnd = buffer.indexOf(13, start + 1);
  while (lineEnd >= 0 && buffer[lineEnd + 1] !== 10) {
    if (lineEnd + 1 >= buffer.length) break;
    lineEnd = buffer.indexOf(13, lineEnd + 1);
  }
  const next = lineEnd + 2;
  if (lineEnd < 0 || next > buffer.length) {
    if (buffer.length > limit) throw tooLong();
    return undefined;
  }
  if (next > limit) throw tooLong();
  const line = decoder.decode(buffer.subarray(start + 1, lineEnd));
  const count = () => {
    if (!/^(-1|\d+)$/.test(line)) throw new ProtocolError("a bad length");
    return Number(line);
  };
  switch (type) {
    case 0x2b: // +
      return { value: line, end: next };
    case 0x2d: // -
      return { value: new ReplyError(line), end: next };
    case 0x3a: // :
      if (!/^-?\d+$/.test(line)) throw new ProtocolError("a bad integer");
      return { value: Number(line), end: next };
    case 0x24: { // $
      const length = count();
      if (length < 0) return { value: null, end: next };
      const end = next + length + 2;
      if (end > limit) throw tooLong(); // at the header, before the bytes arrive
      if (buffer.length < end) return undefined;
      return { value: decoder.decode(buffer.subarray(next, next + length)), end };
    }
    default: { // *
      const length = count();
      if (length < 0) return { value: null, end: next };
      // Each item takes three bytes at least ("+\r\n").
      if (next + 3 * length > limit) throw tooLong();
      if (depth >= MAX_DEPTH) throw new ProtocolError("arrays nested too deep");
      const items: unknown[] = [];
      let end = next;
      for (let i = 0; i < length; i++) {
        const item = parseAt(buffer, end, limit, depth + 1);
        if (item === undefined) return undefined;
        items.push(item.value);
        end = item.end;
      }
      return { value: items, end };
    }
  }
}

function tooLong(): ProtocolError {
  return new ProtocolError(`a reply longer than ${MAX_REPLY_BYTES} bytes`);
}

/**
 * The replies arriving on a connection. Bytes are read into one buffer, in
 * place (no copy per read); the buffer grows by doubling, and what was parsed
 * is dropped by moving the rest to its start, so reading costs time in
 * proportion to the bytes. A reply is bounded by {@linkcode MAX_REPLY_BYTES}.
 */
export class ReplyReader {
  #buffer = new Uint8Array(READ_SIZE);
  /** Where the first reply not parsed yet starts. */
  #start = 0;
  /** Where the bytes read end. */
  #end = 0;

  /** Where to read the next bytes into: at least 16 KiB. */
  space(): Uint8Array {
    if (this.#buffer.length - this.#end < READ_SIZE) {
      const unparsed = this.#end - this.#start;
      // Doubled when the rest would fill more than half: each byte is moved
      // a bounded number of times on average.
      if (2 * (unparsed + READ_SIZE) <= this.#buffer.length) {
        this.#buffer.copyWithin(0, this.#start, this.#end);
      } else {
        const buffer = new Uint8Array(2 * this.#buffer.length);
        buffer.set(this.#buffer.subarray(this.#start, this.#end));
        this.#buffer = buffer;
      }
      this.#start = 0;
      this.#end = unparsed;
    }
    return this.#buffer.subarray(this.#end);
  }

  /**
   * Takes `n` bytes just read into {@linkcode ReplyReader.space}, and yields
   * the replies they complete.
   *
   * @throws {ProtocolError} for bytes that are not RESP2, or a reply over the limit.
   */
  *read(n: number): Generator<unknown> {
    this.#end += n;
    const buffer = this.#buffer.subarray(0, this.#end);
    for (
      let reply = parseReply(buffer, this.#start);
      reply;
      reply = parseReply(buffer, reply.end)
    ) {
      this.#start = reply.end;
      yield reply.value;
    }
    if (this.#start === this.#end) this.#start = this.#end = 0; // all parsed: nothing to move
    if (this.#end - this.#start > MAX_REPLY_BYTES) throw tooLong();
  }
}
