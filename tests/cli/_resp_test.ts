import assert from "node:assert/strict";
import {
  encodeCommand,
  MAX_REPLY_BYTES,
  parseReply,
  ProtocolError,
  ReplyError,
  ReplyReader,
} from "../../src/cli/_resp.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

Deno.test("encodeCommand() writes a RESP array of bulk strings, lengths in bytes", () => {
  assert.equal(
    new TextDecoder().decode(encodeCommand(["SET", "k", "é\r\n"])),
    "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\né\r\n\r\n",
  );
});

Deno.test("parseReply() reads every RESP2 type, and waits for a reply cut anywhere", () => {
  const reply = "*6\r\n+OK\r\n:-42\r\n$4\r\né\r\n\r\n$-1\r\n*-1\r\n*2\r\n$0\r\n\r\n-ERR no\r\n";
  const buffer = bytes(`${reply}:7\r\n`);
  const parsed = parseReply(buffer, 0);
  assert.ok(parsed);
  const [ok, integer, bulk, nil, nilArray, nested] = parsed.value as unknown[];
  assert.deepEqual([ok, integer, bulk, nil, nilArray], ["OK", -42, "é\r\n", null, null]);
  const [empty, error] = nested as unknown[];
  assert.equal(empty, "");
  assert.ok(error instanceof ReplyError && error.message === "ERR no");
  assert.equal(parsed.end, bytes(reply).length);
  assert.deepEqual(parseReply(buffer, parsed.end), { value: 7, end: buffer.length });
  for (let cut = 0; cut < bytes(reply).length; cut++) {
    assert.equal(parseReply(buffer.subarray(0, cut), 0), undefined, `cut at ${cut}`);
  }
  assert.throws(() => parseReply(bytes("?what\r\n"), 0), /not RESP2/);
  assert.throws(() => parseReply(bytes("$x\r\n"), 0), /a bad length/);
});

Deno.test("parseReply() refuses a reply over 1 MiB at its header, and a line past 1 MiB", () => {
  const tooLong = (error: unknown) =>
    error instanceof ProtocolError && error.message === "a reply longer than 1048576 bytes";
  // The longest bulk string that fits, framing included, and one byte more.
  const fits = MAX_REPLY_BYTES - "$1048562\r\n".length - 2;
  assert.equal(parseReply(bytes(`$${fits}\r\n`), 0), undefined, "waits for its bytes");
  const whole = bytes(`$${fits}\r\n${"a".repeat(fits)}\r\n`);
  assert.equal(parseReply(whole, 0)?.end, MAX_REPLY_BYTES);
  assert.throws(() => parseReply(bytes(`$${fits + 1}\r\n`), 0), tooLong);
  assert.throws(() => parseReply(bytes("$2000000000\r\n"), 0), tooLong);
  // An array whose items cannot fit (three bytes each at least), or whose items go past it.
  assert.throws(() => parseReply(bytes("*400000\r\n"), 0), tooLong);
  assert.throws(
    () => parseReply(bytes(`*2\r\n$600000\r\n${"a".repeat(600000)}\r\n$600000\r\n`), 0),
    tooLong,
  );
  // A line without its end: waited for up to the limit, refused past it.
  assert.equal(parseReply(bytes(`+${"a".repeat(MAX_REPLY_BYTES - 1)}`), 0), undefined);
  assert.throws(() => parseReply(bytes(`+${"a".repeat(MAX_REPLY_BYTES)}`), 0), tooLong);
  assert.throws(() => parseReply(bytes(`+${"a".repeat(MAX_REPLY_BYTES)}\r\n`), 0), tooLong);
});

Deno.test("parseReply() refuses what is not RESP2 at its first byte, bad numbers and deep nesting", () => {
  assert.throws(() => parseReply(bytes("H"), 0), { name: "Error", message: "it is not RESP2" });
  assert.throws(() => parseReply(bytes("HTTP/1.1 400 Bad Request\r\n"), 0), ProtocolError);
  assert.throws(() => parseReply(bytes(":abc\r\n"), 0), /^Error: a bad integer$/);
  assert.throws(() => parseReply(bytes("$-2\r\n"), 0), /^Error: a bad length$/);
  assert.throws(() => parseReply(bytes("*1.5\r\n"), 0), /^Error: a bad length$/);
  const nested = (depth: number) => bytes(`${"*1\r\n".repeat(depth)}:1\r\n`);
  assert.deepEqual(parseReply(nested(8), 0)?.value, [[[[[[[[1]]]]]]]]);
  assert.throws(() => parseReply(nested(9), 0), /^Error: arrays nested too deep$/);
});

/** Feeds `data` to `reader` as reads of at most `size` bytes; the replies, and the buffers read into. */
function feed(reader: ReplyReader, data: Uint8Array, size = 16 * 1024) {
  const replies: unknown[] = [];
  const buffers = new Set<ArrayBufferLike>();
  for (let at = 0; at < data.length;) {
    const space = reader.space();
    buffers.add(space.buffer);
    const n = Math.min(space.length, size, data.length - at);
    space.set(data.subarray(at, at + n));
    at += n;
    replies.push(...reader.read(n));
  }
  return { replies, buffers };
}

Deno.test("ReplyReader.read() reads into one buffer, grown by doubling, not copied per read", () => {
  const reader = new ReplyReader();
  // A 1,000,000-byte reply in 62 reads of 16 KiB: the buffer doubles 7 times (16 KiB → 2 MiB).
  const big = "b".repeat(1_000_000);
  const first = feed(reader, bytes(`$${big.length}\r\n${big}\r\n`));
  assert.deepEqual(first.replies, [big]);
  assert.ok(first.buffers.size <= 8, `${first.buffers.size} buffers`);
  // 20,000 small replies, cut anywhere: no new buffer at all.
  const small = Array.from({ length: 20_000 }, (_, i) => `:${i}\r\n+r${i}\r\n`).join("");
  const second = feed(reader, bytes(small), 1000);
  assert.equal(second.replies.length, 40_000);
  assert.deepEqual(second.replies.slice(-2), [19_999, "r19999"]);
  assert.equal(second.buffers.size, 1);
  assert.ok(second.buffers.has([...first.buffers].at(-1)!), "the same buffer as before");
});

Deno.test("ReplyReader.read() refuses a line without end once it passes 1 MiB", () => {
  const reader = new ReplyReader();
  let reads = 0;
  assert.throws(() => {
    for (const chunk = new Uint8Array(16 * 1024).fill(0x61);; reads++) {
      const space = reader.space();
      space.set(chunk);
      if (reads === 0) space[0] = 0x2b; // "+", then "aaa..." without end
      for (const _ of reader.read(chunk.length)) throw new Error("no reply expected");
    }
  }, /^Error: a reply longer than 1048576 bytes$/);
  assert.equal(reads, 64, "refused at the read that passed 1 MiB");
});
