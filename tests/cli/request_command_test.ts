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

Deno.test("alf request -i writes the status line and the headers on stdout before the body, as curl", async () => {
  await using server = await startAuthServer(CREDENTIALS);
  server.route(
    "/resource/tagged",
    () => new Response("hello", { status: 201, headers: { "X-Tag": "t1" } }),
  );
  const { code, out, err } = await alf(["request", "-i", server.url("/resource/tagged")], {
    env: envFor(server),
  });
  assert.equal(code, 0, err);
  assert.equal(err, "");
  const [head, body] = out.split("\r\n\r\n");
  assert.equal(body, "hello");
  const lines = head?.split("\r\n") ?? [];
  assert.equal(lines[0], "HTTP 201 Created");
  assert.ok(lines.includes("x-tag: t1"), out);
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
    [["not/a/url"], /the URL is not a valid absolute URL \(https:\/\/host\/path\)/],
    [["ftp://127.0.0.1/x"], /the URL must be http: or https:, not ftp:/],
    [["GE T", server.resourceUrl], /the method \(the first argument\) is not a valid HTTP method/],
    [["-X", "GE T", server.resourceUrl], /the method of -X is not a valid HTTP method/],
    [["POST"], /no URL after the method POST/],
  ];
  for (const [args, message] of cases) {
    const { code, err } = await alf(["request", ...args], { env: envFor(server) });
    assert.equal(code, 2, args.join(" "));
    assert.ok(isOneLineError(err), err);
    assert.match(err, message);
  }
  assert.equal(server.tokenRequests.length + server.resourceRequests.length, 0);
});

/** Runs `alf request ARGS` against `server` and expects a usage error (2) with `message`. */
async function usage(
  server: { tokenEndpoint: string },
  args: string[],
  message: RegExp,
): Promise<string> {
  const { code, out, err } = await alf(["request", ...args], { env: envFor(server) });
  assert.equal(code, 2, `${args.join(" ")}: ${err}`);
  assert.equal(out, "");
  assert.ok(isOneLineError(err), err);
  assert.match(err.trimEnd(), message);
  return err;
}

Deno.test("alf request -X sets the method, as the word before the URL does", async () => {
  await using server = await startAuthServer(CREDENTIALS);
  const put = await alf(["request", "-X", "PUT", server.resourceUrl], { env: envFor(server) });
  assert.equal(put.code, 0, put.err);
  const patch = await alf(["request", "--request=PATCH", server.resourceUrl, "-d", "x"], {
    env: envFor(server),
  });
  assert.equal(patch.code, 0, patch.err);
  const same = await alf(["request", "DELETE", server.resourceUrl, "-XDELETE"], {
    env: envFor(server),
  });
  assert.equal(same.code, 0, same.err);
  assert.deepEqual(server.resourceRequests.map((r) => r.method), ["PUT", "PATCH", "DELETE"]);
  assert.equal(new TextDecoder().decode(server.resourceRequests[1]?.body), "x");
});

Deno.test("alf request exits 2 naming the argument at fault: method, URL, or their order", async () => {
  await using server = await startAuthServer(CREDENTIALS);
  const url = server.resourceUrl;
  await usage(
    server,
    [url, "post"],
    /the method goes before the URL: alf request POST URL \(or -X POST\)$/,
  );
  // Not a method: not repeated (it may be a token typed in the wrong place).
  const err = await usage(
    server,
    [url, SECRET],
    /takes \[METHOD\] URL, and the first argument is the URL already$/,
  );
  assert.ok(!err.includes(SECRET));
  await usage(
    server,
    ["DELETE", url, "-X", "PUT"],
    /the method is given twice, before the URL and with -X; give one/,
  );
  await usage(
    server,
    ["-I", "-X", "POST", url],
    /-I sends HEAD, and the method POST is another; give one/,
  );
  assert.equal(server.tokenRequests.length + server.resourceRequests.length, 0);
});

