// The command line's own Redis client, against a real redis-server (the
// Redis tests' helper starts one per test), and its URL and RESP parsing.

import assert from "node:assert/strict";
import {
  openRedisStorage,
  parseRedisUrl,
  RespConnection,
} from "../../src/cli/_redis_connection.ts";
import { CliError, EXIT_CODE } from "../../src/cli/exit_code.ts";
import type { RedisTokenStorage } from "../../redis.ts";
import { testTokenStorage } from "../../testing.ts";
import { ReplyReader } from "../../src/cli/_resp.ts";
import { startAuthServer } from "../../testing.ts";
import { rawServer } from "../_raw_server.ts";
import { connectRedis, redisSkipReason, startRedisServer } from "../storage/_redis_server.ts";
import { alf, CREDENTIALS, envFor } from "./_run.ts";

const ignore = redisSkipReason !== undefined;

const bytes = (text: string) => new TextEncoder().encode(text);

Deno.test("parseRedisUrl() reads the host, port, credentials, database and TLS", () => {
  assert.deepEqual(parseRedisUrl("redis://127.0.0.1"), {
    hostname: "127.0.0.1",
    port: 6379,
    tls: false,
    username: undefined,
    password: undefined,
    db: undefined,
  });
  assert.deepEqual(parseRedisUrl("rediss://app:p%40ss%3Aw@cache.example:6380/3"), {
    hostname: "cache.example",
    port: 6380,
    tls: true,
    username: "app",
    password: "p@ss:w",
    db: 3,
  });
  assert.deepEqual(parseRedisUrl("redis://:secret@[::1]:7000/"), {
    hostname: "::1",
    port: 7000,
    tls: false,
    username: undefined,
    password: "secret",
    db: undefined,
  });
});

