// A request as Client.fetch() sends it: prepared (checked, its body copied if
// needed), sent with the token, judged by its 401, replayed once.

import assert from "node:assert/strict";
import { fc } from "./_dev_deps.ts";
import { Client, type Token } from "../mod.ts";
import { ReplayableRequest } from "../src/replayable_request.ts";
import { startAuthServer } from "../testing.ts";
import { anyString, RUNS } from "./_arbitraries.ts";
import { clientFor, fetchText, ManualClock, serve } from "./_helpers.ts";
import { answer, rawServer, readRequest, write } from "./_raw_server.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
const decode = (body: Uint8Array) => new TextDecoder().decode(body);

/** An async generator of `chunks`: Deno's fetch takes async (and sync) iterables as bodies. */
async function* generate(chunks: string[]): AsyncGenerator<Uint8Array> {
  for (const chunk of chunks) yield bytes(chunk);
}

function stream(chunks: string[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    pull(controller) {
      const next = chunks.shift();
      if (next === undefined) controller.close();
      else controller.enqueue(bytes(next));
    },
  });
}

// ReplayableRequest on its own, with a transport that records what it is given.

const token = (accessToken: string): Token => ({ accessToken, tokenType: "Bearer", issuedAt: 0 });

/** A transport that reads each request's body and answers 401 to the first. */
function recordingTransport() {
  const sent: { input: RequestInfo | URL; init?: RequestInit; body: string }[] = [];
  const transport: typeof fetch = async (input, init) => {
    const body = await (input instanceof Request ? input : new Request(input, init)).text();
    sent.push({ input, init, body });
    return new Response(null, { status: sent.length === 1 ? 401 : 200 });
  };
  return { sent, transport };
}

Deno.test("ReplayableRequest sends a URL with a string body as given, its headers a record", async () => {
  const { sent, transport } = recordingTransport();
  const init = { method: "POST", body: "hello", headers: { "X-Kept": "1" } };
  const request = new ReplayableRequest("http://127.0.0.1/x", init, {
    transport,
    maxReplayBytes: Infinity,
  });
  assert.ok(request.isTokenRejected(await request.send(token("one"))));
  assert.ok(request.holdForReplay());
  assert.equal((await request.replay(token("two"))).status, 200);
  request.release();
  for (const [i, call] of sent.entries()) {
    assert.equal(call.input, "http://127.0.0.1/x"); // no Request built
    assert.equal(call.body, "hello");
    assert.equal(Object.getPrototypeOf(call.init?.headers), null); // a record, not Headers
    assert.deepEqual({ ...call.init?.headers }, {
      "X-Kept": "1",
      Authorization: `Bearer ${["one", "two"][i]}`,
    });
  }
  assert.deepEqual(init.headers, { "X-Kept": "1" });
});

Deno.test("ReplayableRequest replays a stream from the copy it made before the first send", async () => {
  const { sent, transport } = recordingTransport();
  const request = new ReplayableRequest(
    "http://127.0.0.1/x",
    { method: "PUT", body: stream(["str", "eam"]) },
    { transport, maxReplayBytes: 1024 },
  );
  await request.send(token("one"));
  assert.ok(request.holdForReplay());
  await request.replay(token("two"));
  request.release();
  assert.deepEqual(sent.map((call) => call.body), ["stream", "stream"]);
  assert.ok(sent.every((call) => call.input instanceof Request));
});

Deno.test("ReplayableRequest drops the copy of a stream once it passes maxReplayBytes", async () => {
  const { sent, transport } = recordingTransport();
  const request = new ReplayableRequest(
    "http://127.0.0.1/x",
    { method: "POST", body: stream(["abc", "def"]) },
    { transport, maxReplayBytes: 4 },
  );
  assert.equal((await request.send(token("one"))).status, 401);
  assert.equal(request.holdForReplay(), false);
  request.release();
  assert.deepEqual(sent.map((call) => call.body), ["abcdef"]);
});

Deno.test("ReplayableRequest keeps the whole stream for the replay when maxReplayBytes is not given", async () => {
  const { sent, transport } = recordingTransport();
  const big = "x".repeat(64 * 1024);
  const request = new ReplayableRequest(
    "http://127.0.0.1/x",
    { method: "POST", body: stream([big, big]) },
    { transport },
  );
  assert.equal((await request.send(token("one"))).status, 401);
  assert.ok(request.holdForReplay());
  assert.equal((await request.replay(token("two"))).status, 200);
  request.release();
  assert.deepEqual(sent.map((call) => call.body?.length), [big.length * 2, big.length * 2]);
});

// Prepare: bad input fails before any token request; the caller's arguments are not changed.

Deno.test("Client.fetch() rejects bad input like fetch, before any token request", async () => {
  await using server = await startAuthServer();
  server.failTokenRequests(10, { status: 503 });
  await using client = clientFor(server);
  await assert.rejects(client.fetch("not a url"), {
    name: "TypeError",
    message: "Cannot send the request: the URL is not valid",
  });
  await assert.rejects(client.fetch(server.resourceUrl, { body: "x" }), {
    name: "TypeError",
    message: "Cannot send the request: a GET request cannot have a body",
  });
  await assert.rejects(client.fetch(server.resourceUrl, { method: "HEAD", body: "x" }), TypeError);
  await assert.rejects(
    client.fetch(new URL("nope:/x"), { method: "PUT", body: new FormData() }),
    /a bearer token goes only to http: and https: URLs, not nope:/,
  );
  await assert.rejects(client.fetch("data:text/plain,hi"), /not data:/);
  assert.equal(server.tokenRequests.length, 0);
});

