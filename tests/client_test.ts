import assert from "node:assert/strict";
import util from "node:util";
import { fc } from "./_dev_deps.ts";
import {
  AuthorizationCodeGrant,
  Client,
  ClientCredentialsGrant,
  type ClientEvent,
  type ClientOptions,
  ImplicitGrant,
  KvTokenStorage,
  MemoryTokenStorage,
  RefreshTokenGrant,
  TokenEndpoint,
  TokenError,
  useAuthorizationCodeFlow,
  useImplicitFlow,
} from "../mod.ts";
import { type AuthServer, ScriptedBrowser, startAuthServer } from "../testing.ts";
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

const RESOURCE_B = "https://b.example.com/api";

Deno.test("Client.fetch() posts a form token request with Accept: application/json", async () => {
  await using server = await startAuthServer();
  await using client = clientFor(server, {
    scope: ["read", "write"],
    tokenParams: {
      audience: "https://api.example.com",
      resource: [server.resourceUrl, RESOURCE_B],
    },
  });
  assert.equal((await fetchText(client.fetch, server.resourceUrl)).status, 200);
  const [request] = server.tokenRequests;
  assert.ok(request);
  assert.equal(request.method, "POST");
  assert.equal(request.headers.get("content-type"), "application/x-www-form-urlencoded");
  assert.equal(request.headers.get("accept"), "application/json");
  assert.match(request.headers.get("authorization") ?? "", /^Basic /);
  assert.deepEqual([...request.form], [
    ["grant_type", "client_credentials"],
    ["audience", "https://api.example.com"],
    ["resource", server.resourceUrl],
    ["resource", RESOURCE_B],
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

// --- Client.revoke() (RFC 7009) ------------------------------------------------

/** A client of the stand-in server with its revocation endpoint and a storage of its own. */
function revokingClient(server: AuthServer, options: Partial<ClientOptions> = {}) {
  const storage = new MemoryTokenStorage();
  const client = clientFor(server, {
    revocationEndpoint: server.revocationEndpoint,
    storage,
    ...options,
  });
  return Object.assign(client, { storage });
}

Deno.test("Client.revoke() revokes the access token, forgets it, and the next fetch obtains a new one", async () => {
  await using server = await startAuthServer({
    clientId: "client-id",
    clientSecret: "client-secret",
  });
  await using client = revokingClient(server);
  assert.equal((await fetchText(client.fetch, server.resourceUrl)).status, 200);
  const [old] = server.issuedTokens;
  assert.ok(old);
  assert.equal(client.storage.size, 1);

  assert.equal(await client.revoke(), "access_token");
  assert.deepEqual(server.revocations, [
    { token: old, tokenTypeHint: "access_token", found: "access_token", clientId: "client-id" },
  ]);
  // Authenticated as its token requests are: client_secret_basic.
  assert.equal(
    server.revocationRequests[0]?.headers.get("authorization"),
    server.tokenRequests[0]?.headers.get("authorization"),
  );
  assert.equal(server.accepts(old), false);
  assert.equal(client.storage.size, 0);

  assert.equal((await fetchText(client.fetch, server.resourceUrl)).status, 200);
  assert.equal(server.tokenRequests.length, 2);
  assert.equal(server.resourceRequests[1]?.token, server.issuedTokens[1]);
  assert.notEqual(server.issuedTokens[1], old);
});

Deno.test("Client.revoke() revokes a login's refresh token with its hint and deletes the login record", async () => {
  await using server = await startAuthServer();
  await using browser = new ScriptedBrowser();
  await using client = revokingClient(server, {
    clientId: "cli",
    clientSecret: undefined,
    grant: new AuthorizationCodeGrant({
      authorizationEndpoint: server.authorizationEndpoint,
      openBrowser: browser.open,
      portRange: [0, 0],
    }),
  });
  const { refreshToken } = await client.getToken();
  assert.ok(refreshToken);
  assert.equal(client.storage.size, 2); // the access record and the login record

  assert.equal(await client.revoke(), "refresh_token");
  assert.deepEqual(server.revocations, [
    {
      token: refreshToken,
      tokenTypeHint: "refresh_token",
      found: "refresh_token",
      clientId: "cli",
    },
  ]);
  assert.equal(server.revocationRequests[0]?.form.get("client_id"), "cli"); // auth "none"
  assert.equal(client.storage.size, 0);

  // No refresh with the revoked token: the user logs in again.
  await client.getToken();
  assert.equal(browser.opened.length, 2);
  assert.deepEqual(server.tokenRequests.map((r) => r.form.get("grant_type")), [
    "authorization_code",
    "authorization_code",
  ]);
});

Deno.test("Client.revoke() throws the revocation endpoint's error and keeps the records", async () => {
  await using server = await startAuthServer();
  await using client = revokingClient(server);
  const { accessToken } = await client.getToken();
  server.failRevocationRequests(1, {
    status: 503,
    body: JSON.stringify({ error: "temporarily_unavailable" }),
    headers: { "Content-Type": "application/json", "Retry-After": "5" },
  });
  const error = await client.revoke().catch((error) => error);
  assert.ok(error instanceof TokenError, String(error));
  assert.equal(error.code, "http_error");
  assert.equal(error.status, 503);
  assert.equal(error.error, "temporarily_unavailable");
  assert.match(error.message, /^Cannot revoke the token: the revocation endpoint answered 503/);
  assert.ok(!error.message.includes(accessToken));
  // RFC 7009 §2.2.1: the token still exists, and the client goes on with it.
  assert.equal(server.revocations.length, 0);
  assert.equal(client.storage.size, 1);
  assert.equal((await client.getToken()).accessToken, accessToken);
  assert.equal(server.tokenRequests.length, 1);

  assert.equal(await client.revoke(), "access_token"); // once the endpoint is back
  assert.equal(server.revocations[0]?.token, accessToken);
  assert.equal(client.storage.size, 0);
});

Deno.test("Client.revoke() without a revocation endpoint rejects with a TypeError and sends nothing", async () => {
  await using server = await startAuthServer();
  await using client = revokingClient(server, { revocationEndpoint: undefined });
  await client.getToken();
  await assert.rejects(
    client.revoke(),
    new TypeError(
      'Cannot revoke the token: the client has no revocation endpoint; set "revocationEndpoint"',
    ),
  );
  assert.equal(server.revocationRequests.length, 0);
  assert.equal(client.storage.size, 1);
  assert.throws(
    () => clientFor(server, { revocationEndpoint: "http://auth.example.com/revoke" }),
    /Cannot create the client: "revocationEndpoint" .*https/,
  );
});

Deno.test("Client.revoke() without a token resolves without a request", async () => {
  await using server = await startAuthServer();
  await using client = revokingClient(server);
  assert.equal(await client.revoke(), undefined);
  assert.equal(server.revocationRequests.length, 0);
  assert.equal(server.tokenRequests.length, 0);
});

Deno.test("Client.revoke() revokes the token another client of the storage obtained", async () => {
  await using server = await startAuthServer();
  const storage = new MemoryTokenStorage();
  {
    await using first = revokingClient(server, { storage });
    await first.getToken();
  }
  await using next = revokingClient(server, { storage }); // `alf logout`: a new process
  assert.equal(await next.revoke(), "access_token");
  assert.equal(server.revocations[0]?.token, server.issuedTokens[0]);
  assert.equal(storage.size, 0);
});

Deno.test("Client.revoke() never sends the revoked token again, even from a storage that kept it", async () => {
  /** A storage whose deletes fail: the revoked records stay in it. */
  class UndeletableStorage extends MemoryTokenStorage {
    override delete(): Promise<void> {
      return Promise.reject(new Error("Cannot delete: read-only"));
    }
  }
  await using server = await startAuthServer();
  await using client = revokingClient(server, { storage: new UndeletableStorage() });
  const { accessToken } = await client.getToken();
  assert.equal(await client.revoke(), "access_token");
  assert.ok(client.events.some((e) => e.type === "error" && e.phase === "storage"));
  assert.equal((await fetchText(client.fetch, server.resourceUrl)).status, 200);
  assert.equal(server.tokenRequests.length, 2);
  assert.notEqual(server.resourceRequests[0]?.token, accessToken);
  assert.equal(server.resourceRequests.length, 1); // no 401 first: the old token was not sent
});

Deno.test("Client.revoke() finds the endpoint in the issuer's metadata and signs for it", async () => {
  const { publicKey, privateKey } = await crypto.subtle.generateKey(
    { name: "ECDSA", namedCurve: "P-256" },
    false,
    ["sign", "verify"],
  );
  // Okta's rule: an assertion's aud is the endpoint it is sent to.
  await using server = await startAuthServer({
    clientId: "app",
    clientKeys: [publicKey],
    assertionAudience: "endpoint",
  });
  const storage = new MemoryTokenStorage();
  await using client = new Client({
    issuer: server.issuer,
    clientId: "app",
    clientKey: privateKey,
    clientAssertionAudience: "endpoint",
    storage,
  });
  const { accessToken } = await client.getToken();
  assert.equal(await client.revoke(), "access_token");
  const [request] = server.revocationRequests;
  assert.equal(request?.clientAuthMethod, "private_key_jwt");
  assert.equal(request?.clientAssertion?.claims.aud, server.revocationEndpoint);
  assert.deepEqual(server.revocations.map((r) => [r.token, r.clientId]), [[accessToken, "app"]]);
  assert.equal(storage.size, 0);
});

Deno.test("Client.revoke() after close() rejects", async () => {
  await using server = await startAuthServer();
  const client = revokingClient(server);
  await client.close();
  await assert.rejects(
    client.revoke(),
    new Error("Cannot revoke the token: the client is closed"),
  );
});

Deno.test("Client.getToken() gives each grant run its own copy of the token parameters", async () => {
  const seen: string[] = [];
  const grant: AnyGrant = {
    name: "changing",
    obtain(context) {
      seen.push(context.params.toString());
      context.params.set("scope", "changed"); // a grant's change stays its own
      const token = { accessToken: `token-${seen.length}`, tokenType: "Bearer", issuedAt: 0 };
      return Promise.resolve({ token });
    },
  };
  const fetch: typeof globalThis.fetch = () => Promise.reject(new Error("not called"));
  const options = { tokenEndpoint: "https://auth.example.com/token", grant, fetch };
  // Clients without parameters, and one with its own.
  await using first = new Client({ ...options, clientId: "first" });
  await using second = new Client({ ...options, clientId: "second" });
  await using scoped = new Client({ ...options, clientId: "scoped", scope: "read" });
  await using third = new Client({ ...options, clientId: "third" });
  for (const client of [first, second, scoped, third]) await client.getToken();
  assert.deepEqual(seen, ["", "", "scope=read", ""]);
});

// The default storage: shared process-wide only where the key names the principal.

type AnyGrant = NonNullable<ClientOptions["grant"]>;

/** A custom grant for one subject (the stand-in server knows client credentials only). */
class SubjectGrant implements AnyGrant {
  readonly name = "subject_assertion";
  constructor(readonly subject: string) {}
  obtain(context: Parameters<AnyGrant["obtain"]>[0]): ReturnType<AnyGrant["obtain"]> {
    const params = new URLSearchParams([
      ["grant_type", "client_credentials"],
      ["assertion", `assertion-for-${this.subject}`],
      ...context.params,
    ]);
    return context.endpoint.request(params, context.signal);
  }
}

/** The same grant, naming its principal: it opts in to the process-wide storage. */
class NamedSubjectGrant extends SubjectGrant {
  identity(): string {
    return this.subject;
  }
}

function grantClient(server: AuthServer, grant: AnyGrant): Client {
  return new Client({
    tokenEndpoint: server.tokenEndpoint,
    clientId: "id",
    clientSecret: "secret",
    grant,
  });
}

Deno.test("new Client() without storage gives each AuthorizationCodeGrant client its own login", async () => {
  await using server = await startAuthServer();
  await using alice = new ScriptedBrowser();
  await using bob = new ScriptedBrowser();
  const client = (browser: ScriptedBrowser) =>
    new Client({
      tokenEndpoint: server.tokenEndpoint,
      clientId: "my-cli",
      scope: "read",
      grant: new AuthorizationCodeGrant({ openBrowser: browser.open, portRange: [0, 0] }),
    });
  await using a = client(alice);
  await using b = client(bob);
  const aliceToken = await a.getToken();
  const bobToken = await b.getToken();
  assert.equal(alice.opened.length, 1);
  assert.equal(bob.opened.length, 1); // Bob logs in himself
  assert.notEqual(bobToken.accessToken, aliceToken.accessToken);
  assert.deepEqual(server.issuedTokens, [aliceToken.accessToken, bobToken.accessToken]);
});

Deno.test("new Client() without storage never shares a custom grant's token without identity()", async () => {
  await using server = await startAuthServer();
  const client = (grant: AnyGrant) => grantClient(server, grant);
  await using alice = client(new SubjectGrant("alice"));
  await using bob = client(new SubjectGrant("bob"));
  const aliceToken = await alice.getToken();
  const bobToken = await bob.getToken();
  assert.deepEqual(server.tokenRequests.map((r) => r.form.get("assertion")), [
    "assertion-for-alice",
    "assertion-for-bob",
  ]);
  assert.notEqual(bobToken.accessToken, aliceToken.accessToken);
});

Deno.test("new Client() without storage shares a grant's token once identity() names its principal", async () => {
  await using server = await startAuthServer();
  const client = (grant: AnyGrant) => grantClient(server, grant);
  for (const subject of ["alice", "alice", "bob"]) {
    await using c = client(new NamedSubjectGrant(subject));
    await c.getToken();
  }
  assert.deepEqual(server.tokenRequests.map((r) => r.form.get("assertion")), [
    "assertion-for-alice",
    "assertion-for-bob",
  ]);
});

Deno.test("new Client() without storage shares one client credentials token among clients made per request", async () => {
  await using server = await startAuthServer();
  for (let i = 0; i < 20; i++) {
    await using client = new Client({
      tokenEndpoint: server.tokenEndpoint,
      clientId: "client-id",
      clientSecret: "client-secret",
    });
    const { status } = await fetchText(client.fetch, server.resourceUrl);
    assert.equal(status, 200);
  }
  assert.equal(server.tokenRequests.length, 1);
  assert.equal(server.resourceRequests.length, 20);
  assert(server.resourceRequests.every((r) => r.token === server.issuedTokens[0]));
});

Deno.test("Client.getToken() refuses a misspelled option, naming the one meant", async () => {
  await using client = new Client({
    tokenEndpoint: "https://auth.example.com/token",
    clientId: "id",
  });
  await assert.rejects(client.getToken({ minValidty: 1000 } as never), {
    name: "TypeError",
    message: /unknown option "minValidty"; did you mean "minValidity"\?/,
  });
});

Deno.test("Client's inspect and JSON show the endpoint, client, scope, method and grant as given, and whether it is closed", async () => {
  const fetch: typeof globalThis.fetch = () => Promise.reject(new Error("not called"));
  // Each summary in the order it is shown; `undefined` members are shown by inspect only.
  const cases: [ClientOptions, Record<string, unknown>][] = [
    [
      {
        tokenEndpoint: "HTTPS://Auth.example.com:443/a/../token",
        clientId: "id",
        clientSecret: SECRET,
        scope: ["read", " write"],
        tokenParams: { audience: "api" },
      },
      {
        tokenEndpoint: "https://auth.example.com/token",
        clientId: "id",
        scope: "read write",
        clientAuth: "client_secret_basic",
        grant: "client_credentials",
      },
    ],
    [
      { issuer: "https://auth.example.com", clientId: "id", clientSecret: SECRET },
      {
        issuer: "https://auth.example.com",
        clientId: "id",
        scope: undefined,
        clientAuth: undefined,
        grant: "client_credentials",
      },
    ],
    [
      { protectedResource: "https://api.example.com/mcp", scope: "files" },
      {
        protectedResource: "https://api.example.com/mcp",
        clientId: "",
        scope: "files",
        clientAuth: "none",
        grant: "authorization_code",
      },
    ],
    [
      { tokenEndpoint: "https://auth.example.com/token", clientId: "id", dpop: true },
      {
        tokenEndpoint: "https://auth.example.com/token",
        clientId: "id",
        scope: undefined,
        clientAuth: "none",
        grant: "client_credentials",
        dpop: true,
      },
    ],
  ];
  for (const [options, summary] of cases) {
    const client = new Client({ ...options, fetch });
    for (const closed of [false, true]) {
      const shown = { ...summary, closed };
      assert.equal(Deno.inspect(client), `Client ${Deno.inspect(shown)}`);
      assert.equal(JSON.stringify(client), JSON.stringify(shown));
      await client.close();
    }
  }
});