Deno.test("parseRedisUrl() refuses anything else with a usage error that never repeats the URL", () => {
  const cases: [string, RegExp][] = [
    ["cache example", /is not a URL/],
    ["cache.example:6379", /must start with redis:\/\/ or rediss:\/\//],
    ["http://pw-http-9@cache.example", /must start with redis:\/\/ or rediss:\/\//],
    ["redis://:pw-nohost-9@", /has no host|is not a URL/],
    ["redis://:pw-query-9@cache.example?db=1", /cannot have a query or a fragment/],
    ["redis://:pw-path-9@cache.example/tokens", /path must be a database number/],
    ["redis://user-only@cache.example", /has a user name but no password/],
    ["redis://:pw%zz-9@cache.example", /has a malformed user name or password/],
  ];
  for (const [url, message] of cases) {
    assert.throws(
      () => parseRedisUrl(url),
      (error: unknown) => {
        assert.ok(error instanceof CliError, url);
        assert.equal(error.exitCode, EXIT_CODE.USAGE);
        assert.match(error.message, /^Cannot configure the client: the Redis URL /);
        assert.match(error.message, message, url);
        assert.ok(!error.message.includes("pw-"), `no password in: ${error.message}`);
        return true;
      },
    );
  }
});

// --- On a real redis-server ---------------------------------------------------

// Each case of the contract gets its own server, closed with the storage.
const closers = new Map<RedisTokenStorage, () => Promise<void>>();
if (!ignore) {
  testTokenStorage("RedisTokenStorage (the CLI's RespConnection)", async () => {
    const server = await startRedisServer();
    const opened = openRedisStorage(server.url);
    closers.set(opened.storage, async () => {
      await opened.close();
      await server.stop();
    });
    return opened.storage;
  }, {
    dispose: async (storage) => {
      await closers.get(storage)?.();
      closers.delete(storage);
    },
  });
}

Deno.test({
  name: "RespConnection.sendCommand() matches 200 concurrent replies to their commands",
  ignore,
  async fn() {
    await using server = await startRedisServer();
    const redis = new RespConnection(parseRedisUrl(server.url));
    try {
      const values = Array.from({ length: 200 }, (_, i) => `value ${i} ${"x".repeat(i * 100)}`);
      const replies = await Promise.all(values.map((value) => redis.sendCommand(["ECHO", value])));
      assert.deepEqual(replies, values);
      assert.equal(await redis.sendCommand(["INCRBY", "n", "5"]), 5);
      assert.deepEqual(await redis.sendCommand(["MGET", "n", "none"]), ["5", null]);
      await assert.rejects(
        redis.sendCommand(["INCR", "no", "such", "arity"]),
        /^Error: Cannot run the Redis command INCR: ERR wrong number of arguments/,
      );
    } finally {
      await redis.close();
    }
  },
});

Deno.test({
  name: "RespConnection.sendCommand() authenticates and selects the database of the URL",
  ignore,
  async fn() {
    await using server = await startRedisServer(["--requirepass", "pw-right-1"]);
    const url = (auth: string, db = "") => `redis://${auth}@127.0.0.1:${server.port}${db}`;
    const redis = new RespConnection(parseRedisUrl(url(":pw-right-1", "/3")));
    const wrong = new RespConnection(parseRedisUrl(url(":pw-wrong-2")));
    const user = new RespConnection(parseRedisUrl(url("default:pw-right-1")));
    const none = new RespConnection(parseRedisUrl(`redis://127.0.0.1:${server.port}`));
    await using check = await connectRedis("node-redis", `${url(":pw-right-1", "/3")}`);
    try {
      assert.equal(await redis.sendCommand(["SET", "k", "in three"]), "OK");
      assert.equal(await check.send("GET", "k"), "in three");
      assert.equal(await user.sendCommand(["GET", "k"]), null, "database 0");
      await assert.rejects(wrong.sendCommand(["GET", "k"]), (error: Error) => {
        assert.match(
          error.message,
          new RegExp(
            `^Cannot connect to Redis at 127.0.0.1:${server.port}: Cannot run the Redis command AUTH: WRONGPASS`,
          ),
        );
        assert.ok(!error.message.includes("pw-"));
        return true;
      });
      await assert.rejects(none.sendCommand(["GET", "k"]), /NOAUTH/);
    } finally {
      for (const connection of [redis, wrong, user, none]) await connection.close();
    }
  },
});

Deno.test({
  name: "RespConnection.sendCommand() rejects at once while Redis is down, and reconnects after",
  ignore,
  async fn() {
    await using server = await startRedisServer();
    const redis = new RespConnection(parseRedisUrl(server.url));
    try {
      assert.equal(await redis.sendCommand(["SET", "k", "1"]), "OK");
      await server.stop();
      await assert.rejects(
        redis.sendCommand(["GET", "k"]),
        new RegExp(`^Error: Cannot (reach|connect to) Redis at 127.0.0.1:${server.port}: `),
      );
      await assert.rejects(redis.sendCommand(["GET", "k"]), /Cannot connect to Redis/);
      await server.start(); // empty: persistence is off
      assert.equal(await redis.sendCommand(["GET", "k"]), null);
      assert.equal(await redis.sendCommand(["SET", "k", "2"]), "OK");
    } finally {
      await redis.close();
    }
    await assert.rejects(redis.sendCommand(["PING"]), /the connection is closed/);
  },
});

Deno.test({
  name:
    "RespConnection.sendCommand() drops the connection after a timeout, and only ignores a reply after another abort",
  ignore,
  async fn() {
    await using server = await startRedisServer(["--enable-debug-command", "yes"]);
    const redis = new RespConnection(parseRedisUrl(server.url));
    try {
      const first = await redis.sendCommand(["CLIENT", "ID"]);
      // Aborted for another reason: the reply is read and ignored, the connection stays.
      const stop = new AbortController();
      const sleeping = redis.sendCommand(["DEBUG", "SLEEP", "0.1"], { abortSignal: stop.signal });
      const echo = redis.sendCommand(["ECHO", "after"]);
      stop.abort(new Error("not needed"));
      await assert.rejects(sleeping, /not needed/);
      assert.equal(await echo, "after", "its own reply, not the sleep's OK");
      assert.equal(await redis.sendCommand(["CLIENT", "ID"]), first);
      // Timed out: the connection may be stuck, so a new one is opened.
      const timeout = AbortSignal.timeout(20);
      await assert.rejects(
        redis.sendCommand(["DEBUG", "SLEEP", "0.2"], { abortSignal: timeout }),
        (error: Error) => error.name === "TimeoutError",
      );
      const second = await redis.sendCommand(["CLIENT", "ID"]);
      assert.equal(typeof second, "number");
      assert.notEqual(second, first);
    } finally {
      await redis.close();
    }
  },
});

Deno.test("RespConnection.sendCommand() speaks TLS for rediss: (a plain server fails the handshake)", async () => {
  // A server that is not TLS: it answers anything with a Redis error and hangs up.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  const received: Promise<Uint8Array> = (async () => {
    const conn = await listener.accept();
    const buffer = new Uint8Array(1024);
    const n = await conn.read(buffer);
    await conn.write(bytes("-ERR not TLS\r\n")).catch(() => 0);
    conn.close();
    return buffer.subarray(0, n ?? 0);
  })();
  const redis = new RespConnection(parseRedisUrl(`rediss://localhost:${port}`));
  try {
    await assert.rejects(
      redis.sendCommand(["PING"]),
      new RegExp(`^Error: Cannot connect to Redis at localhost:${port}: `),
    );
    const hello = await received;
    assert.equal(hello[0], 0x16, "a TLS handshake record, not a command");
  } finally {
    await redis.close();
    listener.close();
  }
});