Deno.test("Client.fetch() does not change the caller's init, headers or Request", async () => {
  await using server = await startAuthServer();
  await using client = clientFor(server);
  const headers = new Headers({ "X-Trace": "1" });
  const init = { method: "PUT", headers, body: "x" };
  await fetchText(client.fetch, server.resourceUrl, init);
  assert.deepEqual([...headers], [["x-trace", "1"]]);
  assert.deepEqual(Object.keys(init), ["method", "headers", "body"]);
  const request = new Request(server.resourceUrl, { headers: { "X-Trace": "2" } });
  await fetchText(client.fetch, request);
  assert.equal(request.headers.get("authorization"), null);
});

// Send: the caller's headers in every form, static bodies sent as they are
// (with Content-Length), the transport's own errors and redirects.

const headerForms: [string, () => HeadersInit][] = [
  ["a record", () => ({ authorization: "Basic caller", "X-Kept": "1" })],
  ["a Headers object", () => new Headers({ Authorization: "Basic caller", "X-Kept": "1" })],
  ["a list of pairs", () => [["AUTHORIZATION", "Basic caller"], ["X-Kept", "1"]]],
];

for (const [name, headers] of headerForms) {
  Deno.test(`Client.fetch() replaces the caller's Authorization given as ${name}`, async () => {
    await using server = await startAuthServer();
    await using client = clientFor(server);
    const init = { headers: headers() };
    const { status } = await fetchText(client.fetch, server.resourceUrl, init);
    assert.equal(status, 200);
    const [recorded] = server.resourceRequests;
    assert.ok(recorded);
    assert.equal(recorded.headers.get("authorization"), `Bearer ${server.issuedTokens[0]}`);
    assert.equal(recorded.headers.get("x-kept"), "1");
    assert.equal(new Headers(init.headers).get("authorization"), "Basic caller");
  });
}

const staticBodies: [string, () => BodyInit, number][] = [
  ["a string", () => "hello", 5],
  ["bytes", () => new TextEncoder().encode("hello"), 5],
  ["a Blob", () => new Blob(["hello"]), 5],
  ["URLSearchParams", () => new URLSearchParams({ a: "1" }), 3],
];

for (const [name, body, length] of staticBodies) {
  Deno.test(`Client.fetch() sends ${name} body with Content-Length, not chunked`, async () => {
    await using server = await startAuthServer();
    await using client = clientFor(server);
    await fetchText(client.fetch, server.resourceUrl, { method: "POST", body: body() });
    await fetchText(client.fetch, new Request(server.resourceUrl, { method: "PUT", body: body() }));
    for (const recorded of server.resourceRequests) {
      assert.equal(recorded.headers.get("content-length"), String(length));
      assert.equal(recorded.headers.get("transfer-encoding"), null);
    }
  });
}

Deno.test("Client.fetch() passes transport errors of the resource through", async () => {
  await using server = await startAuthServer();
  await using client = clientFor(server);
  const closed = serve(() => new Response());
  const url = closed.url;
  await closed.close();
  await assert.rejects(client.fetch(url), TypeError);
});

Deno.test("Client.fetch() passes a redirect loop's transport error through", async () => {
  await using server = await startAuthServer();
  server.route("/loop", () => Response.redirect(server.url("/loop"), 302));
  await using client = clientFor(server);
  await assert.rejects(client.fetch(server.url("/loop")), TypeError);
  assert.equal(server.tokenRequests.length, 1);
  assert.equal((await fetchText(client.fetch, server.resourceUrl)).status, 200);
});

Deno.test("Client.fetch() keeps the token on a same-origin redirect and drops it across origins", async () => {
  await using other = await startAuthServer();
  await using server = await startAuthServer();
  server.route("/to-other", () => Response.redirect(other.url("/elsewhere"), 302));
  server.route("/to-same", () => Response.redirect(server.resourceUrl, 302));
  await using client = clientFor(server);
  assert.equal((await fetchText(client.fetch, server.url("/to-same"))).status, 200);
  assert.equal(server.resourceRequests.at(-1)!.token, server.issuedTokens[0]);
  await fetchText(client.fetch, server.url("/to-other"));
  assert.equal(other.resourceRequests.length, 1);
  const [redirected] = other.resourceRequests;
  assert.ok(redirected);
  assert.equal(redirected.headers.get("authorization"), null);
});

Deno.test("Client.fetch() never sends the token to another origin on a redirect that comes back", async () => {
  await using other = await startAuthServer();
  await using server = await startAuthServer();
  server.route("/start", () => Response.redirect(other.url("/bounce"), 307));
  other.route("/bounce", () => Response.redirect(server.url("/end"), 307));
  server.route(
    "/end",
    (_request, recorded) =>
      new Response(recorded.token ? "token" : "none", { status: recorded.token ? 200 : 401 }),
  );
  await using client = clientFor(server);
  const { status, text } = await fetchText(client.fetch, server.url("/start"), {
    method: "POST",
    body: "payload",
  });
  // fetch drops Authorization at the first cross-origin hop and does not put
  // it back, so the final same-origin 401 costs one renewal and one replay.
  assert.deepEqual([status, text], [401, "none"]);
  assert.deepEqual(other.resourceRequests.map((r) => r.headers.get("authorization")), [
    null,
    null,
  ]);
  assert.ok(other.resourceRequests.every((r) => new TextDecoder().decode(r.body) === "payload"));
  assert.equal(server.tokenRequests.length, 2);
});

