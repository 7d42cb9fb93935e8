import assert from "node:assert/strict";
import {
  AuthorizationCodeGrant,
  type AuthorizationCodeGrantOptions,
  type Client,
  type ClientOptions,
  KvTokenStorage,
  MemoryTokenStorage,
  type PortRange,
  TokenError,
} from "../../mod.ts";
import { type AuthServer, ScriptedBrowser, startAuthServer } from "../../testing.ts";
import { browserClient, isFree, paramsOf } from "../_browser_login.ts";
import { fetchText, ManualClock } from "../_helpers.ts";
import { guarded, type HeldRequest, holdBody } from "./_raw_client.ts";

/** A public client of `server` that logs in with the authorization code grant. */
function codeClient(
  server: AuthServer,
  grant: AuthorizationCodeGrantOptions,
  options: Partial<ClientOptions> = {},
): Client {
  return browserClient(server, AuthorizationCodeGrant, grant, options);
}

async function s256(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return btoa(String.fromCharCode(...new Uint8Array(digest))).replace(/\+/g, "-")
    .replace(/\//g, "_").replace(/=+$/, "");
}

Deno.test("AuthorizationCodeGrant.obtain() sends an S256 challenge and exchanges the code with its verifier", async () => {
  await using server = await startAuthServer({ clientId: "cli" });
  await using browser = new ScriptedBrowser();
  await using client = codeClient(server, { openBrowser: browser.open }, {
    scope: "read",
    tokenParams: { resource: server.resourceUrl },
  });
  assert.equal((await fetchText(client.fetch, server.resourceUrl)).status, 200);

  const authorize = paramsOf(browser.opened[0]);
  assert.deepEqual([...authorize.keys()], [
    "response_type",
    "client_id",
    "redirect_uri",
    "resource",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
  ]);
  assert.equal(authorize.get("response_type"), "code");
  assert.equal(authorize.get("code_challenge_method"), "S256");
  const [exchange] = server.tokenRequests;
  assert(exchange);
  assert.deepEqual([...exchange.form.keys()], [
    "grant_type",
    "code",
    "redirect_uri",
    "code_verifier",
    "resource",
    "client_id",
  ]);
  assert.equal(exchange.form.get("grant_type"), "authorization_code");
  assert.equal(exchange.form.get("redirect_uri"), authorize.get("redirect_uri"));
  const verifier = exchange.form.get("code_verifier")!;
  assert.match(verifier, /^[A-Za-z0-9_-]{43}$/, "32 random bytes, base64url");
  assert.equal(await s256(verifier), authorize.get("code_challenge"));
  assert.equal(exchange.form.get("client_id"), "cli");
  const [request] = server.resourceRequests;
  assert(request);
  assert.equal(request.token, server.issuedTokens[0]);
  await browser.close();
  const [page] = browser.pages;
  assert(page);
  assert.equal(page.status, 200);
  assert.match(page.text, /Login complete, you can close this tab/);
});

Deno.test("AuthorizationCodeGrant.obtain() uses a new verifier and state for every login", async () => {
  await using server = await startAuthServer();
  await using browser = new ScriptedBrowser();
  await using client = codeClient(server, { openBrowser: browser.open });
  await client.getToken();
  server.revoke();
  server.revokeRefreshTokens();
  assert.equal((await fetchText(client.fetch, server.resourceUrl)).status, 200);
  const [first, second] = browser.opened.map(paramsOf);
  assert(first && second);
  assert.notEqual(first.get("code_challenge"), second.get("code_challenge"));
  assert.notEqual(first.get("state"), second.get("state"));
  const verifiers = server.tokenRequests.map((r) => r.form.get("code_verifier"));
  assert.equal(verifiers.length, 3); // exchange, refused refresh, exchange
  assert.notEqual(verifiers[0], verifiers[2]);
});

Deno.test("AuthorizationCodeGrant authenticates a confidential client at the exchange", async () => {
  await using server = await startAuthServer({ clientId: "cli", clientSecret: "s3cret" });
  await using browser = new ScriptedBrowser();
  await using client = codeClient(server, { openBrowser: browser.open }, {
    clientSecret: "s3cret",
  });
  await client.getToken();
  const [exchange] = server.tokenRequests;
  assert(exchange);
  assert.match(exchange.headers.get("authorization")!, /^Basic /);
  assert.equal(exchange.form.get("client_id"), null);
});

Deno.test("AuthorizationCodeGrant refreshes without the browser, keeping a refresh token the response leaves out", async () => {
  const clock = new ManualClock();
  await using server = await startAuthServer({ expiresIn: 60, now: clock.now });
  await using browser = new ScriptedBrowser();
  await using client = codeClient(server, { openBrowser: browser.open }, {
    scope: "read",
    now: clock.now,
  });
  const first = await client.getToken();
  assert.equal(first.refreshToken, server.issuedRefreshTokens[0]);
  for (let i = 1; i <= 2; i++) {
    clock.advance(60_000);
    const renewed = await client.getToken();
    assert.equal(renewed.accessToken, server.issuedTokens[i]);
    assert.equal(renewed.refreshToken, first.refreshToken);
  }
  assert.equal(browser.opened.length, 1);
  assert.deepEqual(server.tokenRequests.map((r) => r.form.get("grant_type")), [
    "authorization_code",
    "refresh_token",
    "refresh_token",
  ]);
  for (const request of server.tokenRequests.slice(1)) {
    assert.equal(request.form.get("refresh_token"), first.refreshToken);
    // No scope: a refresh keeps what was granted ([RFC 6749 §6](https://www.rfc-editor.org/rfc/rfc6749#section-6)).
    assert.equal(request.form.get("scope"), null);
  }
});

Deno.test("AuthorizationCodeGrant uses the new refresh token when the server rotates it", async () => {
  const clock = new ManualClock();
  await using server = await startAuthServer({
    expiresIn: 60,
    now: clock.now,
    rotateRefreshTokens: true,
  });
  await using browser = new ScriptedBrowser();
  await using client = codeClient(server, { openBrowser: browser.open }, { now: clock.now });
  await client.getToken();
  for (let i = 1; i <= 2; i++) {
    clock.advance(60_000);
    const renewed = await client.getToken();
    assert.equal(renewed.refreshToken, server.issuedRefreshTokens[i]);
  }
  assert.deepEqual(
    server.tokenRequests.slice(1).map((r) => r.form.get("refresh_token")),
    server.issuedRefreshTokens.slice(0, 2),
  );
  assert.equal(browser.opened.length, 1);
});

Deno.test("AuthorizationCodeGrant logs in again when the refresh is answered invalid_grant", async () => {
  const clock = new ManualClock();
  await using server = await startAuthServer({ expiresIn: 60, now: clock.now });
  await using browser = new ScriptedBrowser();
  await using client = codeClient(server, { openBrowser: browser.open }, { now: clock.now });
  await client.getToken();
  server.revokeRefreshTokens();
  clock.advance(60_000);
  const { status } = await fetchText(client.fetch, server.resourceUrl);
  assert.equal(status, 200);
  assert.equal(browser.opened.length, 2);
  assert.deepEqual(server.tokenRequests.map((r) => r.form.get("grant_type")), [
    "authorization_code",
    "refresh_token",
    "authorization_code",
  ]);
  assert.equal((await client.getToken()).refreshToken, server.issuedRefreshTokens[1]);
});

Deno.test("AuthorizationCodeGrant returns other refresh failures without opening the browser", async () => {
  const clock = new ManualClock();
  await using server = await startAuthServer({ expiresIn: 60, now: clock.now });
  await using browser = new ScriptedBrowser();
  await using client = codeClient(server, { openBrowser: browser.open }, { now: clock.now });
  await client.getToken();
  clock.advance(60_000);
  server.failTokenRequests(1, { status: 503 });
  const { status } = await fetchText(client.fetch, server.resourceUrl);
  assert.equal(status, 503);
  assert.equal(browser.opened.length, 1);
  assert.equal(server.resourceRequests.length, 0);
  // The refresh token survives the failure.
  assert.equal((await fetchText(client.fetch, server.resourceUrl)).status, 200);
  assert.equal(browser.opened.length, 1);
});

Deno.test("AuthorizationCodeGrant renews a token rejected with 401 by refreshing it", async () => {
  await using server = await startAuthServer();
  await using browser = new ScriptedBrowser();
  await using client = codeClient(server, { openBrowser: browser.open });
  assert.equal((await fetchText(client.fetch, server.resourceUrl)).status, 200);
  server.revoke();
  assert.equal((await fetchText(client.fetch, server.resourceUrl)).status, 200);
  assert.equal(browser.opened.length, 1);
  assert.deepEqual(server.tokenRequests.map((r) => r.form.get("grant_type")), [
    "authorization_code",
    "refresh_token",
  ]);
});

Deno.test("AuthorizationCodeGrant rejects an error redirect and a redirect without a code", async () => {
  await using server = await startAuthServer();
  server.failAuthorizations(1, { error: "access_denied" });
  server.route("/no-code", (request) => {
    const query = new URL(request.url).searchParams;
    const target = new URL(query.get("redirect_uri")!);
    target.searchParams.set("state", query.get("state")!);
    return Response.redirect(target, 302);
  });
  await using browser = new ScriptedBrowser();
  await using client = codeClient(server, { openBrowser: browser.open });
  await assert.rejects(client.getToken(), {
    name: "TokenError",
    message: "Cannot log in: the authorization server answered access_denied",
    error: "access_denied",
  });
  await using noCode = codeClient(server, {
    authorizationEndpoint: server.url("/no-code"),
    openBrowser: browser.open,
  });
  await assert.rejects(
    noCode.getToken(),
    new TokenError("Cannot log in: the authorization server's answer has no code", {
      code: "login_failed",
    }),
  );
  await browser.close();
  assert.deepEqual(browser.pages.map((page) => page.status), [400, 400]);
  assert.equal(server.tokenRequests.length, 0);
});

Deno.test("AuthorizationCodeGrant returns the token endpoint's error response when the exchange fails", async () => {
  await using server = await startAuthServer({ clientId: "cli", clientSecret: "right" });
  await using browser = new ScriptedBrowser();
  await using client = codeClient(server, { openBrowser: browser.open }, { clientSecret: "wrong" });
  const { status, text } = await fetchText(client.fetch, server.resourceUrl);
  assert.equal(status, 401);
  assert.equal(JSON.parse(text).error, "invalid_client");
  assert.equal(browser.opened.length, 1, "a failed exchange is not retried with a new login");
  await browser.close();
  const [page] = browser.pages;
  assert(page);
  assert.equal(page.status, 400);
  assert.match(page.text, /invalid_client/);
});

Deno.test("AuthorizationCodeGrant stops the exchange and its listener when the client closes", async () => {
  await using server = await startAuthServer();
  server.tokenDelay = 60_000;
  await using browser = new ScriptedBrowser();
  const client = codeClient(server, { openBrowser: browser.open });
  const token = client.getToken();
  while (server.tokenRequests.length === 0) await new Promise((r) => setTimeout(r, 5));
  const rejected = assert.rejects(token, /the token request was aborted/);
  await client.close();
  await rejected;
  await browser.close();
  assert.equal(browser.pages[0]?.status, 400);
  const redirectUri = paramsOf(browser.opened[0]).get("redirect_uri")!;
  assert(isFree(Number(new URL(redirectUri).port)));
});

Deno.test("AuthorizationCodeGrant() checks its options and inspects plainly", () => {
  assert.throws(() => new AuthorizationCodeGrant({ loginTimeout: -1 }), RangeError);
  assert.throws(
    () => new AuthorizationCodeGrant({ authorizationEndpoint: "ftp://x" }),
    /Cannot create the AuthorizationCodeGrant: "authorizationEndpoint" must use https:/,
  );
  const grant = new AuthorizationCodeGrant({ loginTimeout: 1000 });
  assert.equal(grant.name, "authorization_code");
  assert(grant.timeout > 1000);
  assert.equal(
    Deno.inspect(grant),
    'AuthorizationCodeGrant { name: "authorization_code", timeout: 61000 }',
  );
});

Deno.test("AuthorizationCodeGrant renews early in the background with its refresh token", async () => {
  const clock = new ManualClock();
  await using server = await startAuthServer({ expiresIn: 3600, now: clock.now });
  await using browser = new ScriptedBrowser();
  const renewed = Promise.withResolvers<void>();
  await using client = codeClient(server, { openBrowser: browser.open }, {
    now: clock.now,
    onEvent: (event) => {
      if (event.type === "token" && event.reason === "expiring") renewed.resolve();
    },
  });
  await fetchText(client.fetch, server.resourceUrl);
  clock.advance(3600_000 - 1_000);
  await fetchText(client.fetch, server.resourceUrl);
  await renewed.promise;
  assert.equal(browser.opened.length, 1);
  assert.deepEqual(server.tokenRequests.map((r) => r.form.get("grant_type")), [
    "authorization_code",
    "refresh_token",
  ]);
});

Deno.test("AuthorizationCodeGrant does not open the browser for a background renewal whose refresh token is dead", async () => {
  const clock = new ManualClock();
  await using server = await startAuthServer({ expiresIn: 3600, now: clock.now });
  await using browser = new ScriptedBrowser();
  const failed = Promise.withResolvers<void>();
  await using client = codeClient(server, { openBrowser: browser.open }, {
    now: clock.now,
    onEvent: (event) => {
      if (event.type === "error" && event.phase === "renewal") failed.resolve();
    },
  });
  await fetchText(client.fetch, server.resourceUrl);
  server.revokeRefreshTokens();
  clock.advance(3600_000 - 1_000); // inside the renewal window: a background refresh
  assert.equal((await fetchText(client.fetch, server.resourceUrl)).status, 200);
  await failed.promise; // invalid_grant, reported
  assert.equal(browser.opened.length, 1);
  clock.advance(1_000); // expired: now the login happens
  assert.equal((await fetchText(client.fetch, server.resourceUrl)).status, 200);
  assert.equal(browser.opened.length, 2);
});

Deno.test("AuthorizationCodeGrant.obtain() returns the token while another connection withholds a body", async () => {
  await using server = await startAuthServer();
  await using browser = new ScriptedBrowser();
  const held: HeldRequest[] = [];
  await using client = codeClient(server, {
    openBrowser: async (url) => {
      const port = Number(new URL(paramsOf(url).get("redirect_uri")!).port);
      // A local program starts posting to the listener and never finishes.
      held.push(await holdBody(port), await holdBody(port, "GET"));
      await browser.open(url);
    },
  });
  try {
    const token = await guarded(client.getToken(), "getToken()");
    assert.equal(token.accessToken, server.issuedTokens[0]);
    const redirectUri = paramsOf(browser.opened[0]).get("redirect_uri")!;
    assert(isFree(Number(new URL(redirectUri).port)), "the login's listener is closed");
    assert.equal(await guarded(held[0]!.status(), "the held answer"), 503);
  } finally {
    for (const request of held) request.conn.close();
  }
});

Deno.test("AuthorizationCodeGrant.obtain() honours the longest loginTimeout a timer holds", async () => {
  await using server = await startAuthServer();
  await using browser = new ScriptedBrowser();
  await using client = codeClient(server, { openBrowser: browser.open, loginTimeout: 2 ** 31 - 1 });
  const token = await guarded(client.getToken(), "getToken()");
  assert.equal(token.accessToken, server.issuedTokens[0]);
});

// Issue 11, points 1 and 2: a login's refresh token outlives its access tokens.

Deno.test("AuthorizationCodeGrant keeps the login through a 401 and a failed refresh: the next process refreshes without the browser", async () => {
  await using server = await startAuthServer();
  await using browser = new ScriptedBrowser();
  using kv = await Deno.openKv(":memory:"); // as `alf --login --kv`
  {
    await using first = codeClient(server, { openBrowser: browser.open }, {
      storage: new KvTokenStorage(kv),
    });
    assert.equal((await fetchText(first.fetch, server.resourceUrl)).status, 200);
    server.revoke(); // the access token is revoked: the resource answers 401
    server.failTokenRequests(1, { status: 503 }); // and the refresh gets one 503
    assert.equal((await fetchText(first.fetch, server.resourceUrl)).status, 503);
  }
  await using next = codeClient(server, { openBrowser: browser.open }, {
    storage: new KvTokenStorage(kv),
  });
  assert.equal((await fetchText(next.fetch, server.resourceUrl)).status, 200);
  assert.equal(browser.opened.length, 1, "the refresh token was kept: no second login");
  assert.deepEqual(server.tokenRequests.map((r) => r.form.get("grant_type")), [
    "authorization_code",
    "refresh_token", // the 503
    "refresh_token",
  ]);
  assert.equal(server.tokenRequests[2]?.form.get("refresh_token"), server.issuedRefreshTokens[0]);
});

Deno.test("AuthorizationCodeGrant shares one login between two resources while the server rotates its refresh token", async () => {
  await using server = await startAuthServer({ rotateRefreshTokens: true });
  await using browser = new ScriptedBrowser();
  const storage = new MemoryTokenStorage();
  const resource = (name: string) =>
    codeClient(server, { openBrowser: browser.open }, {
      storage,
      tokenParams: { resource: server.url(`/resource/${name}`) }, // RFC 8707
    });
  await using a = resource("a");
  await using b = resource("b");
  const [atA, atB] = [server.url("/resource/a"), server.url("/resource/b")];
  assert.equal((await fetchText(a.fetch, atA)).status, 200); // the login: rt0
  assert.equal((await fetchText(b.fetch, atB)).status, 200); // rt0 → rt1
  server.revoke();
  assert.equal((await fetchText(a.fetch, atA)).status, 200); // rt1 → rt2
  assert.equal((await fetchText(b.fetch, atB)).status, 200); // rt2 → rt3
  assert.equal(browser.opened.length, 1);
  const refreshes = server.tokenRequests.filter((r) =>
    r.form.get("grant_type") === "refresh_token"
  );
  assert.deepEqual(
    refreshes.map((r) => r.form.get("refresh_token")),
    server.issuedRefreshTokens.slice(0, 3),
    "each refresh presents the latest refresh token",
  );
  assert.deepEqual(
    refreshes.map((r) => r.form.get("resource")),
    [atB, atA, atB],
  );
});

// Issue 11 review (D4): a login serves the clients whose scope it covers, and no other.

/** The scope each authorization request asked for. */
function askedScopes(server: AuthServer): (string | null)[] {
  return server.authorizationRequests.map((r) => new URL(r.url).searchParams.get("scope"));
}

Deno.test("AuthorizationCodeGrant refreshes a shared login for a client whose scope it covers, narrowed to that scope", async () => {
  await using server = await startAuthServer();
  await using browser = new ScriptedBrowser();
  const storage = new MemoryTokenStorage();
  const client = (scope: string) =>
    codeClient(server, { openBrowser: browser.open }, { storage, scope });
  await using wide = client("read write");
  await using narrow = client("read");
  assert.equal((await wide.getToken()).scope, "read write");
  assert.equal((await narrow.getToken()).scope, "read");
  assert.equal(browser.opened.length, 1);
  assert.deepEqual(
    server.tokenRequests.map((r) => [r.form.get("grant_type"), r.form.get("scope")]),
    [["authorization_code", null], ["refresh_token", "read"]], // RFC 6749 §6: narrowing
  );
});

Deno.test("AuthorizationCodeGrant logs in anew, for both scopes, when the login does not cover a client's scope", async () => {
  await using server = await startAuthServer();
  await using browser = new ScriptedBrowser();
  const storage = new MemoryTokenStorage();
  const client = (scope: string) =>
    codeClient(server, { openBrowser: browser.open }, { storage, scope });
  await using reader = client("read");
  await using admin = client("admin");
  assert.equal((await reader.getToken()).scope, "read");
  const token = await admin.getToken();
  assert.equal(browser.opened.length, 2, "admin was never authorized: a new login");
  assert.deepEqual(askedScopes(server), ["read", "read admin"]);
  assert.equal(token.scope, "read admin");
  assert.equal(server.tokenRequests.at(-1)?.form.get("grant_type"), "authorization_code");
  // The new login covers both clients: the reader refreshes with its own scope, no browser.
  server.revoke();
  assert.equal((await fetchText(reader.fetch, server.resourceUrl)).status, 200);
  assert.equal(browser.opened.length, 2);
  const refresh = server.tokenRequests.at(-1);
  assert.deepEqual([refresh?.form.get("grant_type"), refresh?.form.get("scope")], [
    "refresh_token",
    "read",
  ]);
  assert.equal(refresh?.form.get("refresh_token"), server.issuedRefreshTokens[1]);
});

Deno.test("new AuthorizationCodeGrant() refuses a misspelled option, naming the one meant", () => {
  const options = {
    authorizationEndpont: "https://auth.example/authorize",
    portRange: [0, 0] as PortRange,
  };
  assert.throws(
    () => new AuthorizationCodeGrant(options as AuthorizationCodeGrantOptions),
    new TypeError(
      'Cannot create the AuthorizationCodeGrant: unknown option "authorizationEndpont"; did you mean "authorizationEndpoint"?',
    ),
  );
});
