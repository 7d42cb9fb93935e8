import assert from "node:assert/strict";
import {
  type AuthorizationCodeFlowOptions,
  Client,
  ClientCredentialsGrant,
  type ImplicitFlowOptions,
  MemoryTokenStorage,
  type PortRange,
  type TokenStorage,
  useAuthorizationCodeFlow,
  useImplicitFlow,
} from "../../mod.ts";
import { ScriptedBrowser, startAuthServer } from "../../testing.ts";
import { holdPorts, isFree, NoBrowser, paramsOf } from "../_browser_login.ts";
import { fetchText, ManualClock } from "../_helpers.ts";
import { guarded, holdBody } from "./_raw_client.ts";

Deno.test("useImplicitFlow() logs in the clients created afterwards, in the original's usage", async () => {
  await using server = await startAuthServer();
  await using browser = new ScriptedBrowser();
  const range = holdPorts(1, 0).range;
  await using flow = await useImplicitFlow(new MemoryTokenStorage(), range, {
    openBrowser: browser.open,
  });
  await using client = new Client({
    tokenEndpoint: server.tokenEndpoint,
    clientId: "glBQ3nYU/8/kaVi/bIgXGA==",
    clientSecret: "",
  });
  const response = await client.request("GET", server.resourceUrl);
  assert.equal(response.status, 200);
  await response.body?.cancel();

  assert.equal(flow.port, range[0]);
  assert.equal(flow.redirectUri, `http://127.0.0.1:${range[0]}/callback`);
  const authorize = paramsOf(browser.opened[0]);
  assert(browser.opened[0]?.startsWith(`${server.tokenEndpoint}/authorize?`));
  assert.equal(authorize.get("client_id"), "glBQ3nYU/8/kaVi/bIgXGA==");
  assert.equal(authorize.get("redirect_uri"), flow.redirectUri);
  const [request] = server.resourceRequests;
  assert(request);
  assert.equal(request.token, server.issuedTokens[0]);
});

Deno.test("useImplicitFlow() listens at once on the first free port, until it is closed", async () => {
  using held = holdPorts(3, 2);
  const flow = await useImplicitFlow(new MemoryTokenStorage(), held.range);
  assert.equal(flow.port, held.range[0] + 2);
  assert(!isFree(flow.port));
  await flow.close();
  assert(isFree(flow.port));
  await flow.close(); // twice is harmless
});

Deno.test("useImplicitFlow() rejects naming the range when no port is free, and installs nothing", async () => {
  await using server = await startAuthServer();
  {
    using held = holdPorts(2, 2);
    await assert.rejects(
      useImplicitFlow(new MemoryTokenStorage(), held.range),
      (error: Error) => {
        assert(error instanceof Deno.errors.AddrInUse);
        assert.match(error.message, new RegExp(`from ${held.range[0]} to ${held.range[1]}`));
        return true;
      },
    );
  }
  await using client = new Client({ tokenEndpoint: server.tokenEndpoint, clientId: "id" });
  await client.getToken();
  assert.equal(server.tokenRequests[0]?.form.get("grant_type"), "client_credentials");
});

Deno.test("useImplicitFlow() keeps the token in its storage, unless a client brings its own", async () => {
  await using server = await startAuthServer();
  await using browser = new ScriptedBrowser();
  const storage = new MemoryTokenStorage();
  await using _flow = await useImplicitFlow(storage, [0, 0], { openBrowser: browser.open });
  const options = { tokenEndpoint: server.tokenEndpoint, clientId: "cli" };
  await using first = new Client(options);
  await first.getToken();
  assert.equal(storage.size, 1);
  await using second = new Client(options);
  assert.equal((await second.getToken()).accessToken, server.issuedTokens[0]);
  assert.equal(browser.opened.length, 1, "the stored token needs no new login");

  const own = new MemoryTokenStorage();
  await using third = new Client({ ...options, storage: own });
  assert.equal((await third.getToken()).accessToken, server.issuedTokens[1]);
  assert.equal(own.size, 1);
  assert.equal(storage.size, 1);
  assert.equal(browser.opened.length, 2);
});

Deno.test("useImplicitFlow() of a later run finds the token its storage kept", async () => {
  await using server = await startAuthServer();
  await using browser = new ScriptedBrowser();
  const storage = new MemoryTokenStorage(); // a KvTokenStorage keeps it across processes
  const options = { tokenEndpoint: server.tokenEndpoint, clientId: "cli" };
  {
    await using _run1 = await useImplicitFlow(storage, [0, 0], { openBrowser: browser.open });
    await using client = new Client(options);
    await client.getToken();
  }
  await using _run2 = await useImplicitFlow(storage, [0, 0], { openBrowser: browser.open });
  await using client = new Client(options);
  assert.equal((await fetchText(client.fetch, server.resourceUrl)).status, 200);
  assert.equal(browser.opened.length, 1);
  const [request] = server.resourceRequests;
  assert(request);
  assert.equal(request.token, server.issuedTokens[0]);
});

