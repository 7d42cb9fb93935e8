// Hostile token endpoints not covered by token_endpoint_test.ts. Every case
// checks the outcome, that the resource was not called with a bad token, and
// that the next call works once the endpoint recovers. The sanitizers catch
// any timer, socket or promise left behind.

import assert from "node:assert/strict";
import { Client, type ClientOptions, TokenError } from "../mod.ts";
import { type AuthServer, startAuthServer } from "../testing.ts";
import { clientFor, fetchText, serve } from "./_helpers.ts";
import { answer, rawServer, readRequest, write } from "./_raw_server.ts";

type Handler = (request: Request) => Response | Promise<Response>;

/**
 * A token endpoint that answers its first `times` requests with `hostile`,
 * then recovers: it passes requests on to the stand-in server `upstream`.
 */
function flakyEndpoint(upstream: AuthServer, hostile: Handler, times = 1) {
  let hits = 0;
  const endpoint = serve(async (request) => {
    if (hits++ < times) return hostile(request);
    return await fetch(upstream.tokenEndpoint, {
      method: "POST",
      headers: request.headers,
      body: await request.arrayBuffer(),
    });
  });
  return Object.assign(endpoint, { tokenEndpoint: `${endpoint.url}/token` });
}

/** The next call gets a token from the recovered endpoint and reaches the resource with it. */
async function assertRecovers(client: Client, resource: AuthServer): Promise<void> {
  const { status } = await fetchText(client.fetch, resource.resourceUrl);
  assert.equal(status, 200);
  assert.equal(resource.resourceRequests.length, 1);
  assert.equal(resource.resourceRequests[0].token, resource.issuedTokens.at(-1));
}

const json = (body: unknown, status: number, headers: Record<string, string> = {}) =>
  Response.json(body, { status, headers });

// HTTP errors: the response is returned whole (or thrown as a TokenError).
const httpErrors: {
  name: string;
  respond: () => Response;
  status: number;
  text: string;
  header?: [string, string];
  error?: string;
}[] = [
  {
    name: "500 with an HTML body",
    respond: () =>
      new Response("<html><body>Internal Server Error</body></html>", {
        status: 500,
        headers: { "Content-Type": "text/html" },
      }),
    status: 500,
    text: "<html><body>Internal Server Error</body></html>",
    header: ["content-type", "text/html"],
  },
  {
    name: "400 invalid_client",
    respond: () => json({ error: "invalid_client", error_description: "unknown client" }, 400),
    status: 400,
    text: '{"error":"invalid_client","error_description":"unknown client"}',
    error: "invalid_client",
  },
  {
    name: "401 with a Basic challenge",
    respond: () =>
      json({ error: "invalid_client" }, 401, { "WWW-Authenticate": 'Basic realm="token"' }),
    status: 401,
    text: '{"error":"invalid_client"}',
    header: ["www-authenticate", 'Basic realm="token"'],
    error: "invalid_client",
  },
  {
    name: "429 with Retry-After",
    respond: () => json({ error: "slow_down" }, 429, { "Retry-After": "120" }),
    status: 429,
    text: '{"error":"slow_down"}',
    header: ["retry-after", "120"],
    error: "slow_down",
  },
];

for (const { name, respond, status, text, header, error } of httpErrors) {
  Deno.test(`Client.fetch() returns a token endpoint's ${name} and the next call works`, async () => {
    await using resource = await startAuthServer();
    await using endpoint = flakyEndpoint(resource, respond);
    await using client = clientFor(resource, { tokenEndpoint: endpoint.tokenEndpoint });
    const first = await fetchText(client.fetch, resource.resourceUrl);
    assert.deepEqual([first.status, first.text], [status, text]);
    if (header) assert.equal(first.response.headers.get(header[0]), header[1]);
    assert.equal(resource.resourceRequests.length, 0);
    // Not retried by the client: one hostile answer, one call. A 401 from the
    // token endpoint is not a resource's 401, and Retry-After is the caller's
    // to honour: the next call asks again at once.
    assert.equal(resource.tokenRequests.length, 0);
    await assertRecovers(client, resource);
    assert.equal(resource.tokenRequests.length, 1);
  });

  Deno.test(`Client.fetch() throws a token endpoint's ${name} with tokenErrors: throw`, async () => {
    await using resource = await startAuthServer();
    await using endpoint = flakyEndpoint(resource, respond);
    await using client = clientFor(resource, {
      tokenEndpoint: endpoint.tokenEndpoint,
      tokenErrors: "throw",
    });
    await assert.rejects(client.fetch(resource.resourceUrl), (thrown) => {
      assert.ok(thrown instanceof TokenError, String(thrown));
      assert.equal(thrown.status, status);
      assert.equal(thrown.error, error);
      assert.match(thrown.message, new RegExp(`^Cannot obtain a token: .* answered ${status}`));
      return true;
    });
    assert.equal(resource.resourceRequests.length, 0);
    await assertRecovers(client, resource);
  });
}