// Which 401 rejects the token
// ([RFC 6750 §3.1](https://www.rfc-editor.org/rfc/rfc6750#section-3.1)): a new
// token cannot fix insufficient_scope, and a 401 from another origin was not
// sent the token.

Deno.test("Client.fetch() does not renew on 403 or a 401 for insufficient_scope", async () => {
  await using server = await startAuthServer();
  server.route("/forbidden", () => new Response(null, { status: 403 }));
  server.route("/scope", () =>
    new Response(null, {
      status: 401,
      headers: { "WWW-Authenticate": 'Bearer error="insufficient_scope", scope="admin"' },
    }));
  await using client = clientFor(server);
  assert.equal((await fetchText(client.fetch, server.url("/forbidden"))).status, 403);
  assert.equal((await fetchText(client.fetch, server.url("/scope"))).status, 401);
  assert.equal(server.tokenRequests.length, 1);
  assert.equal(server.resourceRequests.length, 2);
});

/**
 * How long a token obtained for a rejection is not replaced again when it is
 * rejected too (the client's clock): tests that expect a renewal after each
 * 401 move their clock past it.
 */
const REJECTION_PAUSE = 30_000;

Deno.test("Client.fetch() renews on a 401 with invalid_token and with no challenge", async () => {
  await using server = await startAuthServer();
  let calls = 0;
  server.route("/bare-401", () => new Response(null, { status: calls++ === 0 ? 401 : 200 }));
  const clock = new ManualClock();
  await using client = clientFor(server, { now: clock.now });
  await fetchText(client.fetch, server.resourceUrl);
  server.revoke();
  assert.equal((await fetchText(client.fetch, server.resourceUrl)).status, 200); // invalid_token
  clock.advance(REJECTION_PAUSE);
  assert.equal((await fetchText(client.fetch, server.url("/bare-401"))).status, 200);
  assert.equal(server.tokenRequests.length, 3);
});

for (
  const [challenge, renews] of [
    ['Basic realm="api", Bearer error="insufficient_scope"', false],
    ["Bearer error=insufficient_scope", false],
    ['BEARER ERROR="INSUFFICIENT_SCOPE", scope="admin"', false],
    ['Bearer realm="api", error="invalid_token", error_description="expired"', true],
    ['Bearer error="invalid_request"', true],
    ["Negotiate", true],
    // Only the error parameter of the Bearer challenge counts (RFC 6750 §3, RFC 9110 §11.6.1).
    ['Bearer error="invalid_token", error_description="not error=insufficient_scope"', true],
    ['Bearer scope="error=insufficient_scope", error="invalid_token"', true],
    ['Basic error=insufficient_scope, Bearer error="invalid_token"', true],
  ] as const
) {
  Deno.test(`Client.fetch() ${renews ? "renews" : "does not renew"} on a 401 with ${challenge}`, async () => {
    await using server = await startAuthServer();
    server.route(
      "/challenge",
      () => new Response("no", { status: 401, headers: { "WWW-Authenticate": challenge } }),
    );
    await using client = clientFor(server);
    const { status, text } = await fetchText(client.fetch, server.url("/challenge"));
    assert.deepEqual([status, text], [401, "no"]);
    assert.equal(server.tokenRequests.length, renews ? 2 : 1);
    assert.equal(server.resourceRequests.length, renews ? 2 : 1);
  });
}

Deno.test("Client.fetch() does not renew for a 401 from another origin after a redirect", async () => {
  await using other = await startAuthServer();
  await using server = await startAuthServer();
  server.route("/away", () => Response.redirect(other.url("/resource/x"), 302));
  await using client = clientFor(server);
  const { status } = await fetchText(client.fetch, server.url("/away"));
  assert.equal(status, 401); // the other server's own stand-in resource, given no token
  const [redirected] = other.resourceRequests;
  assert.ok(redirected);
  assert.equal(redirected.token, undefined);
  assert.equal(server.tokenRequests.length, 1);
});

// Replay: the same request, body byte for byte, once, with the new token.

const form = new FormData();
form.append("field", "value");
form.append("file", new Blob(["file content"]), "a.txt");

const bodies: [string, () => BodyInit][] = [
  ["a string", () => "plain text body"],
  ["bytes", () => bytes("byte body \u00e9")],
  ["an ArrayBuffer", () => bytes("buffer body").buffer as ArrayBuffer],
  ["a Blob", () => new Blob(["blob ", "body"])],
  ["FormData", () => form],
  ["URLSearchParams", () => new URLSearchParams({ a: "1", b: "two words" })],
  ["a ReadableStream", () => stream(["streamed ", "in ", "chunks"])],
  ["an async generator", () => generate(["generated ", "in ", "chunks"]) as unknown as BodyInit],
  ["a list of chunks", () => ["listed ", "chunks"].map(bytes) as unknown as BodyInit],
];