Deno.test("useImplicitFlow() is not used by a client with a grant of its own", async () => {
  await using server = await startAuthServer();
  const browser = new NoBrowser();
  const storage = new MemoryTokenStorage();
  await using _flow = await useImplicitFlow(storage, [0, 0], { openBrowser: browser.open });
  await using client = new Client({
    tokenEndpoint: server.tokenEndpoint,
    clientId: "id",
    clientSecret: "secret",
    grant: new ClientCredentialsGrant(),
  });
  assert.equal((await fetchText(client.fetch, server.resourceUrl)).status, 200);
  assert.equal(server.tokenRequests[0]?.form.get("grant_type"), "client_credentials");
  assert.equal(browser.opened.length, 0);
  assert.equal(storage.size, 0);
});

Deno.test("useImplicitFlow() refuses a second flow; closing it gives clients client credentials again", async () => {
  await using server = await startAuthServer();
  const flow = await useImplicitFlow(new MemoryTokenStorage(), [0, 0]);
  await assert.rejects(
    useImplicitFlow(new MemoryTokenStorage(), [0, 0]),
    new Error("Cannot use the implicit flow: a browser login flow is installed; close it first"),
  );
  await assert.rejects(useAuthorizationCodeFlow(new MemoryTokenStorage(), [0, 0]), /installed/);
  await flow.close();
  await using client = new Client({ tokenEndpoint: server.tokenEndpoint, clientId: "id" });
  await client.getToken();
  assert.equal(server.tokenRequests[0]?.form.get("grant_type"), "client_credentials");
  await using again = await useImplicitFlow(new MemoryTokenStorage(), [0, 0]);
  assert(again.port > 0);
});

Deno.test("BrowserFlow.close() ends a login in progress and the logins of its clients after it", async () => {
  await using server = await startAuthServer();
  const browser = new NoBrowser();
  const flow = await useImplicitFlow(new MemoryTokenStorage(), [0, 0], {
    openBrowser: browser.open,
  });
  await using client = new Client({ tokenEndpoint: server.tokenEndpoint, clientId: "cli" });
  const login = client.getToken();
  await browser.nth(1);
  const rejected = assert.rejects(login, /Cannot log in: the login listener was closed/);
  await flow.close();
  await rejected;
  await assert.rejects(client.getToken(), /Cannot log in: the login listener was closed/);
  assert.equal(browser.opened.length, 1);
});

Deno.test("Client.close() stops a login of the installed flow and leaves its listener to the flow", async () => {
  await using server = await startAuthServer();
  const browser = new NoBrowser();
  const flow = await useImplicitFlow(new MemoryTokenStorage(), [0, 0], {
    openBrowser: browser.open,
  });
  const client = new Client({ tokenEndpoint: server.tokenEndpoint, clientId: "cli" });
  const login = client.getToken();
  await browser.nth(1);
  const rejected = assert.rejects(login, /Cannot log in: the login was aborted/);
  await client.close();
  await rejected;
  assert(!isFree(flow.port));
  await flow.close();
  assert(isFree(flow.port));
});

Deno.test("useImplicitFlow() gives concurrent requests of several clients one login, and logs in again after a 401", async () => {
  await using server = await startAuthServer();
  await using browser = new ScriptedBrowser();
  await using _flow = await useImplicitFlow(new MemoryTokenStorage(), [0, 0], {
    openBrowser: browser.open,
  });
  const options = { tokenEndpoint: server.tokenEndpoint, clientId: "cli" };
  await using a = new Client(options);
  await using b = new Client(options);
  const all = () =>
    Promise.all(
      [a, b, a, b, a].map((client) => fetchText(client.fetch, server.resourceUrl)),
    );
  assert((await all()).every((result) => result.status === 200));
  assert.equal(browser.opened.length, 1);
  server.revoke();
  assert((await all()).every((result) => result.status === 200));
  assert.equal(browser.opened.length, 2);
  assert.equal(server.issuedTokens.length, 2);
});

Deno.test("useImplicitFlow() honours the loginTimeout option", async () => {
  await using server = await startAuthServer();
  const browser = new NoBrowser();
  await using _flow = await useImplicitFlow(new MemoryTokenStorage(), [0, 0], {
    openBrowser: browser.open,
    loginTimeout: 30,
  });
  await using client = new Client({ tokenEndpoint: server.tokenEndpoint, clientId: "cli" });
  await assert.rejects(client.getToken(), /did not come back to .* within 30 ms/);
});