Deno.test("alf request suggests the scheme for a URL without one, and never repeats a token", async () => {
  await using server = await startAuthServer(CREDENTIALS);
  await usage(
    server,
    ["api.example.com/items"],
    /the URL has no scheme; did you mean https:\/\/api\.example\.com\/items\?$/,
  );
  await usage(
    server,
    ["PUT", "localhost:8080/x"],
    /the URL has no scheme; did you mean http:\/\/localhost:8080\/x\?$/,
  );
  const jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhZGEifQ.c2lnbmF0dXJl";
  for (const token of [jwt, "9f86d081884c7d659a2feaa0c55ad015", SECRET]) {
    const err = await usage(
      server,
      [token],
      /the URL is not a valid absolute URL \(https:\/\/host\/path\)$/,
    );
    assert.ok(!err.includes(token), err);
  }
  assert.equal(server.tokenRequests.length, 0);
});

Deno.test("alf request exits 2 for a URL that would expose the token or credentials", async () => {
  await using server = await startAuthServer(CREDENTIALS);
  await usage(
    server,
    ["http://api.example.com/items"],
    /the URL is plain http: to a host that is not loopback, .*; use https:, or pass --allow-http$/,
  );
  const err = await usage(
    server,
    [`https://ada:${SECRET}@api.example.com/`],
    /the URL must not carry credentials \(user:password@\)/,
  );
  assert.ok(!err.includes(SECRET) && !err.includes("ada"), err);
  assert.equal(server.tokenRequests.length, 0);
});

Deno.test("alf request exits 2 for a GET or HEAD with a body, before any token request", async () => {
  await using server = await startAuthServer(CREDENTIALS);
  await usage(
    server,
    ["GET", server.resourceUrl, "-d", "x"],
    /a GET request has no body \(-d, --json, \.\.\.\); use -X POST/,
  );
  await usage(
    server,
    ["-X", "head", server.resourceUrl, "--json", "{}"],
    /a HEAD request has no body/,
  );
  await usage(server, ["-I", server.resourceUrl, "-d", "x"], /a HEAD request has no body/);
  assert.equal(server.tokenRequests.length + server.resourceRequests.length, 0);
});

Deno.test("alf request --json sends a JSON body with Content-Type and Accept; -H wins", async () => {
  await using server = await startAuthServer(CREDENTIALS);
  const path = await Deno.makeTempFile();
  try {
    await Deno.writeTextFile(path, '{"name":"alf"}\n');
    const plain = await alf(["request", server.resourceUrl, "--json", '{"a":1}'], {
      env: envFor(server),
    });
    assert.equal(plain.code, 0, plain.err);
    const file = await alf([
      "request",
      "PUT",
      server.resourceUrl,
      "--json",
      `@${path}`,
      "-H",
      "Content-Type: application/merge-patch+json",
    ], { env: envFor(server) });
    assert.equal(file.code, 0, file.err);
  } finally {
    await Deno.remove(path);
  }
  const [first, second] = server.resourceRequests;
  assert(first && second);
  assert.equal(first.method, "POST");
  assert.equal(new TextDecoder().decode(first.body), '{"a":1}');
  assert.equal(first.headers.get("content-type"), "application/json");
  assert.equal(first.headers.get("accept"), "application/json");
  assert.equal(new TextDecoder().decode(second.body), '{"name":"alf"}\n');
  assert.equal(second.headers.get("content-type"), "application/merge-patch+json");
  assert.equal(second.headers.get("accept"), "application/json");
  await usage(
    server,
    [server.resourceUrl, "--json", "{}", "-d", "x"],
    /--json is the whole body; do not mix it with -d/,
  );
});

Deno.test("alf request joins data pieces with & as curl; --data-raw takes @ as text", async () => {
  await using server = await startAuthServer(CREDENTIALS);
  const path = await Deno.makeTempFile();
  try {
    await Deno.writeTextFile(path, "b=2\n");
    const { code, err } = await alf([
      "request",
      server.resourceUrl,
      "-d",
      "a=1",
      "--data-binary",
      `@${path}`,
      "--data-raw",
      "@c=3",
    ], { env: envFor(server) });
    assert.equal(code, 0, err);
  } finally {
    await Deno.remove(path);
  }
  assert.equal(new TextDecoder().decode(server.resourceRequests[0]?.body), "a=1&b=2\n&@c=3");
});

Deno.test("alf request -I sends HEAD and writes the status line and the headers only", async () => {
  await using server = await startAuthServer(CREDENTIALS);
  const { code, out, err } = await alf(["request", "-I", server.resourceUrl], {
    env: envFor(server),
  });
  assert.equal(code, 0, err);
  assert.equal(server.resourceRequests[0]?.method, "HEAD");
  assert.match(out, /^HTTP 200 OK\r\n(.+\r\n)*\r\n$/);
  assert.match(out, /\r\ncontent-type: application\/json\r\n/);
});