for (const [name, body] of bodies) {
  Deno.test(`Client.fetch() replays ${name} body byte for byte after a 401`, async () => {
    await using server = await startAuthServer();
    await using client = clientFor(server);
    await fetchText(client.fetch, server.resourceUrl);
    server.revoke();
    const { status, text } = await fetchText(client.fetch, server.url("/resource/items"), {
      method: "POST",
      headers: { "X-Custom": "kept" },
      body: body(),
    });
    assert.equal(status, 200, text);
    const [, rejected, replayed] = server.resourceRequests;
    assert.ok(rejected && replayed);
    assert.equal(rejected.token, server.issuedTokens[0]);
    assert.equal(replayed.token, server.issuedTokens[1]);
    assert.ok(rejected.body.byteLength > 0);
    assert.deepEqual(replayed.body, rejected.body);
    assert.equal(replayed.method, "POST");
    assert.equal(replayed.url, rejected.url);
    for (const header of ["x-custom", "content-type", "content-length"]) {
      assert.equal(replayed.headers.get(header), rejected.headers.get(header), header);
    }
  });
}

Deno.test("Client.fetch() replays a Request input with a streamed body after a 401", async () => {
  await using server = await startAuthServer();
  await using client = clientFor(server);
  await fetchText(client.fetch, server.resourceUrl);
  server.revoke();
  const request = new Request(server.resourceUrl, {
    method: "PUT",
    body: stream(["request ", "body"]),
  });
  const { status } = await fetchText(client.fetch, request);
  assert.equal(status, 200);
  const [, , replayed] = server.resourceRequests;
  assert.ok(replayed);
  assert.equal(decode(replayed.body), "request body");
  assert.equal(replayed.method, "PUT");
});

Deno.test("Client.fetch() replays a 1 MiB streamed body after a 401", async () => {
  await using server = await startAuthServer();
  await using client = clientFor(server);
  await fetchText(client.fetch, server.resourceUrl);
  server.revoke();
  const chunk = "x".repeat(64 * 1024);
  const { status } = await fetchText(client.fetch, server.resourceUrl, {
    method: "POST",
    body: stream(Array.from({ length: 16 }, () => chunk)),
  });
  assert.equal(status, 200);
  const [, rejected, replayed] = server.resourceRequests;
  assert.ok(rejected && replayed);
  assert.equal(rejected.body.byteLength, 1024 * 1024);
  assert.deepEqual(replayed.body, rejected.body);
});

Deno.test("Client.fetch() renews once for 50 concurrent 401s on one revoked token", async () => {
  await using server = await startAuthServer();
  await using client = clientFor(server);
  await fetchText(client.fetch, server.resourceUrl);
  server.revoke();
  const results = await Promise.all(
    Array.from(
      { length: 50 },
      (_, i) => fetchText(client.fetch, server.resourceUrl, { method: "POST", body: `n${i}` }),
    ),
  );
  assert.ok(results.every((r) => r.status === 200));
  assert.equal(server.tokenRequests.length, 2);
  const replays = server.resourceRequests.filter((r) => r.token === server.issuedTokens[1]);
  assert.equal(replays.length, 50);
  assert.deepEqual(
    replays.map((r) => decode(r.body)).sort(),
    Array.from({ length: 50 }, (_, i) => `n${i}`).sort(),
  );
});

Deno.test("Client.fetch() cancels a 401 body that never ends and replays", async () => {
  await using server = await startAuthServer();
  let cancelled = false;
  let first = true;
  server.route("/endless", () => {
    if (!first) return new Response("done");
    first = false;
    const body = new ReadableStream({
      pull: (controller) => controller.enqueue(bytes("more ")),
      cancel: () => {
        cancelled = true;
      },
    });
    return new Response(body, { status: 401 });
  });
  await using client = clientFor(server);
  const { status, text } = await fetchText(client.fetch, server.url("/endless"));
  assert.equal(status, 200);
  assert.equal(text, "done");
  // The server sees the cancellation once the connection closes.
  for (let i = 0; i < 200 && !cancelled; i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(cancelled);
});

Deno.test("Client.fetch() replays after a 401 whose connection breaks off mid-body", async () => {
  await using server = await startAuthServer();
  const requests: string[] = [];
  await using resource = rawServer(async (conn, n) => {
    requests.push(await readRequest(conn));
    await write(
      conn,
      n === 0
        ? "HTTP/1.1 401 Unauthorized\r\nContent-Length: 1000\r\n\r\npartial"
        : "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 4\r\n\r\ndone",
    );
  });
  await using client = clientFor(server);
  const { status, text } = await fetchText(client.fetch, resource.url, {
    method: "PUT",
    body: "kept",
  });
  assert.deepEqual([status, text], [200, "done"]);
  assert.equal(server.tokenRequests.length, 2);
  // Content-Length or chunked: either way the replay carries the whole body.
  const [, replayed] = requests;
  assert.ok(replayed !== undefined);
  assert.match(replayed, /^PUT /);
  assert.match(replayed, /\r\n\r\n(4\r\n)?kept(\r\n0\r\n\r\n)?$/);
});

Deno.test("Client.fetch() passes the transport error of a failed replay through", async () => {
  await using server = await startAuthServer();
  await using resource = rawServer(async (conn, n) => {
    if (n === 0) await answer(conn, "401 Unauthorized", "");
    else await readRequest(conn); // and hang up without an answer
  });
  await using client = clientFor(server);
  await assert.rejects(client.fetch(resource.url, { method: "POST", body: "x" }), TypeError);
  assert.equal(server.tokenRequests.length, 2);
});

Deno.test("Client.fetch() replays a whole streamed body the resource rejected before reading it", async () => {
  await using server = await startAuthServer();
  let first = true;
  await using resource = serve(async (request) => {
    if (!first) return new Response(String((await request.arrayBuffer()).byteLength));
    first = false;
    return new Response(null, { status: 401 }); // answers without reading the body
  });
  await using client = clientFor(server);
  const chunk = new Uint8Array(64 * 1024).fill(7);
  let pulls = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (pulls++ === 16) controller.close();
      else controller.enqueue(chunk.slice());
    },
  });
  const result = await client.fetch(resource.url, { method: "POST", body }).then(
    async (response) => ({ status: response.status, text: await response.text() }),
    (error: unknown) => ({ error }),
  );
  // Either the transport gives up on the half-sent request (its own error),
  // or the replay carries every byte.
  if ("error" in result) assert.ok(result.error instanceof TypeError, String(result.error));
  else assert.deepEqual(result, { status: 200, text: String(16 * 64 * 1024) });
});