Deno.test("RespConnection shows nothing of its URL in inspect", () => {
  const redis = new RespConnection(parseRedisUrl("redis://:pw-inspect-1@127.0.0.1:1"));
  assert.ok(!Deno.inspect(redis).includes("pw-inspect"));
  assert.ok(!JSON.stringify(redis).includes("pw-inspect"));
});

// --- Against servers that are not Redis -----------------------------------------

/** A raw server whose connections are handled by `handle`, and its port. */
function notRedis(handle: (conn: Deno.Conn, n: number) => Promise<void>) {
  const server = rawServer(handle);
  return Object.assign(server, { port: Number(new URL(server.url).port) });
}

Deno.test("RespConnection.sendCommand() refuses a bulk string announced over 1 MiB at once, and closes the connection", async () => {
  let written = 0;
  const closed = Promise.withResolvers<void>();
  await using server = notRedis(async (conn) => {
    await conn.read(new Uint8Array(1024));
    await conn.write(bytes("$2000000000\r\n"));
    const chunk = new Uint8Array(1024 * 1024).fill(0x61);
    try {
      while (true) written += await conn.write(chunk);
    } catch {
      closed.resolve(); // the client hung up
    }
  });
  const redis = new RespConnection(parseRedisUrl(`redis://127.0.0.1:${server.port}`));
  try {
    // No abort signal: nothing but the limit ends the wait.
    await assert.rejects(redis.sendCommand(["GET", "k"]), {
      message:
        `Cannot read the reply of Redis at 127.0.0.1:${server.port}: a reply longer than 1048576 bytes`,
    });
    await closed.promise;
    // What the client read before it refused, and what the kernel's buffers held.
    assert.ok(written < 32 * 1024 * 1024, `${written} bytes written`);
  } finally {
    await redis.close();
  }
});

Deno.test("RespConnection.sendCommand() refuses bytes that are not RESP2, and a line past 1 MiB", async () => {
  await using server = notRedis(async (conn, n) => {
    await conn.read(new Uint8Array(1024));
    if (n === 0) {
      await conn.write(bytes("HTTP/1.1 400 Bad Request\r\n\r\n"));
      await conn.read(new Uint8Array(1024)); // until the client hangs up
      return;
    }
    await conn.write(bytes("+"));
    const chunk = new Uint8Array(64 * 1024).fill(0x61); // no line end, ever
    while (true) await conn.write(chunk);
  });
  const redis = new RespConnection(parseRedisUrl(`redis://127.0.0.1:${server.port}`));
  const where = `127.0.0.1:${server.port}`;
  try {
    await assert.rejects(redis.sendCommand(["GET", "k"]), {
      message: `Cannot read the reply of Redis at ${where}: it is not RESP2`,
    });
    await assert.rejects(redis.sendCommand(["GET", "k"]), {
      message: `Cannot read the reply of Redis at ${where}: a reply longer than 1048576 bytes`,
    });
  } finally {
    await redis.close();
  }
});

Deno.test('RespConnection.sendCommand() through alf: a "Redis" that answers an integer to everything costs one warning', async () => {
  await using server = await startAuthServer(CREDENTIALS);
  const commands: string[] = [];
  await using integers = notRedis(async (conn) => {
    const reader = new ReplyReader();
    for (let n; (n = await conn.read(reader.space())) !== null;) {
      for (const command of reader.read(n)) {
        commands.push(String((command as string[])[0]));
        await conn.write(bytes(":1\r\n"));
      }
    }
  });
  const { code, out, err } = await alf(["token"], {
    env: envFor(server, { ALF_REDIS: `redis://127.0.0.1:${integers.port}` }),
  });
  assert.equal(code, 0, err);
  assert.equal(out, `${server.issuedTokens[0]}\n`);
  assert.equal(
    err,
    "alf: warning: the token storage failed; going on without it: " +
      "Cannot read the stored token: Redis gave a reply that is not a string\n",
  );
  assert.deepEqual(commands, ["GET"], "the storage was skipped after its first failure");
});