Deno.test("alf request -o - writes the body to stdout", async () => {
  await using server = await startAuthServer(CREDENTIALS);
  const { code, out, err } = await alf(["request", server.resourceUrl, "-o", "-"], {
    env: envFor(server),
  });
  assert.equal(code, 0, err);
  assert.deepEqual(JSON.parse(out), { method: "GET", path: "/resource", bytes: 0 });
});

Deno.test("alf request -f writes nothing for a status of 400 or more, and exits 22", async () => {
  await using server = await startAuthServer(CREDENTIALS);
  server.route("/resource/missing", () => new Response("no such item", { status: 404 }));
  const failed = await alf(["request", "-fi", server.url("/resource/missing")], {
    env: envFor(server),
  });
  assert.equal(failed.code, 22);
  assert.equal(failed.out, "");
  assert.equal(failed.err, "alf: the server answered 404 Not Found\n");
  const ok = await alf(["request", "-f", server.resourceUrl], { env: envFor(server) });
  assert.equal(ok.code, 0, ok.err);
  assert.equal(JSON.parse(ok.out).path, "/resource");
});

Deno.test("alf request returns a redirect as the answer, and follows it with -L", async () => {
  await using server = await startAuthServer(CREDENTIALS);
  server.route("/resource/old", () => Response.redirect(server.url("/resource/new"), 302));
  const kept = await alf(["request", server.url("/resource/old")], { env: envFor(server) });
  assert.equal(kept.code, 22);
  assert.equal(kept.err, "alf: the server answered 302 Found, a redirect; pass -L to follow it\n");
  assert.equal(server.resourceRequests.length, 1);
  const followed = await alf(["request", "-L", server.url("/resource/old")], {
    env: envFor(server),
  });
  assert.equal(followed.code, 0, followed.err);
  assert.equal(JSON.parse(followed.out).path, "/resource/new");
  assert.deepEqual(server.resourceRequests.map((r) => new URL(r.url).pathname), [
    "/resource/old",
    "/resource/old",
    "/resource/new",
  ]);
});

Deno.test("alf request -s keeps failures off stderr; -S shows them; bad arguments always show", async () => {
  await using server = await startAuthServer(CREDENTIALS);
  server.route("/resource/missing", () => new Response("no such item", { status: 404 }));
  const quiet = await alf(["request", "-s", server.url("/resource/missing")], {
    env: envFor(server),
  });
  assert.deepEqual([quiet.code, quiet.out, quiet.err], [22, "no such item", ""]);
  const shown = await alf(["request", "-sS", server.url("/resource/missing")], {
    env: envFor(server),
  });
  assert.deepEqual([shown.code, shown.err], [22, "alf: the server answered 404 Not Found\n"]);
  server.failTokenRequests(1, { status: 503 });
  const noToken = await alf(["request", "--silent", server.resourceUrl], { env: envFor(server) });
  assert.deepEqual([noToken.code, noToken.out, noToken.err], [3, "", ""]);
  await usage(server, ["-s", "GET", server.resourceUrl, "-d", "x"], /a GET request has no body/);
});

Deno.test("alf request -v shows the token request, the request and the response, redacted", async () => {
  await using server = await startAuthServer(CREDENTIALS);
  const url = server.url("/resource/items?page=2&access_token=in-the-query");
  const { code, out, err } = await alf(
    ["request", "-v", url, "-H", "X-Api-Key: key-in-a-header", "-H", "X-Tag: t1", "-d", "abc"],
    { env: envFor(server) },
  );
  assert.equal(code, 0, err);
  assert.equal(JSON.parse(out).path, "/resource/items");
  const lines = err.split("\n");
  assert.equal(
    lines[0],
    `> POST ${server.origin}/resource/items?page=2&access_token=[redacted]`,
  );
  for (
    const line of [
      "> authorization: Bearer [redacted] (the access token, added by alf)",
      "> x-api-key: [redacted]",
      "> x-tag: t1",
      "> (a body of 3 bytes)",
      "< HTTP 200 OK",
      "< content-type: application/json",
      "<",
    ]
  ) assert.ok(lines.includes(line), `${line} in\n${err}`);
  assert.match(err, /\n\* new access token \(missing\), valid for 3600 s\n/);
  assert.match(
    err,
    /\n\* token request POST http:\/\/127\.0\.0\.1:\d+\/token \(client_credentials\) → 200 in \d+ ms\n/,
  );
  for (const secret of [SECRET, ...server.issuedTokens, "in-the-query", "key-in-a-header"]) {
    assert.ok(!err.includes(secret), secret);
  }
});