Deno.test("Client.fetch() returns the token endpoint's error when the renewal after a 401 fails", async () => {
  await using server = await startAuthServer();
  await using client = clientFor(server);
  await fetchText(client.fetch, server.resourceUrl);
  server.revoke();
  server.failTokenRequests(1, { status: 400, body: '{"error":"invalid_scope"}' });
  const { status, text } = await fetchText(client.fetch, server.resourceUrl, {
    method: "POST",
    body: stream(["never replayed"]),
  });
  assert.equal(status, 400);
  assert.deepEqual(JSON.parse(text), { error: "invalid_scope" });
  assert.equal(server.resourceRequests.length, 2);
});

Deno.test("Client.fetch() returns the 401 of a stream over maxReplayBytes and renews for the next request", async () => {
  await using server = await startAuthServer();
  await using client = clientFor(server, { maxReplayBytes: 64 * 1024 });
  await fetchText(client.fetch, server.resourceUrl);
  server.revoke();
  const chunk = "y".repeat(32 * 1024);
  const { status } = await fetchText(client.fetch, server.resourceUrl, {
    method: "POST",
    body: stream(Array.from({ length: 8 }, () => chunk)), // 256 KiB
  });
  assert.equal(status, 401);
  assert.equal(server.resourceRequests.length, 2); // no replay
  const [, rejected] = server.resourceRequests;
  assert.ok(rejected);
  assert.equal(rejected.body.byteLength, 256 * 1024);
  const next = await fetchText(client.fetch, server.resourceUrl);
  assert.equal(next.status, 200);
  assert.equal(server.tokenRequests.length, 2);
  const [, , afterward] = server.resourceRequests;
  assert.ok(afterward);
  assert.equal(afterward.token, server.issuedTokens[1]);
});

Deno.test("Client.fetch() replays a stream within maxReplayBytes", async () => {
  await using server = await startAuthServer();
  await using client = clientFor(server, { maxReplayBytes: 64 * 1024 });
  await fetchText(client.fetch, server.resourceUrl);
  server.revoke();
  const { status } = await fetchText(client.fetch, server.resourceUrl, {
    method: "POST",
    body: stream(["a".repeat(60 * 1024)]),
  });
  assert.equal(status, 200);
  const [, rejected, replayed] = server.resourceRequests;
  assert.ok(rejected && replayed);
  assert.deepEqual(replayed.body, rejected.body);
});

Deno.test("Client.fetch() replays a stream over maxReplayBytes whose 401 came before the limit", async () => {
  await using server = await startAuthServer();
  let calls = 0;
  // A resource that answers 401 at once, without reading the body, then reads the replay.
  await using resource = serve(async (request) => {
    if (calls++ === 0) return new Response(null, { status: 401 });
    return new Response(String((await request.arrayBuffer()).byteLength));
  });
  const answered = Promise.withResolvers<void>();
  await using client = clientFor(server, {
    maxReplayBytes: 1024,
    fetch: async (input, init) => {
      const response = await fetch(input, init);
      if (response.status === 401) answered.resolve();
      return response;
    },
  });
  // 512 bytes at once; the other 63.5 KiB only once the client has the 401.
  let sent = 0;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (sent > 0) await answered.promise;
      if (sent >= 64 * 1024) return controller.close();
      controller.enqueue(bytes("z".repeat(512)));
      sent += 512;
    },
  }, { highWaterMark: 0 });
  const { status, text } = await fetchText(client.fetch, resource.url, { method: "POST", body });
  assert.deepEqual([status, text], [200, String(64 * 1024)]);
  assert.equal(calls, 2);
});

// Property: any body, by any method, is replayed byte for byte.

type BodyCase =
  | { kind: "string"; text: string }
  | { kind: "bytes" | "buffer"; bytes: Uint8Array }
  | { kind: "blob" | "stream"; parts: Uint8Array[] }
  | { kind: "params"; entries: [string, string][] }
  | { kind: "form"; fields: [string, string | Uint8Array][] }
  | { kind: "large"; size: number; fill: number };

