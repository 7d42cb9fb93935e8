import assert from "node:assert/strict";
import { Client, MemoryTokenStorage, TokenError } from "../mod.ts";
import { startAuthServer } from "../testing.ts";
import { clientFor, fetchText, serve } from "./_helpers.ts";

Deno.test("Client.fetch() sends the token it obtained with client credentials", async () => {
  await using server = await startAuthServer({
    clientId: "client-id",
    clientSecret: "client-secret",
  });
  await using client = clientFor(server);
  const { status, text } = await fetchText(client.fetch, server.resourceUrl);
  assert.equal(status, 200);
  assert.deepEqual(JSON.parse(text), { method: "GET", path: "/resource", bytes: 0 });
  assert.equal(server.tokenRequests.length, 1);
  assert.equal(server.resourceRequests[0].token, server.issuedTokens[0]);
});

Deno.test("Client.fetch() posts a form token request with Accept: application/json", async () => {
  await using server = await startAuthServer();
  await using client = clientFor(server, {
    scope: ["read", "write"],
    tokenParams: { audience: "https://api.example.com", resource: ["a", "b"] },
  });
  await fetchText(client.fetch, server.resourceUrl);
  const [request] = server.tokenRequests;
  assert.equal(request.method, "POST");
  assert.equal(request.headers.get("content-type"), "application/x-www-form-urlencoded");
  assert.equal(request.headers.get("accept"), "application/json");
  assert.match(request.headers.get("authorization")!, /^Basic /);
  assert.deepEqual([...request.form], [
    ["grant_type", "client_credentials"],
    ["audience", "https://api.example.com"],
    ["resource", "a"],
    ["resource", "b"],
    ["scope", "read write"],
  ]);
});

Deno.test("Client.fetch() sends client_secret_post and none credentials in the form", async () => {
  await using server = await startAuthServer({
    clientId: "client-id",
    clientSecret: "client-secret",
  });
  await using post = clientFor(server, { clientAuth: "client_secret_post" });
  assert.equal((await fetchText(post.fetch, server.resourceUrl)).status, 200);
  assert.equal(server.tokenRequests[0].form.get("client_secret"), "client-secret");
  assert.equal(server.tokenRequests[0].headers.get("authorization"), null);

  await using publicServer = await startAuthServer();
  await using none = clientFor(publicServer, { clientSecret: undefined });
  assert.equal((await fetchText(none.fetch, publicServer.resourceUrl)).status, 200);
  assert.deepEqual(publicServer.tokenRequests[0].form.getAll("client_id"), ["client-id"]);
  assert.equal(publicServer.tokenRequests[0].form.get("client_secret"), null);
});

Deno.test("Client.fetch() works detached and with Request and URL inputs", async () => {
  await using server = await startAuthServer();
  await using client = clientFor(server);
  const f: typeof fetch = client.fetch;
  assert.equal((await fetchText(f, new URL(server.resourceUrl))).status, 200);
  assert.equal((await fetchText(f, new Request(server.resourceUrl))).status, 200);
  assert.equal(server.tokenRequests.length, 1);
});

