import assert from "node:assert/strict";
import { startAuthServer } from "../../testing.ts";
import { alf, closedPort, CREDENTIALS, envFor, isOneLineError, SECRET } from "./_run.ts";

/** Every byte value, then a 64 KiB random tail: a body no text decoding survives. */
function binary(): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(256 + 65_536);
  for (let i = 0; i < 256; i++) bytes[i] = i;
  crypto.getRandomValues(bytes.subarray(256));
  return bytes;
}

Deno.test("alf request GETs the URL with a bearer token and writes the body to stdout", async () => {
  await using server = await startAuthServer(CREDENTIALS);
  const { code, out, err } = await alf(["request", server.url("/resource/items?page=2")], {
    env: envFor(server),
  });
  assert.equal(code, 0, err);
  assert.equal(err, "");
  assert.deepEqual(JSON.parse(out), { method: "GET", path: "/resource/items", bytes: 0 });
  assert.equal(server.tokenRequests.length, 1);
  const [request] = server.resourceRequests;
  assert(request);
  assert.equal(request.token, server.issuedTokens[0]);
  assert.equal(new URL(request.url).search, "?page=2");
});

Deno.test("alf request takes the method before the URL", async () => {
  await using server = await startAuthServer(CREDENTIALS);
  const { code, out, err } = await alf(["request", "DELETE", server.resourceUrl], {
    env: envFor(server),
  });
  assert.equal(code, 0, err);
  assert.equal(JSON.parse(out).method, "DELETE");
  assert.equal(server.resourceRequests[0]?.method, "DELETE");
});

Deno.test("alf request -d sends the text as the body of a POST, with no Content-Type added", async () => {
  await using server = await startAuthServer(CREDENTIALS);
  const { code, err } = await alf(["request", server.resourceUrl, "-d", '{"a": "é"}'], {
    env: envFor(server),
  });
  assert.equal(code, 0, err);
  const [request] = server.resourceRequests;
  assert(request);
  assert.equal(request.method, "POST");
  assert.equal(new TextDecoder().decode(request.body), '{"a": "é"}');
  assert.equal(request.headers.get("content-type"), null);
});