const smallBytes = fc.uint8Array({ maxLength: 300 });
const bodyCase: fc.Arbitrary<BodyCase> = fc.oneof(
  fc.record({ kind: fc.constant("string" as const), text: fc.string({ unit: "binary" }) }),
  fc.record({ kind: fc.constantFrom("bytes" as const, "buffer" as const), bytes: smallBytes }),
  fc.record({
    kind: fc.constantFrom("blob" as const, "stream" as const),
    parts: fc.array(fc.uint8Array({ maxLength: 2048 }), { maxLength: 12 }),
  }),
  fc.record({
    kind: fc.constant("params" as const),
    entries: fc.array(fc.tuple(anyString, anyString)),
  }),
  fc.record({
    kind: fc.constant("form" as const),
    fields: fc.array(fc.tuple(anyString, fc.oneof(anyString, smallBytes)), { maxLength: 4 }),
  }),
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("large" as const),
      size: fc.integer({ min: 64 * 1024, max: 512 * 1024 }),
      fill: fc.integer({ min: 0, max: 255 }),
    }),
  },
);

function concat(parts: Uint8Array[]): Uint8Array {
  const bytes = new Uint8Array(parts.reduce((n, part) => n + part.byteLength, 0));
  let offset = 0;
  for (const part of parts) {
    bytes.set(part, offset);
    offset += part.byteLength;
  }
  return bytes;
}

/** The body to send, and the bytes it must arrive as (unknown for FormData: its boundary is random). */
function makeBody(body: BodyCase): { init: BodyInit; expected?: Uint8Array } {
  const encode = (text: string) => new TextEncoder().encode(text);
  switch (body.kind) {
    case "string":
      return { init: body.text, expected: encode(body.text) };
    case "bytes":
      return { init: body.bytes.slice(), expected: body.bytes };
    case "buffer":
      return { init: body.bytes.slice().buffer, expected: body.bytes };
    case "blob":
      return { init: new Blob(body.parts.map((p) => p.slice())), expected: concat(body.parts) };
    case "stream": {
      const parts = body.parts.map((p) => p.slice());
      const init = new ReadableStream<Uint8Array>({
        pull(controller) {
          const next = parts.shift();
          if (next === undefined) controller.close();
          else controller.enqueue(next);
        },
      });
      return { init, expected: concat(body.parts) };
    }
    case "params": {
      const params = new URLSearchParams(body.entries);
      return { init: params, expected: encode(params.toString()) };
    }
    case "form": {
      const form = new FormData();
      for (const [name, value] of body.fields) {
        if (typeof value === "string") form.append(name, value);
        else form.append(name, new Blob([value.slice()]), "file.bin");
      }
      return { init: form };
    }
    case "large": {
      const bytes = new Uint8Array(body.size).fill(body.fill);
      const chunks = [bytes.subarray(0, body.size >> 1), bytes.subarray(body.size >> 1)];
      const init = new ReadableStream<Uint8Array>({
        pull(controller) {
          const next = chunks.shift();
          if (next === undefined) controller.close();
          else controller.enqueue(next.slice());
        },
      });
      return { init, expected: bytes };
    }
  }
}

Deno.test("Client.fetch() replays any body byte for byte after a 401", async () => {
  await using server = await startAuthServer();
  const attempts: { body: Uint8Array; headers: Headers; method: string; token?: string }[] = [];
  server.route("/replay", (_request, recorded) => {
    attempts.push(recorded);
    return new Response(null, { status: attempts.length === 1 ? 401 : 200 });
  });
  const clock = new ManualClock();
  await using client = new Client({
    tokenEndpoint: server.tokenEndpoint,
    clientId: "id",
    clientSecret: "secret",
    now: clock.now,
  });
  await fc.assert(
    fc.asyncProperty(
      bodyCase,
      fc.constantFrom("POST", "PUT", "PATCH", "DELETE"),
      async (body, method) => {
        attempts.length = 0;
        clock.advance(REJECTION_PAUSE); // each run's 401 renews, however close the runs

        const { init, expected } = makeBody(body);
        const response = await client.fetch(server.url("/replay"), { method, body: init });
        await response.body?.cancel();
        assert.equal(response.status, 200);
        assert.equal(attempts.length, 2);
        const [first, replay] = attempts;
        assert.ok(first && replay);
        assert.notEqual(replay.token, first.token);
        assert.equal(replay.method, method);
        assert.deepEqual(replay.body, first.body);
        if (expected) assert.deepEqual(replay.body, expected);
        assert.equal(replay.headers.get("content-type"), first.headers.get("content-type"));
      },
    ),
    { numRuns: RUNS },
  );
});

// maxReplayBytes holds for every streamed body: a stream, an async or sync
// iterable, a Request input's body.

const KiB = 1024;

/** `count` chunks of `size` bytes, as an async generator that counts what was read of it. */
function largeGenerator(count: number, size: number) {
  const read = { bytes: 0 };
  async function* chunks(): AsyncGenerator<Uint8Array> {
    for (let i = 0; i < count; i++) {
      read.bytes += size;
      yield new Uint8Array(size).fill(i % 256);
    }
  }
  return { body: chunks() as unknown as BodyInit, read };
}

Deno.test("ReplayableRequest drops the copy of an async generator once it passes maxReplayBytes", async () => {
  const { sent, transport } = recordingTransport();
  const { body } = largeGenerator(16, 64 * KiB); // 1 MiB
  const request = new ReplayableRequest("http://127.0.0.1/x", { method: "POST", body }, {
    transport,
    maxReplayBytes: 64 * KiB,
  });
  assert.equal((await request.send(token("one"))).status, 401);
  assert.equal(request.holdForReplay(), false); // the copy stopped at the limit
  request.release();
  assert.equal(sent.length, 1);
  assert.equal(sent[0]?.body.length, 1024 * KiB); // sent whole
});

