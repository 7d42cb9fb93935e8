// How Client.fetch() hands a request to the transport: the caller's headers in
// every form, and static bodies sent as they are (with Content-Length).

import assert from "node:assert/strict";
import { startAuthServer } from "../testing.ts";
import { clientFor, fetchText } from "./_helpers.ts";

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
