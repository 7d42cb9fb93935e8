import assert from "node:assert/strict";
import util from "node:util";
import fc from "fast-check";
import {
  AuthorizationCodeGrant,
  Client,
  ClientCredentialsGrant,
  type ClientEvent,
  ImplicitGrant,
  KvTokenStorage,
  MemoryTokenStorage,
  RefreshTokenGrant,
  TokenEndpoint,
  TokenError,
  useAuthorizationCodeFlow,
  useImplicitFlow,
} from "../mod.ts";
import { ScriptedBrowser, startAuthServer } from "../testing.ts";
import { RUNS } from "./_arbitraries.ts";
import { clientFor, fetchText, ManualClock, serve } from "./_helpers.ts";

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
  const [recorded] = server.resourceRequests;
  assert.ok(recorded);
  assert.equal(recorded.token, server.issuedTokens[0]);
});

Deno.test("Client.fetch() posts a form token request with Accept: application/json", async () => {
  await using server = await startAuthServer();
  await using client = clientFor(server, {
    scope: ["read", "write"],
    tokenParams: { audience: "https://api.example.com", resource: ["a", "b"] },
  });
  await fetchText(client.fetch, server.resourceUrl);
  const [request] = server.tokenRequests;
  assert.ok(request);
  assert.equal(request.method, "POST");
  assert.equal(request.headers.get("content-type"), "application/x-www-form-urlencoded");
  assert.equal(request.headers.get("accept"), "application/json");
  assert.match(request.headers.get("authorization") ?? "", /^Basic /);
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
  const [posted] = server.tokenRequests;
  assert.ok(posted);
  assert.equal(posted.form.get("client_secret"), "client-secret");
  assert.equal(posted.headers.get("authorization"), null);

  await using publicServer = await startAuthServer();
  await using none = clientFor(publicServer, { clientSecret: undefined });
  assert.equal((await fetchText(none.fetch, publicServer.resourceUrl)).status, 200);
  const [unauthenticated] = publicServer.tokenRequests;
  assert.ok(unauthenticated);
  assert.deepEqual(unauthenticated.form.getAll("client_id"), ["client-id"]);
  assert.equal(unauthenticated.form.get("client_secret"), null);
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
  assert.ok(recorded);
  assert.equal(recorded.headers.get("content-type"), "application/json");
  assert.equal(new TextDecoder().decode(recorded.body), '{"name": "alf"}');
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

Deno.test("Client.getToken() returns a copy the caller cannot use to change the cache", async () => {
  await using server = await startAuthServer();
  await using client = clientFor(server);
  const token = await client.getToken();
  token.accessToken = "tampered";
  assert.equal((await client.getToken()).accessToken, server.issuedTokens[0]);
  await fetchText(client.fetch, server.resourceUrl);
  const [recorded] = server.resourceRequests;
  assert.ok(recorded);
  assert.equal(recorded.token, server.issuedTokens[0]);
});

Deno.test("Client.getToken() renews a token inside its renewal margin before returning it", async () => {
  const clock = new ManualClock();
  await using server = await startAuthServer({ expiresIn: 3600, now: clock.now });
  await using client = clientFor(server, { now: clock.now });
  const first = await client.getToken();
  clock.advance(3600_000 - 500); // 0.5 s left: a curl started now would fail
  const renewed = await client.getToken();
  assert.notEqual(renewed.accessToken, first.accessToken);
  assert.equal(renewed.accessToken, server.issuedTokens[1]);
  assert.equal(renewed.expiresAt, clock.time + 3600_000);
  assert.deepEqual(client.events.map((e) => e.type === "token" && e.reason), [
    "missing",
    "expiring",
  ]);
});

Deno.test("Client.getToken() with a lower minValidity returns a token with more than that left", async () => {
  const clock = new ManualClock();
  await using server = await startAuthServer({ expiresIn: 3600, now: clock.now });
  await using client = clientFor(server, { now: clock.now, renewalMargin: 0 });
  const first = await client.getToken();
  clock.advance(3600_000 - 30_000); // 30 s left
  assert.equal((await client.getToken({ minValidity: 29_999 })).accessToken, first.accessToken);
  assert.equal(server.tokenRequests.length, 1);
  const renewed = await client.getToken({ minValidity: 30_000 });
  assert.equal(renewed.accessToken, server.issuedTokens[1]);
  for (const minValidity of [-1, NaN, Infinity, "1" as unknown as number]) {
    await assert.rejects(client.getToken({ minValidity }), RangeError);
  }
});

Deno.test("Client.getToken() renews a stored login token inside its margin in a new process, without the browser", async () => {
  const clock = new ManualClock();
  await using server = await startAuthServer({ expiresIn: 3600, now: clock.now });
  await using browser = new ScriptedBrowser();
  using kv = await Deno.openKv(":memory:");
  const client = () =>
    new Client({
      tokenEndpoint: server.tokenEndpoint,
      clientId: "cli",
      now: clock.now,
      storage: new KvTokenStorage(kv),
      grant: new AuthorizationCodeGrant({
        authorizationEndpoint: server.authorizationEndpoint,
        openBrowser: browser.open,
        portRange: [0, 0],
      }),
    });
  {
    await using first = client();
    await first.getToken();
  }
  clock.advance(3600_000 - 500);
  await using next = client(); // `alf --login --kv token`, run again
  assert.equal((await next.getToken()).accessToken, server.issuedTokens[1]);
  assert.equal(browser.opened.length, 1);
  assert.deepEqual(server.tokenRequests.map((r) => r.form.get("grant_type")), [
    "authorization_code",
    "refresh_token",
  ]);
});

Deno.test("Client keeps secrets and tokens out of inspect, JSON and errors", async () => {
  const secret = "very-secret-value";
  await using server = await startAuthServer({ clientSecret: secret });
  const storage = new MemoryTokenStorage();
  await using client = clientFor(server, { clientSecret: secret, storage });
  await fetchText(client.fetch, server.resourceUrl);
  const [token] = server.issuedTokens;
  assert.ok(token);
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

// What SECURITY.md promises: secrets stay out of every rendering of every public object, and the
// secret goes only to the token endpoint.

const SECRET = "S3cret-never-shown";

/** Every way a program, a logger or a crash report turns an object into text. */
function renderings(value: unknown): string[] {
  const texts = [
    Deno.inspect(value, { showHidden: true, depth: Infinity, getters: true }),
    util.inspect(value, { showHidden: true, depth: null, getters: true }),
    String(value),
  ];
  try {
    texts.push(JSON.stringify(value) ?? "");
  } catch {
    // Not serializable: nothing leaks that way.
  }
  if (value instanceof Error) {
    texts.push(value.message, value.stack ?? "", Deno.inspect(value.cause, { depth: Infinity }));
  }
  return texts;
}

Deno.test("every public object and error of mod.ts keeps secrets and tokens out of inspect, JSON and strings", async () => {
  await using server = await startAuthServer({ clientId: "client-id", clientSecret: SECRET });
  const events: ClientEvent[] = [];
  const memory = new MemoryTokenStorage();
  await using client = new Client({
    tokenEndpoint: server.tokenEndpoint,
    clientId: "client-id",
    clientSecret: SECRET,
    storage: memory,
    onEvent: (event) => events.push(event),
  });
  await (await client.fetch(server.resourceUrl)).body?.cancel();

  await using kv = await Deno.openKv(":memory:");
  const kvStorage = new KvTokenStorage(kv);
  await using kvClient = new Client({
    tokenEndpoint: server.tokenEndpoint,
    clientId: "client-id",
    clientSecret: SECRET,
    clientAuth: "client_secret_post",
    storage: kvStorage,
    scope: "kv",
  });
  await kvClient.getToken();

  await using browser = new ScriptedBrowser();
  const codeGrant = new AuthorizationCodeGrant({ openBrowser: browser.open, portRange: [0, 0] });
  await using codeClient = new Client({
    tokenEndpoint: server.tokenEndpoint,
    clientId: "client-id",
    clientSecret: SECRET,
    grant: codeGrant,
  });
  await codeClient.getToken();
  const implicitGrant = new ImplicitGrant({ openBrowser: browser.open, portRange: [0, 0] });
  const refreshGrant = new RefreshTokenGrant();
  // A refresh token kept from an earlier run is as secret as the client secret.
  const keptRefreshToken = "rt-secret-value";
  const keptRefreshGrant = new RefreshTokenGrant({ refreshToken: keptRefreshToken });
  await using keptRefreshClient = new Client({
    tokenEndpoint: server.tokenEndpoint,
    clientId: "client-id",
    grant: keptRefreshGrant,
  });

  await using implicitFlow = await useImplicitFlow(new MemoryTokenStorage(), [0, 0], {
    openBrowser: browser.open,
  });
  await implicitFlow.close();
  await using codeFlow = await useAuthorizationCodeFlow(new MemoryTokenStorage(), [0, 0], {
    openBrowser: browser.open,
  });
  await codeFlow.close();

  const endpoint = new TokenEndpoint({
    url: new URL(server.tokenEndpoint),
    clientId: "client-id",
    clientSecret: SECRET,
    clientAuth: "client_secret_basic",
    fetch,
    now: Date.now,
    timeout: 1000,
  });

  // Errors: the endpoint's answer to a wrong secret, a network failure, a bad response.
  await using wrong = new Client({
    tokenEndpoint: server.tokenEndpoint,
    clientId: "client-id",
    clientSecret: `${SECRET}-wrong`,
    tokenErrors: "throw",
  });
  const refused = await wrong.getToken().catch((error) => error);
  const closed = serve(() => new Response());
  await closed.close();
  await using unreachable = new Client({
    tokenEndpoint: `${closed.url}/token`,
    clientId: "client-id",
    clientSecret: SECRET,
  });
  const network = await unreachable.getToken().catch((error) => error);
  await using leaky = serve(() =>
    Response.json({ access_token: `${SECRET} with a space`, refresh_token: SECRET })
  );
  await using badResponse = new Client({
    tokenEndpoint: `${leaky.url}/token`,
    clientId: "client-id",
    clientSecret: SECRET,
  });
  const unusable = await badResponse.getToken().catch((error) => error);
  for (const error of [refused, network, unusable]) assert.ok(error instanceof TokenError);

  const objects: [string, unknown][] = [
    ["Client", client],
    ["Client with KV", kvClient],
    ["Client with a login grant", codeClient],
    ["ClientCredentialsGrant", new ClientCredentialsGrant()],
    ["AuthorizationCodeGrant", codeGrant],
    ["ImplicitGrant", implicitGrant],
    ["RefreshTokenGrant", refreshGrant],
    ["RefreshTokenGrant with a refresh token", keptRefreshGrant],
    ["Client with a kept refresh token", keptRefreshClient],
    ["useImplicitFlow() handle", implicitFlow],
    ["useAuthorizationCodeFlow() handle", codeFlow],
    ["MemoryTokenStorage", memory],
    ["KvTokenStorage", kvStorage],
    ["TokenEndpoint", endpoint],
    ["TokenError of a refusal", refused],
    ["TokenError of a network failure", network],
    ["TokenError of an unusable response", unusable],
    ["client events", events],
  ];
  const secrets = [
    SECRET,
    btoa(`client-id:${SECRET}`),
    keptRefreshToken,
    ...server.issuedTokens,
    ...server.issuedRefreshTokens,
  ];
  assert.ok(server.issuedTokens.length >= 3 && server.issuedRefreshTokens.length >= 1);
  for (const [name, value] of objects) {
    for (const text of renderings(value)) {
      for (const secret of secrets) {
        assert.ok(!text.includes(secret), `${name} shows a secret in: ${text}`);
      }
    }
  }
});

Deno.test("Client sends the client secret only to the token endpoint and tokens only to resources", async () => {
  await using server = await startAuthServer({ clientSecret: SECRET });
  for (const clientAuth of ["client_secret_basic", "client_secret_post"] as const) {
    await using client = new Client({
      tokenEndpoint: server.tokenEndpoint,
      clientId: "client-id",
      clientSecret: SECRET,
      clientAuth,
    });
    await (await client.fetch(server.resourceUrl, { method: "POST", body: "x" })).body?.cancel();
  }
  const basic = btoa(`client-id:${SECRET}`);
  for (const request of server.resourceRequests) {
    const text = [request.url, ...request.headers, new TextDecoder().decode(request.body)].join();
    assert.ok(!text.includes(SECRET) && !text.includes(basic), text);
  }
  for (const request of server.tokenRequests) {
    assert.ok(!/^Bearer /i.test(request.headers.get("authorization") ?? ""));
    for (const token of server.issuedTokens) {
      assert.ok(!new TextDecoder().decode(request.body).includes(token));
    }
  }
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

// Property: an abort at any moment settles the call with a response or the abort reason.

Deno.test("Client.fetch() settles with a response or the abort reason when aborted at any moment", async () => {
  const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  let tokenDelay = 0;
  let resourceDelay = 0;
  let count = 0;
  await using endpoint = serve(async () => {
    await wait(tokenDelay);
    return Response.json({ access_token: `t${++count}`, expires_in: 60 });
  });
  await using resource = serve(async () => {
    await wait(resourceDelay);
    return new Response("ok");
  });
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 0, max: 4 }),
      fc.integer({ min: 0, max: 4 }),
      fc.integer({ min: 0, max: 6 }),
      fc.boolean(),
      async (token, answer, abortAfter, body) => {
        tokenDelay = token;
        resourceDelay = answer;
        await using client = new Client({ tokenEndpoint: `${endpoint.url}/token`, clientId: "id" });
        const controller = new AbortController();
        const timer = setTimeout(() => controller.abort(), abortAfter);
        try {
          const response = await client.fetch(resource.url, {
            method: "POST",
            body: body ? "payload" : undefined,
            signal: controller.signal,
          });
          assert.equal(await response.text(), "ok");
        } catch (error) {
          assert.ok(controller.signal.aborted);
          assert.ok(
            error === controller.signal.reason ||
              (error instanceof DOMException && error.name === "AbortError"),
            String(error),
          );
        } finally {
          clearTimeout(timer);
        }
      },
    ),
    { numRuns: RUNS },
  );
  await wait(10); // lets the servers' last delays run out
});