Deno.test("ReplayableRequest drops the copy of a sync iterable once it passes maxReplayBytes", async () => {
  const { sent, transport } = recordingTransport();
  const chunks = Array.from({ length: 4 }, () => bytes("x".repeat(32 * KiB)));
  const request = new ReplayableRequest(
    "http://127.0.0.1/x",
    { method: "PUT", body: chunks as unknown as BodyInit },
    { transport, maxReplayBytes: 64 * KiB },
  );
  assert.equal((await request.send(token("one"))).status, 401);
  assert.equal(request.holdForReplay(), false);
  request.release();
  assert.equal(sent[0]?.body.length, 128 * KiB);
});

Deno.test("ReplayableRequest drops the copy of a Request input's stream once it passes maxReplayBytes", async () => {
  const { sent, transport } = recordingTransport();
  const input = new Request("http://127.0.0.1/x", {
    method: "POST",
    body: stream(["abc", "def", "ghi"]),
  });
  const request = new ReplayableRequest(input, undefined, { transport, maxReplayBytes: 4 });
  assert.equal((await request.send(token("one"))).status, 401);
  assert.equal(request.holdForReplay(), false);
  request.release();
  assert.deepEqual(sent.map((call) => call.body), ["abcdefghi"]);
});

Deno.test("Client.fetch() returns the 401 of a 1 MiB async generator over maxReplayBytes and sends it whole", async () => {
  await using server = await startAuthServer();
  await using client = clientFor(server, { maxReplayBytes: 64 * KiB });
  await fetchText(client.fetch, server.resourceUrl);
  server.revoke();
  const { body, read } = largeGenerator(16, 64 * KiB);
  const { status } = await fetchText(client.fetch, server.resourceUrl, { method: "POST", body });
  assert.equal(status, 401); // not replayed: its copy was not kept
  assert.equal(read.bytes, 1024 * KiB);
  assert.equal(server.resourceRequests.length, 2);
  assert.equal(server.resourceRequests[1]?.body.byteLength, 1024 * KiB);
  assert.equal((await fetchText(client.fetch, server.resourceUrl)).status, 200);
  assert.equal(server.tokenRequests.length, 2); // renewed once, for the next requests
});

Deno.test("Client.fetch() returns the 401 of a Request input's stream over maxReplayBytes", async () => {
  await using server = await startAuthServer();
  await using client = clientFor(server, { maxReplayBytes: 64 * KiB });
  await fetchText(client.fetch, server.resourceUrl);
  server.revoke();
  const chunk = "r".repeat(64 * KiB);
  const input = new Request(server.resourceUrl, {
    method: "PUT",
    body: stream([chunk, chunk, chunk, chunk]),
  });
  const { status } = await fetchText(client.fetch, input);
  assert.equal(status, 401);
  assert.equal(server.resourceRequests.length, 2);
  assert.equal(server.resourceRequests[1]?.body.byteLength, 256 * KiB);
});

Deno.test("Client.fetch() replays a Request input's stream within maxReplayBytes", async () => {
  await using server = await startAuthServer();
  await using client = clientFor(server, { maxReplayBytes: 64 * KiB });
  await fetchText(client.fetch, server.resourceUrl);
  server.revoke();
  const input = new Request(server.resourceUrl, {
    method: "PUT",
    body: stream(["small ", "body"]),
  });
  const { status } = await fetchText(client.fetch, input);
  assert.equal(status, 200);
  const [, rejected, replayed] = server.resourceRequests;
  assert.equal(decode(replayed!.body), "small body");
  assert.deepEqual(replayed!.body, rejected!.body);
});

// A transport that awaits request.body.cancel() returns: the copy for the
// replay is a tee, whose branch's cancel() would wait for the other branch.