Deno.test("Client.request() sends method, body and headers", async () => {
  await using server = await startAuthServer();
  await using client = clientFor(server);
  const response = await client.request("POST", server.resourceUrl, {
    body: '{"name": "alf"}',
    headers: { "Content-Type": "application/json" },
  });
  assert.deepEqual(await response.json(), { method: "POST", path: "/resource", bytes: 15 });
  const [recorded] = server.resourceRequests;
  assert.equal(recorded.headers.get("content-type"), "application/json");
  assert.equal(new TextDecoder().decode(recorded.body), '{"name": "alf"}');
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

Deno.test("Client.close() makes later calls reject with a clear error", async () => {
  await using server = await startAuthServer();
  const client = clientFor(server);
  await fetchText(client.fetch, server.resourceUrl);
  await client.close();
  await assert.rejects(
    client.fetch(server.resourceUrl),
    /Cannot send the request: the client is closed/,
  );
  await assert.rejects(client.getToken(), /^Error: Cannot get a token: the client is closed$/);
});

Deno.test("Client[Symbol.asyncDispose]() closes the client", async () => {
  await using server = await startAuthServer();
  let kept: Client;
  {
    await using client = clientFor(server);
    kept = client;
  }
  await assert.rejects(kept.request("GET", server.resourceUrl), /closed/);
});

Deno.test("Client.close() stops a token request in flight", async () => {
  await using server = await startAuthServer();
  server.tokenDelay = 60_000;
  const client = clientFor(server);
  const pending = client.fetch(server.resourceUrl);
  while (server.tokenRequests.length === 0) await new Promise((r) => setTimeout(r, 5));
  await client.close();
  await assert.rejects(pending, TokenError);
  assert.equal(server.resourceRequests.length, 0);
});

Deno.test("Client.getToken() returns the token the client would send", async () => {
  await using server = await startAuthServer({ expiresIn: 100 });
  await using client = clientFor(server, { now: () => 5_000 });
  const token = await client.getToken();
  assert.equal(token.accessToken, server.issuedTokens[0]);
  assert.equal(token.expiresAt, 105_000);
  assert.equal((await client.getToken()).accessToken, token.accessToken);
});

Deno.test("Client.getToken() throws the token endpoint's error as a TokenError", async () => {
  await using server = await startAuthServer({ clientSecret: "right" });
  await using client = clientFor(server, { clientSecret: "wrong" });
  await assert.rejects(client.getToken(), (error) => {
    assert.ok(error instanceof TokenError);
    assert.equal(error.error, "invalid_client");
    assert.equal(error.status, 401);
    return true;
  });
});

for (
  const [name, overrides, type, message] of [
    ["a missing options object", undefined, TypeError, /options must be an object/],
    ["a malformed tokenEndpoint", { tokenEndpoint: "not a url" }, TypeError, /not a valid URL/],
    ["a tokenEndpoint of the wrong type", { tokenEndpoint: 42 }, TypeError, /not a valid URL/],
    [
      "plain http on a remote host",
      { tokenEndpoint: "http://auth.example.com/t" },
      TypeError,
      /must use https/,
    ],
    ["another scheme", { tokenEndpoint: "ftp://auth.example.com/t" }, TypeError, /got ftp:/],
    ["an empty clientId", { clientId: "" }, TypeError, /"clientId" must be a non-empty string/],
    ["a non-string secret", { clientSecret: 5 }, TypeError, /"clientSecret" must be a string/],
    ["an unknown clientAuth", { clientAuth: "tls" }, TypeError, /"clientAuth" must be one of/],
    [
      "basic auth without a secret",
      { clientSecret: "", clientAuth: "client_secret_basic" },
      TypeError,
      /needs a "clientSecret"/,
    ],
    ["a scope of numbers", { scope: [1] }, TypeError, /"scope" must be a string or a list/],
    [
      "a reserved token parameter",
      { tokenParams: { grant_type: "password" } },
      TypeError,
      /cannot set "grant_type"/,
    ],
    [
      "a reserved refresh_token parameter",
      { tokenParams: { refresh_token: "x" } },
      TypeError,
      /cannot set "refresh_token"/,
    ],
    [
      "a reserved redirect_uri parameter",
      { tokenParams: { redirect_uri: "x" } },
      TypeError,
      /cannot set "redirect_uri"/,
    ],
    [
      "credentials in the token endpoint",
      { tokenEndpoint: "https://user:pw@auth.example.com/t" },
      TypeError,
      /must not carry credentials/,
    ],
    [
      "a token parameter of the wrong type",
      { tokenParams: { audience: 1 } },
      TypeError,
      /"tokenParams.audience"/,
    ],
    [
      "tokenParams that are not an object",
      { tokenParams: "a=b" },
      TypeError,
      /"tokenParams" must be an object/,
    ],
    ["a negative renewalMargin", { renewalMargin: -1 }, RangeError, /"renewalMargin" must be/],
    ["a zero tokenTimeout", { tokenTimeout: 0 }, RangeError, /"tokenTimeout" must be/],
    ["an infinite tokenTimeout", { tokenTimeout: Infinity }, RangeError, /"tokenTimeout" must be/],
    ["an unknown tokenErrors", { tokenErrors: "log" }, TypeError, /"tokenErrors" must be/],
    ["a negative maxReplayBytes", { maxReplayBytes: -1 }, RangeError, /"maxReplayBytes" must be/],
    ["a NaN maxReplayBytes", { maxReplayBytes: NaN }, RangeError, /"maxReplayBytes" must be/],
    ["a fetch that is not a function", { fetch: "fetch" }, TypeError, /"fetch" must be a function/],
    ["a clock that is not a function", { now: 5 }, TypeError, /"now" must be a function/],
    ["a storage without get()", { storage: {} }, TypeError, /"storage" has no get\(\)/],
    ["a grant without obtain()", { grant: { name: "x" } }, TypeError, /"grant" must have/],
  ] as const
) {
  Deno.test(`new Client() rejects ${name}`, () => {
    const base = { tokenEndpoint: "https://auth.example.com/token", clientId: "id" };
    const options = overrides === undefined ? undefined : { ...base, ...overrides };
    // deno-lint-ignore no-explicit-any
    assert.throws(() => new Client(options as any), (error) => {
      assert.ok(error instanceof type, `expected ${type.name}, got ${error}`);
      assert.match((error as Error).message, message);
      assert.match((error as Error).message, /^Cannot create the client: /);
      return true;
    });
  });
}

Deno.test("new Client() accepts loopback http and http with allowHttp", async () => {
  for (const tokenEndpoint of ["http://127.0.0.1:1/t", "http://localhost/t", "http://[::1]/t"]) {
    await new Client({ tokenEndpoint, clientId: "id" }).close();
  }
  await new Client({ tokenEndpoint: "http://auth.internal/t", clientId: "id", allowHttp: true })
    .close();
});

Deno.test("Client keeps secrets and tokens out of inspect, JSON and errors", async () => {
  const secret = "very-secret-value";
  await using server = await startAuthServer({ clientSecret: secret });
  const storage = new MemoryTokenStorage();
  await using client = clientFor(server, { clientSecret: secret, storage });
  await fetchText(client.fetch, server.resourceUrl);
  const token = server.issuedTokens[0];
  await using wrong = clientFor(server, { clientSecret: "wrong-secret", tokenErrors: "throw" });
  const error = await wrong.getToken().catch((e) => e);
  for (
    const text of [
      Deno.inspect(client, { depth: 10, showHidden: true }),
      JSON.stringify(client),
      Deno.inspect(storage, { depth: 10, showHidden: true }),
      JSON.stringify(storage),
      Deno.inspect(error, { depth: 10 }),
      String(error),
    ]
  ) {
    assert.ok(!text.includes(secret), text);
    assert.ok(!text.includes("wrong-secret"), text);
    assert.ok(!text.includes(token), text);
  }
  assert.match(Deno.inspect(client), /Client \{.*clientId: "client-id"/s);
  assert.deepEqual(JSON.parse(JSON.stringify(storage)), { size: 1 });
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
  assert.equal(other.resourceRequests[0].headers.get("authorization"), null);
});

Deno.test("Client.fetch() passes transport errors of the resource through", async () => {
  await using server = await startAuthServer();
  await using client = clientFor(server);
  const closed = serve(() => new Response());
  const url = closed.url;
  await closed.close();
  await assert.rejects(client.fetch(url), TypeError);
});

Deno.test("Client uses the injected fetch for token and resource requests", async () => {
  await using server = await startAuthServer();
  const seen: string[] = [];
  await using client = clientFor(server, {
    fetch: (input, init) => {
      seen.push(new Request(input, init).url);
      return fetch(input, init);
    },
  });
  await fetchText(client.fetch, server.resourceUrl);
  assert.deepEqual(seen, [server.tokenEndpoint, server.resourceUrl]);
});

Deno.test("Client.getToken() returns a copy the caller cannot use to change the cache", async () => {
  await using server = await startAuthServer();
  await using client = clientFor(server);
  const token = await client.getToken();
  token.accessToken = "tampered";
  assert.equal((await client.getToken()).accessToken, server.issuedTokens[0]);
  await fetchText(client.fetch, server.resourceUrl);
  assert.equal(server.resourceRequests[0].token, server.issuedTokens[0]);
});

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

Deno.test("Client.fetch() does not wait for a 401 body whose cancel never settles", async () => {
  await using server = await startAuthServer();
  let first = true;
  await using client = clientFor(server, {
    fetch: async (input, init) => {
      const response = await fetch(input, init);
      if (new Request(input, init).url !== server.resourceUrl || !first) return response;
      first = false;
      await response.body?.cancel();
      const stuck = new ReadableStream({ cancel: () => new Promise<void>(() => {}) });
      return new Response(stuck, { status: 401 });
    },
  });
  const { status } = await fetchText(client.fetch, server.resourceUrl);
  assert.equal(status, 200);
  assert.equal(server.tokenRequests.length, 2);
});