Deno.test("alf request -d @FILE sends the file's bytes", async () => {
  await using server = await startAuthServer(CREDENTIALS);
  const path = await Deno.makeTempFile();
  try {
    const bytes = binary();
    await Deno.writeFile(path, bytes);
    const { code, err } = await alf(["request", "PUT", server.resourceUrl, `--data=@${path}`], {
      env: envFor(server),
    });
    assert.equal(code, 0, err);
    assert.equal(server.resourceRequests[0]?.method, "PUT");
    assert.deepEqual(server.resourceRequests[0]?.body, bytes);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("alf request -d @- sends the standard input's bytes", async () => {
  await using server = await startAuthServer(CREDENTIALS);
  const bytes = binary();
  const { code, err } = await alf(["request", server.resourceUrl, "-d", "@-"], {
    env: envFor(server),
    stdin: bytes,
  });
  assert.equal(code, 0, err);
  assert.deepEqual(server.resourceRequests[0]?.body, bytes);
});

Deno.test("alf request replays the standard input's body with a new token after a 401", async () => {
  await using server = await startAuthServer(CREDENTIALS);
  server.route("/resource/once", (_request, recorded) => {
    if (server.resourceRequests.length === 1) {
      server.revoke();
      return new Response("revoked", {
        status: 401,
        headers: { "WWW-Authenticate": 'Bearer error="invalid_token"' },
      });
    }
    return new Response(`got ${recorded.body.byteLength} bytes with a new token`);
  });
  const { code, out, err } = await alf(["request", server.url("/resource/once"), "-d", "@-"], {
    env: envFor(server),
    stdin: "order 42",
  });
  assert.equal(code, 0, err);
  assert.equal(out, "got 8 bytes with a new token");
  assert.equal(server.tokenRequests.length, 2);
  const [first, replay] = server.resourceRequests;
  assert(first && replay);
  assert.deepEqual(replay.body, first.body);
  assert.notEqual(replay.token, first.token);
});

Deno.test("alf request writes a binary response body byte for byte", async () => {
  await using server = await startAuthServer(CREDENTIALS);
  const bytes = binary();
  server.route("/resource/blob", () => new Response(bytes));
  const { code, stdout, err } = await alf(["request", server.url("/resource/blob")], {
    env: envFor(server),
  });
  assert.equal(code, 0, err);
  assert.deepEqual(stdout, bytes);
});

Deno.test("alf request -H sends each header, and -H may repeat a name", async () => {
  await using server = await startAuthServer(CREDENTIALS);
  const { code, err } = await alf([
    "request",
    server.resourceUrl,
    "-H",
    "Content-Type: application/json",
    "--header",
    "X-Tag:a",
    "-H",
    "X-Tag:  b ",
  ], { env: envFor(server) });
  assert.equal(code, 0, err);
  const [request] = server.resourceRequests;
  assert(request);
  const { headers } = request;
  assert.equal(headers.get("content-type"), "application/json");
  assert.equal(headers.get("x-tag"), "a, b");
  assert.match(headers.get("authorization") ?? "", /^Bearer at-/);
});

Deno.test("alf request -H exits 2 for a malformed header, without repeating it", async () => {
  await using server = await startAuthServer(CREDENTIALS);
  for (const header of [`Authorization ${SECRET}`, `: ${SECRET}`, `Bad Name: ${SECRET}`]) {
    const { code, err } = await alf(["request", server.resourceUrl, "-H", header], {
      env: envFor(server),
    });
    assert.equal(code, 2);
    assert.ok(isOneLineError(err), err);
    assert.match(err, /a header must be "Name: value"/);
    assert.ok(!err.includes(SECRET));
  }
  assert.equal(server.tokenRequests.length + server.resourceRequests.length, 0);
});

Deno.test("alf request -i writes the status and headers to stderr, the body to stdout", async () => {
  await using server = await startAuthServer(CREDENTIALS);
  server.route(
    "/resource/tagged",
    () => new Response("hello", { status: 201, headers: { "X-Tag": "t1" } }),
  );
  const { code, out, err } = await alf(["request", "-i", server.url("/resource/tagged")], {
    env: envFor(server),
  });
  assert.equal(code, 0, err);
  assert.equal(out, "hello");
  assert.match(err, /^HTTP 201 Created\n/);
  assert.match(err, /\nx-tag: t1\n/);
  assert.match(err, /\n\n$/);
});

Deno.test("alf request -o writes the body to a file and nothing to stdout", async () => {
  await using server = await startAuthServer(CREDENTIALS);
  const bytes = binary();
  server.route("/resource/blob", () => new Response(bytes));
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/body.bin`;
    await Deno.writeTextFile(
      path,
      "an older, longer content that must be replaced entirely".repeat(2e3),
    );
    const { code, out, err } = await alf(["request", server.url("/resource/blob"), "-o", path], {
      env: envFor(server),
    });
    assert.equal(code, 0, err);
    assert.equal(out, "");
    assert.deepEqual(await Deno.readFile(path), bytes);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("alf request exits 22 for an HTTP error status and still writes the body", async () => {
  await using server = await startAuthServer(CREDENTIALS);
  server.route("/resource/missing", () => new Response("no such item", { status: 404 }));
  const { code, out, err } = await alf(["request", server.url("/resource/missing")], {
    env: envFor(server),
  });
  assert.equal(code, 22);
  assert.equal(out, "no such item");
  assert.equal(err, "alf: the server answered 404 Not Found\n");
});

Deno.test("alf request exits 3 without calling the resource when no token can be had", async () => {
  await using server = await startAuthServer(CREDENTIALS);
  server.failTokenRequests(1, {
    status: 400,
    body: JSON.stringify({ error: "invalid_scope", error_description: "No such scope" }),
  });
  const { code, out, err } = await alf(["request", server.resourceUrl], { env: envFor(server) });
  assert.equal(code, 3);
  assert.equal(out, "");
  assert.ok(isOneLineError(err), err);
  assert.match(err, /answered 400 \(invalid_scope: No such scope\)/);
  assert.equal(server.resourceRequests.length, 0);
});

Deno.test("alf request exits 4 with one line when the resource cannot be reached", async () => {
  await using server = await startAuthServer(CREDENTIALS);
  const port = await closedPort();
  const { code, out, err } = await alf(["request", `http://127.0.0.1:${port}/x`], {
    env: envFor(server),
  });
  assert.equal(code, 4);
  assert.equal(out, "");
  assert.ok(isOneLineError(err), err);
  assert.match(err, /^alf: Cannot send the request: /);
  assert.ok(err.includes(`http://127.0.0.1:${port}/x`), err); // the cause says where and why
});

Deno.test("alf request exits 4 when the response body is cut off", async () => {
  await using server = await startAuthServer(CREDENTIALS);
  // A raw server that promises 100 bytes, sends 7 and hangs up.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const answered = (async () => {
    const conn = await listener.accept();
    await conn.read(new Uint8Array(65_536));
    await conn.write(
      new TextEncoder().encode("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial"),
    );
    conn.close();
  })();
  try {
    const { code, out, err } = await alf(["request", `http://127.0.0.1:${listener.addr.port}/`], {
      env: envFor(server),
    });
    assert.equal(code, 4);
    assert.equal(out, "partial");
    assert.ok(isOneLineError(err), err);
    assert.match(err, /^alf: Cannot read the response: /);
  } finally {
    listener.close();
    await answered;
  }
});

Deno.test("alf request exits 5 for a file it cannot read or write", async () => {
  await using server = await startAuthServer(CREDENTIALS);
  const dir = await Deno.makeTempDir();
  try {
    const unreadable = await alf(["request", server.resourceUrl, "-d", `@${dir}/none.json`], {
      env: envFor(server),
    });
    assert.equal(unreadable.code, 5);
    assert.ok(isOneLineError(unreadable.err), unreadable.err);
    assert.match(unreadable.err, /^alf: Cannot read .*none\.json: /);
    assert.equal(server.tokenRequests.length, 0); // nothing is sent without the body

    const unwritable = await alf(["request", server.resourceUrl, "-o", `${dir}/no/body`], {
      env: envFor(server),
    });
    assert.equal(unwritable.code, 5);
    assert.ok(isOneLineError(unwritable.err), unwritable.err);
    assert.match(unwritable.err, /^alf: Cannot write .*no\/body: /);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("alf request exits 2 for a missing or malformed method or URL", async () => {
  await using server = await startAuthServer(CREDENTIALS);
  const cases: [string[], RegExp][] = [
    [[], /takes \[METHOD\] URL, got 0 arguments/],
    [["GET", server.resourceUrl, "extra"], /takes \[METHOD\] URL, got 3 arguments/],
    [["not/a/url"], /the URL is not a valid absolute URL/],
    [["ftp://127.0.0.1/x"], /the URL must be http: or https:, not ftp:/],
    [["GE T", server.resourceUrl], /the method is not a valid HTTP method/],
  ];
  for (const [args, message] of cases) {
    const { code, err } = await alf(["request", ...args], { env: envFor(server) });
    assert.equal(code, 2, args.join(" "));
    assert.ok(isOneLineError(err), err);
    assert.match(err, message);
  }
  assert.equal(server.tokenRequests.length + server.resourceRequests.length, 0);
});
