// Hostile resources not covered by client_replay_test.ts and client_test.ts:
// tricky challenges, redirects that come back, bodies cut short, a resource
// that rejects every token. The token never reaches another origin, a 401
// costs at most one renewal, and errors are the transport's own.

import assert from "node:assert/strict";
import { startAuthServer } from "../testing.ts";
import { clientFor, fetchText, serve } from "./_helpers.ts";
import { answer, rawServer, readRequest, write } from "./_raw_server.ts";

for (
  const [challenge, renews] of [
    ['Basic realm="api", Bearer error="insufficient_scope"', false],
    ["Bearer error=insufficient_scope", false],
    ['BEARER ERROR="INSUFFICIENT_SCOPE", scope="admin"', false],
    ['Bearer realm="api", error="invalid_token", error_description="expired"', true],
    ['Bearer error="invalid_request"', true],
    ["Negotiate", true],
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
  assert.equal(other.resourceRequests[0].token, undefined);
  assert.equal(server.tokenRequests.length, 1);
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

Deno.test("Client.fetch() passes a redirect loop's transport error through", async () => {
  await using server = await startAuthServer();
  server.route("/loop", () => Response.redirect(server.url("/loop"), 302));
  await using client = clientFor(server);
  await assert.rejects(client.fetch(server.url("/loop")), TypeError);
  assert.equal(server.tokenRequests.length, 1);
  assert.equal((await fetchText(client.fetch, server.resourceUrl)).status, 200);
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
  assert.match(requests[1], /^PUT /);
  assert.match(requests[1], /\r\n\r\n(4\r\n)?kept(\r\n0\r\n\r\n)?$/);
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

Deno.test("Client.fetch() costs one renewal for 50 concurrent requests to a resource that rejects every token", async () => {
  await using server = await startAuthServer();
  server.route("/never", () =>
    new Response("rejected", {
      status: 401,
      headers: { "WWW-Authenticate": 'Bearer error="invalid_token"' },
    }));
  await using client = clientFor(server);
  await fetchText(client.fetch, server.resourceUrl);
  const results = await Promise.all(
    Array.from({ length: 50 }, () => fetchText(client.fetch, server.url("/never"))),
  );
  assert.ok(results.every((r) => r.status === 401 && r.text === "rejected"));
  assert.equal(server.tokenRequests.length, 2);
  assert.equal(server.resourceRequests.length, 1 + 100);
});