Deno.test("useImplicitFlow() checks its arguments and installs nothing when they are wrong", async () => {
  const storage = new MemoryTokenStorage();
  await assert.rejects(
    useImplicitFlow({} as TokenStorage),
    new TypeError('Cannot use the implicit flow: "storage" has no get() method'),
  );
  await assert.rejects(
    useImplicitFlow(storage, [5, 4] as PortRange),
    (error: Error) => error instanceof RangeError && /the port range must be/.test(error.message),
  );
  await assert.rejects(
    useImplicitFlow(storage, [0, 0], null as unknown as ImplicitFlowOptions),
    new TypeError("Cannot use the implicit flow: options must be an object"),
  );
  await assert.rejects(
    useImplicitFlow(storage, [0, 0], { loginTimeout: -5 }),
    (error: Error) => error instanceof RangeError && /"loginTimeout"/.test(error.message),
  );
  await using flow = await useImplicitFlow(storage, [0, 0]);
  assert(flow.port > 0);
});

Deno.test("useAuthorizationCodeFlow() logs in with PKCE on its listener, refreshes, and logs in again", async () => {
  await using server = await startAuthServer();
  await using browser = new ScriptedBrowser();
  await using flow = await useAuthorizationCodeFlow(new MemoryTokenStorage(), [0, 0], {
    authorizationEndpoint: server.authorizationEndpoint,
    openBrowser: browser.open,
  });
  const clock = new ManualClock();
  await using client = new Client({
    tokenEndpoint: server.tokenEndpoint,
    clientId: "cli",
    now: clock.now,
  });
  assert.equal((await fetchText(client.fetch, server.resourceUrl)).status, 200);
  assert.equal(paramsOf(browser.opened[0]).get("response_type"), "code");
  assert.equal(server.tokenRequests[0]?.form.get("redirect_uri"), flow.redirectUri);

  server.revoke();
  assert.equal((await fetchText(client.fetch, server.resourceUrl)).status, 200);
  assert.equal(browser.opened.length, 1);

  // A token obtained for a rejection is replaced again only 30 s later (see "The 401 retry").
  clock.advance(30_000);
  server.revoke();
  server.revokeRefreshTokens();
  assert.equal((await fetchText(client.fetch, server.resourceUrl)).status, 200);
  assert.equal(browser.opened.length, 2);
  assert.deepEqual(server.tokenRequests.map((r) => r.form.get("grant_type")), [
    "authorization_code",
    "refresh_token",
    "refresh_token",
    "authorization_code",
  ]);
});

Deno.test("BrowserFlow.close() is prompt while connections withhold their bodies", async () => {
  await using server = await startAuthServer();
  await using browser = new ScriptedBrowser();
  await using flow = await useAuthorizationCodeFlow(new MemoryTokenStorage(), [0, 0], {
    authorizationEndpoint: server.authorizationEndpoint,
    openBrowser: browser.open,
  });
  using post = await holdBody(flow.port);
  using _get = await holdBody(flow.port, "GET");
  await using client = new Client({ tokenEndpoint: server.tokenEndpoint, clientId: "cli" });
  const token = await guarded(client.getToken(), "getToken()");
  assert.equal(token.accessToken, server.issuedTokens[0]);
  assert.equal(await guarded(flow.close().then(() => "closed"), "close()"), "closed");
  assert.equal(await guarded(post.status(), "the held answer"), 503);
  assert(isFree(flow.port));
});

Deno.test("useImplicitFlow() and useAuthorizationCodeFlow() refuse an unknown option, installing nothing", async () => {
  const storage = new MemoryTokenStorage();
  const misspelled = { loginTimout: 60_000 } as ImplicitFlowOptions;
  await assert.rejects(
    useImplicitFlow(storage, [0, 0], misspelled),
    new TypeError(
      'Cannot use the implicit flow: unknown option "loginTimout"; did you mean "loginTimeout"?',
    ),
  );
  // The port range is the flows' second argument, not an option.
  const ports = { portRange: [0, 0] } as AuthorizationCodeFlowOptions;
  await assert.rejects(
    useAuthorizationCodeFlow(storage, [0, 0], ports),
    new TypeError('Cannot use the authorization code flow: unknown option "portRange"'),
  );
  await using flow = await useImplicitFlow(storage, [0, 0], { loginTimeout: 60_000 });
  assert(flow.port > 0); // nothing was left installed
});