Deno.test("alf request -v shows a renewal after a 401, and -s does not hide -v", async () => {
  await using server = await startAuthServer(CREDENTIALS);
  server.route("/resource/once", (_request, recorded) => {
    if (server.resourceRequests.length > 1) return new Response(`ok ${recorded.token}`);
    server.revoke();
    return new Response(null, { status: 401, headers: { "WWW-Authenticate": "Bearer" } });
  });
  const { code, err } = await alf(["request", "-sv", server.url("/resource/once")], {
    env: envFor(server),
  });
  assert.equal(code, 0, err);
  assert.match(
    err,
    /\n\* new access token \(the resource answered 401, so the request is sent again with it\)/,
  );
  assert.equal(server.tokenRequests.length, 2);
});

Deno.test("alf request -m gives up with exit code 28 on a slow resource or token endpoint", async () => {
  await using server = await startAuthServer(CREDENTIALS);
  server.resourceDelay = 60_000;
  const resource = await alf(["request", "-m", "0.2", server.resourceUrl], {
    env: envFor(server),
  });
  assert.equal(resource.code, 28, resource.err);
  assert.ok(isOneLineError(resource.err), resource.err);
  assert.equal(resource.err, "alf: Cannot complete the request: --max-time 0.2 s passed\n");
  server.tokenDelay = 60_000;
  const token = await alf(["request", "--max-time=0.2", server.url("/resource/second")], {
    env: { ...envFor(server), ALF_TOKEN_ENDPOINT: server.tokenEndpoint },
  });
  assert.equal(token.code, 28, token.err);
  assert.equal(server.resourceRequests.length, 1); // the first run's only
});

Deno.test("alf request -m exits 2 for a value that is not a number of seconds above 0", async () => {
  await using server = await startAuthServer(CREDENTIALS);
  for (const value of ["abc", "0", "-1", "1e3", "9999999"]) {
    await usage(
      server,
      ["-m", value, server.resourceUrl],
      /-m\/--max-time takes a number of seconds above 0, such as 30 or 2\.5$/,
    );
  }
  assert.equal(server.tokenRequests.length, 0);
});

Deno.test("alf request refuses -u, -F and -k saying why and what to use, never their value", async () => {
  await using server = await startAuthServer(CREDENTIALS);
  const user = await usage(
    server,
    ["-u", `ada:${SECRET}`, server.resourceUrl],
    /-u\/--user is not supported: alf authenticates with the bearer token it obtains; .* use curl -u/,
  );
  assert.ok(!user.includes(SECRET));
  await usage(
    server,
    [server.resourceUrl, `-Ffile=@${SECRET}`],
    /-F\/--form is not supported: .*--data-binary @FILE/,
  );
  await usage(server, ["-k", server.resourceUrl], /-k\/--insecure is not supported: .*DENO_CERT/);
  assert.equal(server.tokenRequests.length, 0);
});

Deno.test("alf request exits 1 when Deno denies the network or a file, as the table says", async () => {
  await using server = await startAuthServer(CREDENTIALS);
  const port = await closedPort();
  const denoFlags = ["--allow-env", `--allow-net=127.0.0.1:${server.port}`];
  const net = await alf(["request", `http://127.0.0.1:${port}/x`], {
    env: envFor(server),
    denoFlags,
  });
  assert.equal(net.code, 1, net.err);
  assert.ok(isOneLineError(net.err), net.err);
  assert.match(net.err, /^alf: Cannot run the command: .*net access/i);
  const file = await alf(["request", server.resourceUrl, "-d", "@/etc/hostname"], {
    env: envFor(server),
    denoFlags,
  });
  assert.equal(file.code, 1, file.err);
  assert.match(file.err, /^alf: Cannot run the command: .*read access/i);
});