// 2xx responses that carry no usable token: a TokenError, and no request goes out.
const unusable: [string, string, RegExp][] = [
  ["access_token as a number", '{"access_token":12345}', /"access_token" is missing/],
  ["access_token as an object", '{"access_token":{"v":"a"}}', /"access_token" is missing/],
  ["access_token as a list", '{"access_token":["a"]}', /"access_token" is missing/],
  ["access_token as null", '{"access_token":null}', /"access_token" is missing/],
  ["access_token as true", '{"access_token":true}', /"access_token" is missing/],
  ["an empty access_token", '{"access_token":""}', /"access_token" is missing/],
  ["expires_in NaN", '{"access_token":"a","expires_in":"NaN"}', /"expires_in" is not a number/],
  ["expires_in in exponent text", '{"access_token":"a","expires_in":"1e3"}', /"expires_in"/],
];

for (const [name, body, message] of unusable) {
  Deno.test(`Client.fetch() rejects a 200 with ${name} and the next call works`, async () => {
    await using resource = await startAuthServer();
    await using endpoint = flakyEndpoint(
      resource,
      () => new Response(body, { headers: { "Content-Type": "application/json" } }),
    );
    await using client = clientFor(resource, { tokenEndpoint: endpoint.tokenEndpoint });
    await assert.rejects(client.fetch(resource.resourceUrl), {
      name: "TokenError",
      message,
      status: 200,
    });
    assert.equal(resource.resourceRequests.length, 0);
    await assertRecovers(client, resource);
  });
}

/** A client of a token endpoint that is not a stand-in server. */
function clientAt(tokenEndpoint: string, options: Partial<ClientOptions> = {}): Client {
  return new Client({ tokenEndpoint, clientId: "client-id", clientSecret: "secret", ...options });
}

/** A resource that accepts any token and records the ones it got. */
function recordingResource() {
  const tokens: (string | null)[] = [];
  const resource = serve((request) => {
    tokens.push(request.headers.get("authorization"));
    return new Response("ok");
  });
  return Object.assign(resource, { tokens });
}

Deno.test("Client.fetch() uses a token with a negative expires_in for the waiting call only", async () => {
  let count = 0;
  await using endpoint = serve(() =>
    Response.json({ access_token: `neg-${++count}`, expires_in: -30 })
  );
  await using resource = recordingResource();
  await using client = clientAt(`${endpoint.url}/t`);
  await fetchText(client.fetch, resource.url);
  await fetchText(client.fetch, resource.url);
  // Never cached: each call obtains its own, and none is sent twice.
  assert.deepEqual(resource.tokens, ["Bearer neg-1", "Bearer neg-2"]);
});

Deno.test("Client.fetch() caps a huge expires_in and keeps the token", async () => {
  let count = 0;
  await using endpoint = serve(() =>
    Response.json({ access_token: `huge-${++count}`, expires_in: 1e300 })
  );
  await using resource = recordingResource();
  const now = 1_700_000_000_000;
  await using client = clientAt(`${endpoint.url}/t`, { now: () => now });
  await fetchText(client.fetch, resource.url);
  await fetchText(client.fetch, resource.url);
  assert.deepEqual(resource.tokens, ["Bearer huge-1", "Bearer huge-1"]);
  assert.equal((await client.getToken()).expiresAt, now + 10 * 365 * 24 * 3600 * 1000);
});

const broken: [string, RegExp, (conn: Deno.Conn) => Promise<void>][] = [
  ["closes the connection mid-body", /^Cannot read the token response: /, async (conn) => {
    await readRequest(conn);
    await write(
      conn,
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n" +
        '{"access_token":"trunc',
    );
  }],
  ["closes the connection mid-body of a 500", /^Cannot read the token response: /, async (conn) => {
    await readRequest(conn);
    await write(conn, "HTTP/1.1 500 Oops\r\nContent-Length: 100\r\n\r\n<html>");
  }],
  [
    "resets the connection mid-body",
    /^Cannot (read the token response|reach the token endpoint): /,
    async (conn) => {
      // Closing with the request unread makes the kernel send a RST.
      await write(conn, 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"access_token":"reset');
    },
  ],
  ["closes the connection before answering", /^Cannot reach the token endpoint: /, async (conn) => {
    await readRequest(conn);
  }],
  [
    "answers with something that is not HTTP",
    /^Cannot reach the token endpoint: /,
    async (conn) => {
      await readRequest(conn);
      await write(conn, "SSH-2.0-OpenSSH_9.6\r\n\r\n");
    },
  ],
];

for (const [name, message, hostile] of broken) {
  Deno.test(`Client.fetch() rejects with a TokenError when the token endpoint ${name}`, async () => {
    // The first connection is hostile; the next ones get a valid token.
    await using endpoint = rawServer((conn, n) =>
      n === 0 ? hostile(conn) : answer(
        conn,
        "200 OK",
        JSON.stringify({ access_token: `raw-${n}`, expires_in: 60 }),
        "Content-Type: application/json\r\n",
      )
    );
    await using resource = recordingResource();
    await using client = clientAt(`${endpoint.url}/token`);
    await assert.rejects(client.fetch(resource.url), (error) => {
      assert.ok(error instanceof TokenError, String(error));
      assert.match(error.message, message);
      assert.ok(error.cause !== undefined);
      return true;
    });
    assert.deepEqual(resource.tokens, []);
    // Recovered: the next connection gets a valid token.
    assert.equal((await fetchText(client.fetch, resource.url)).status, 200);
    assert.deepEqual(resource.tokens, ["Bearer raw-1"]);
  });
}
