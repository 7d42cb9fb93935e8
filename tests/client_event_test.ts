// The events a client reports about its token requests and replays.

import assert from "node:assert/strict";
import { Client, type ClientEvent, TokenError } from "../mod.ts";
import { startAuthServer } from "../testing.ts";
import { fetchText, serve } from "./_helpers.ts";

function recorded(
  tokenEndpoint: string,
  options: { clientSecret?: string } = {},
): Client & { events: ClientEvent[] } {
  const events: ClientEvent[] = [];
  const client = new Client({
    tokenEndpoint,
    clientId: "client-id",
    clientSecret: options.clientSecret ?? "client-secret",
    onEvent: (event) => events.push(event),
  });
  return Object.assign(client, { events });
}

function requests(events: ClientEvent[]) {
  return events.filter((event) => event.type === "request");
}

Deno.test("Client.fetch() reports each token request: endpoint without query, grant, status, duration", async () => {
  await using server = await startAuthServer({
    clientId: "client-id",
    clientSecret: "client-secret",
  });
  await using client = recorded(`${server.tokenEndpoint}?tenant=a`);
  assert.equal((await fetchText(client.fetch, server.resourceUrl)).status, 200);
  const [event, ...more] = requests(client.events);
  assert.equal(more.length, 0);
  assert.ok(event && typeof event.durationMs === "number" && event.durationMs >= 0);
  assert.deepEqual({ ...event, durationMs: 0 }, {
    type: "request",
    endpoint: server.tokenEndpoint,
    grant: "client_credentials",
    status: 200,
    durationMs: 0,
  });
  const text = JSON.stringify(client.events);
  assert.ok(!text.includes("client-secret") && !text.includes(server.issuedTokens[0]!));
});

Deno.test("Client.fetch() reports a refused token request with its status and the endpoint's error code", async () => {
  await using server = await startAuthServer({ clientId: "client-id", clientSecret: "right" });
  await using client = recorded(server.tokenEndpoint, { clientSecret: "wrong" });
  assert.equal((await fetchText(client.fetch, server.resourceUrl)).status, 401);
  const [event] = requests(client.events);
  assert.equal(event?.status, 401);
  assert.equal(event?.error, "invalid_client");
  assert.ok(!JSON.stringify(client.events).includes("wrong"));
});

Deno.test("Client.fetch() reports an unreachable token endpoint with no status and network_error", async () => {
  const closed = serve(() => new Response());
  await closed.close();
  await using resource = await startAuthServer();
  await using client = recorded(`${closed.url}/token`);
  await assert.rejects(client.fetch(resource.resourceUrl), TokenError);
  const [event] = requests(client.events);
  assert.equal(event?.endpoint, `${closed.url}/token`);
  assert.equal(event?.status, undefined);
  assert.equal(event?.error, "network_error");
});

Deno.test("TokenEndpoint.request() names the endpoint and the transport's cause in a network error", async () => {
  const closed = serve(() => new Response());
  await closed.close();
  await using resource = await startAuthServer();
  await using client = recorded(`${closed.url}/token?secret-looking=1`);
  await assert.rejects(client.fetch(resource.resourceUrl), (error) => {
    assert.ok(error instanceof TokenError);
    assert.equal(error.code, "network_error");
    assert.ok(
      error.message.startsWith(`Cannot reach the token endpoint ${closed.url}/token: `),
      error.message,
    );
    assert.match(error.message, /Connection refused/);
    assert.ok(!error.message.includes("secret-looking"), error.message);
    return true;
  });
});

Deno.test("Client.fetch() reports a replay after a 401 with the replayed response's status", async () => {
  await using server = await startAuthServer();
  await using client = recorded(server.tokenEndpoint);
  await fetchText(client.fetch, server.resourceUrl);
  server.revoke(); // the resource now refuses the token it holds
  assert.equal((await fetchText(client.fetch, server.resourceUrl)).status, 200);
  assert.deepEqual(client.events.filter((event) => event.type === "replay"), [
    { type: "replay", status: 200 },
  ]);
  assert.equal(requests(client.events).length, 2);
});
