import assert from "node:assert/strict";
import { startAuthServer } from "../testing.ts";
import { clientFor, fetchText, serve } from "./_helpers.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
const decode = (body: Uint8Array) => new TextDecoder().decode(body);

function stream(chunks: string[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    pull(controller) {
      const next = chunks.shift();
      if (next === undefined) controller.close();
      else controller.enqueue(bytes(next));
    },
  });
}

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
  assert.equal(decode(server.resourceRequests[2].body), "request body");
  assert.equal(server.resourceRequests[2].method, "PUT");
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
  assert.equal(server.resourceRequests[1].body.byteLength, 1024 * 1024);
  assert.deepEqual(server.resourceRequests[2].body, server.resourceRequests[1].body);
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

Deno.test("Client.fetch() uses a token another request already renewed, without a token request", async () => {
  await using server = await startAuthServer();
  await using client = clientFor(server);
  await fetchText(client.fetch, server.resourceUrl);
  const first = server.issuedTokens[0];
  // The resource rejects the first token only once, after the client renewed it.
  let rejectOnce = true;
  server.route("/slow", async (_request, recorded) => {
    if (recorded.token === first && rejectOnce) {
      rejectOnce = false;
      server.revoke(first);
      await fetchText(client.fetch, server.resourceUrl); // renews: 401 then new token
      return new Response(null, { status: 401 });
    }
    return new Response("ok");
  });
  const { status } = await fetchText(client.fetch, server.url("/slow"));
  assert.equal(status, 200);
  assert.equal(server.tokenRequests.length, 2);
  assert.equal(server.resourceRequests.at(-1)!.token, server.issuedTokens[1]);
});

Deno.test("Client.fetch() replays once and returns the second response whatever it is", async () => {
  await using server = await startAuthServer();
  server.route("/always-401", () => new Response("still no", { status: 401 }));
  await using client = clientFor(server);
  const { status, text } = await fetchText(client.fetch, server.url("/always-401"));
  assert.equal(status, 401);
  assert.equal(text, "still no");
  assert.equal(server.resourceRequests.length, 2);
  assert.equal(server.tokenRequests.length, 2);
});

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

Deno.test("Client.fetch() renews on a 401 with invalid_token and with no challenge", async () => {
  await using server = await startAuthServer();
  let calls = 0;
  server.route("/bare-401", () => new Response(null, { status: calls++ === 0 ? 401 : 200 }));
  await using client = clientFor(server);
  await fetchText(client.fetch, server.resourceUrl);
  server.revoke();
  assert.equal((await fetchText(client.fetch, server.resourceUrl)).status, 200); // invalid_token
  assert.equal((await fetchText(client.fetch, server.url("/bare-401"))).status, 200);
  assert.equal(server.tokenRequests.length, 3);
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

Deno.test("Client.fetch() replays a request whose token expired without expires_in", async () => {
  await using server = await startAuthServer({ expiresIn: null });
  await using client = clientFor(server);
  await fetchText(client.fetch, server.resourceUrl);
  await fetchText(client.fetch, server.resourceUrl);
  assert.equal(server.tokenRequests.length, 1); // kept while the resource accepts it
  server.revoke();
  assert.equal((await fetchText(client.fetch, server.resourceUrl)).status, 200);
  assert.equal(server.tokenRequests.length, 2);
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
  assert.equal(server.resourceRequests[1].body.byteLength, 256 * 1024);
  const next = await fetchText(client.fetch, server.resourceUrl);
  assert.equal(next.status, 200);
  assert.equal(server.tokenRequests.length, 2);
  assert.equal(server.resourceRequests[2].token, server.issuedTokens[1]);
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
  assert.deepEqual(server.resourceRequests[2].body, server.resourceRequests[1].body);
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
