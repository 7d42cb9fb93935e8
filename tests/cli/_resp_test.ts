import assert from "node:assert/strict";
import { encodeCommand, parseReply, ReplyError } from "../../src/cli/_resp.ts";

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