/** Rejects if `promise` has not settled within `ms`: a bound on a hang, not a speed test. */
async function settlesWithin<T>(promise: Promise<T>, ms = 5000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`did not settle within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, bound]);
  } finally {
    clearTimeout(timer);
  }
}

/** Each body, as the arguments of a call to `url`, and what its replay must carry. */
const cancelledBodies: [string, (url: string) => [RequestInfo, RequestInit?], RegExp][] = [
  [
    "a ReadableStream",
    (url) => [url, { method: "POST", body: stream(["stream ", "body"]) }],
    /^stream body$/,
  ],
  ["a FormData", (url) => [url, { method: "POST", body: form }], /name="field"\r\n\r\nvalue\r\n/],
  [
    "an async generator",
    (
      url,
    ) => [url, { method: "POST", body: generate(["generated ", "body"]) as unknown as BodyInit }],
    /^generated body$/,
  ],
  [
    "a Request input's stream",
    (url) => [new Request(url, { method: "PUT", body: stream(["request ", "body"]) })],
    /^request body$/,
  ],
  [
    "a Request input's Blob",
    (url) => [new Request(url, { method: "PUT", body: new Blob(["blob body"]) })],
    /^blob body$/,
  ],
];

for (const [name, args, replayed] of cancelledBodies) {
  Deno.test(`Client.fetch() returns when the transport awaits the cancel of ${name} body, and replays it`, async () => {
    await using server = await startAuthServer();
    const resource = "http://127.0.0.1:9/resource"; // never reached: the transport answers
    const received: string[] = [];
    await using client = clientFor(server, {
      fetch: async (input, init) => {
        const request = input instanceof Request ? input : new Request(input, init);
        if (!request.url.startsWith(resource)) return await fetch(request);
        if (received.length === 0) {
          received.push("cancelled");
          await request.body?.cancel();
          return new Response(null, { status: 401 });
        }
        received.push(await request.text());
        return new Response("replayed");
      },
    });
    const [input, init] = args(resource);
    const response = await settlesWithin(client.fetch(input, init));
    assert.deepEqual([response.status, await response.text()], [200, "replayed"]);
    assert.equal(received.length, 2);
    assert.equal(received[0], "cancelled");
    assert.match(received[1]!, replayed); // the copy outlived the cancel
  });
}

Deno.test("Client.fetch() sends a FormData body with Content-Length, not chunked", async () => {
  await using server = await startAuthServer();
  await using client = clientFor(server);
  await fetchText(client.fetch, server.resourceUrl, { method: "POST", body: form });
  await fetchText(client.fetch, new Request(server.resourceUrl, { method: "PUT", body: form }));
  assert.equal(server.resourceRequests.length, 2);
  for (const recorded of server.resourceRequests) {
    assert.equal(recorded.headers.get("content-length"), String(recorded.body.byteLength));
    assert.equal(recorded.headers.get("transfer-encoding"), null);
  }
});

// Where a bearer token may go: no credentials in the URL, http only to
// loopback hosts unless allowHttp (RFC 6750 §5.3).

const PASSWORD = "hunter2-never-shown";

Deno.test("Client.fetch() refuses a URL with credentials before any token request", async () => {
  await using server = await startAuthServer();
  await using client = clientFor(server);
  const url = new URL(server.resourceUrl);
  url.username = "user";
  url.password = PASSWORD;
  const inputs: [RequestInfo | URL, RequestInit?][] = [
    [url.href],
    [url],
    [new Request(url)],
    [new Request(url, { method: "POST", body: "x" })],
    [url.href, { method: "POST", body: stream(["x"]) }],
    [`https://user:${PASSWORD}@api.example.com/x`],
    [`https://${PASSWORD}@api.example.com/x`],
  ];
  for (const [input, init] of inputs) {
    await assert.rejects(client.fetch(input, init), (error) => {
      assert.ok(error instanceof TypeError);
      assert.match(error.message, /^Cannot send the request: the URL must not carry credentials/);
      assert.ok(!error.message.includes(PASSWORD));
      return true;
    });
  }
  assert.equal(server.tokenRequests.length, 0);
  assert.equal(server.resourceRequests.length, 0);
});

Deno.test("Client.fetch() refuses plain http to a host that is not loopback before any token request", async () => {
  await using server = await startAuthServer();
  const sent: string[] = [];
  await using client = clientFor(server, {
    fetch: (input, init) => {
      sent.push(input instanceof Request ? input.url : String(input));
      return fetch(input, init);
    },
  });
  for (
    const input of [
      "http://api.example.com/x",
      new URL("http://api.example.com/x"),
      new Request("http://api.example.com/x", { method: "POST", body: "x" }),
      "http://127.0.0.1.evil.example/x",
      "http://[::ffff:7f00:1]/x",
      "HTTP://API.EXAMPLE.COM:8080/x",
    ]
  ) {
    await assert.rejects(client.fetch(input), {
      name: "TypeError",
      message:
        'Cannot send the request: a bearer token goes over plain http: only to a loopback host; use https: or set "allowHttp"',
    });
  }
  assert.deepEqual(sent, []); // no token request, no resource request
  // Loopback hosts, however spelled, are allowed.
  for (const host of ["127.0.0.1", "localhost", "127.1"]) {
    const url = server.resourceUrl.replace("127.0.0.1", host);
    assert.equal((await fetchText(client.fetch, url)).status, 200, url);
  }
});

Deno.test("ReplayableRequest refuses plain http to a remote host unless allowHttp", async () => {
  const { sent, transport } = recordingTransport();
  const options = { transport, maxReplayBytes: Infinity };
  assert.throws(
    () => new ReplayableRequest("http://api.example.com/x", undefined, options),
    /only to a loopback host/,
  );
  const allowed = new ReplayableRequest("http://api.example.com/x", undefined, {
    ...options,
    allowHttp: true,
  });
  await allowed.send(token("one"));
  assert.equal(sent[0]?.input, "http://api.example.com/x");
});

Deno.test("Client.fetch() sends plain http to any host with allowHttp", async () => {
  await using server = await startAuthServer();
  const received: Request[] = [];
  await using client = clientFor(server, {
    allowHttp: true,
    fetch: (input, init) => {
      const request = new Request(input, init);
      if (request.url.startsWith(server.tokenEndpoint)) return fetch(request);
      received.push(request);
      return Promise.resolve(new Response("ok"));
    },
  });
  const { status, text } = await fetchText(client.fetch, "http://api.example.com/x");
  assert.deepEqual([status, text], [200, "ok"]);
  await fetchText(
    client.fetch,
    new Request("http://api.example.com/y", { method: "PUT", body: "b" }),
  );
  assert.deepEqual(received.map((request) => request.url), [
    "http://api.example.com/x",
    "http://api.example.com/y",
  ]);
  for (const request of received) {
    assert.equal(request.headers.get("authorization"), `Bearer ${server.issuedTokens[0]}`);
  }
  // The same URL, just allowed for one client, is still refused for another.
  await using strict = clientFor(server);
  await assert.rejects(strict.fetch("http://api.example.com/x"), /only to a loopback host/);
});
