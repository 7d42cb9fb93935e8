import assert from "node:assert/strict";
import {
  Client,
  type ClientOptions,
  ImplicitGrant,
  type ImplicitGrantOptions,
  MemoryTokenStorage,
  type PortRange,
  TokenError,
} from "../../mod.ts";
import { type AuthServer, ScriptedBrowser, startAuthServer } from "../../testing.ts";
import { browserClient, holdPorts, isFree, NoBrowser, paramsOf } from "../_browser_login.ts";
import { fetchText, ManualClock } from "../_helpers.ts";

/** A public client of `server` that logs in with the implicit grant. */
function implicitClient(
  server: AuthServer,
  grant: ImplicitGrantOptions,
  options: Partial<ClientOptions> = {},
): Client {
  return browserClient(server, ImplicitGrant, grant, options);
}

/** A route that redirects like an authorization endpoint, with `answer` in the fragment. */
function redirectWith(server: AuthServer, answer: Record<string, string>): string {
  server.route("/scripted-authorize", (request) => {
    const query = new URL(request.url).searchParams;
    const target = new URL(query.get("redirect_uri")!);
    target.hash = new URLSearchParams({ ...answer, state: query.get("state")! }).toString();
    return Response.redirect(target, 302);
  });
  return server.url("/scripted-authorize");
}

Deno.test("ImplicitGrant.obtain() sends the authorization request of RFC 6749 §4.2.1", async () => {
  await using server = await startAuthServer();
  await using browser = new ScriptedBrowser();
  await using client = implicitClient(server, { openBrowser: browser.open }, {
    scope: ["read", "write"],
    tokenParams: { audience: "https://api.example.com" },
  });
  assert.equal((await fetchText(client.fetch, server.resourceUrl)).status, 200);
  server.revoke();
  assert.equal((await fetchText(client.fetch, server.resourceUrl)).status, 200);

  const [first, second] = browser.opened.map(paramsOf);
  assert(first && second);
  assert.deepEqual([...first.keys()], [
    "response_type",
    "client_id",
    "redirect_uri",
    "audience",
    "scope",
    "state",
  ]);
  assert.equal(first.get("response_type"), "token");
  assert.equal(first.get("client_id"), "cli");
  assert.match(first.get("redirect_uri")!, /^http:\/\/127\.0\.0\.1:\d+\/callback$/);
  assert.equal(first.get("scope"), "read write");
  assert.equal(first.get("audience"), "https://api.example.com");
  assert.match(first.get("state")!, /^[A-Za-z0-9_-]{43}$/);
  assert.notEqual(first.get("state"), second.get("state"));
  assert.equal(server.tokenRequests.length, 0, "the implicit grant never calls the token endpoint");
  assert.deepEqual(server.resourceRequests.map((r) => r.token), [
    server.issuedTokens[0],
    server.issuedTokens[0],
    server.issuedTokens[1],
  ]);
});

Deno.test("ImplicitGrant.obtain() uses expires_in, token_type and scope from the redirect", async () => {
  const clock = new ManualClock();
  await using server = await startAuthServer({ expiresIn: 120, now: clock.now });
  await using browser = new ScriptedBrowser();
  await using client = implicitClient(server, { openBrowser: browser.open }, {
    scope: "read",
    now: clock.now,
  });
  const token = await client.getToken();
  assert.deepEqual(token, {
    accessToken: server.issuedTokens[0],
    tokenType: "Bearer",
    issuedAt: clock.time,
    expiresAt: clock.time + 120_000,
    scope: "read",
  });
  clock.advance(119_999);
  assert.equal((await client.getToken()).accessToken, server.issuedTokens[0]);
  clock.advance(1);
  assert.equal((await client.getToken()).accessToken, server.issuedTokens[1]);
  assert.equal(browser.opened.length, 2);
});

Deno.test("ImplicitGrant.obtain() reads a redirect like a token response", async () => {
  await using server = await startAuthServer();
  await using browser = new ScriptedBrowser();
  const authorizationEndpoint = redirectWith(server, {
    access_token: "tok",
    token_type: "bearer",
    expires_in: "60",
    custom: "x",
  });
  await using client = implicitClient(server, { authorizationEndpoint, openBrowser: browser.open });
  const token = await client.getToken();
  assert.equal(token.tokenType, "Bearer");
  assert.equal(token.expiresAt! - token.issuedAt, 60_000);
  assert.deepEqual(token.extra, { custom: "x" });
});

Deno.test("ImplicitGrant.obtain() rejects a redirect whose token cannot be used", async () => {
  for (
    const [answer, message] of [
      [{ access_token: "tok", token_type: "mac" }, /token type "mac" is not supported/],
      [{ token_type: "Bearer" }, /"access_token" is missing/],
      [{ access_token: "tok", expires_in: "soon" }, /"expires_in" is not a number/],
    ] as const
  ) {
    await using server = await startAuthServer();
    await using browser = new ScriptedBrowser();
    const authorizationEndpoint = redirectWith(server, answer);
    await using client = implicitClient(server, {
      authorizationEndpoint,
      openBrowser: browser.open,
    });
    await assert.rejects(client.getToken(), (error: TokenError) => {
      assert(error instanceof TokenError);
      assert.match(error.message, message);
      assert.equal(error.status, undefined);
      return true;
    });
    await browser.close();
    const [page] = browser.pages;
    assert(page);
    assert.equal(page.status, 400);
    assert.match(page.text, message);
  }
});

Deno.test("ImplicitGrant ignores a redirect with a wrong state and completes with the right one", async () => {
  await using server = await startAuthServer();
  server.answerWithWrongState(1);
  await using browser = new ScriptedBrowser();
  await using client = implicitClient(server, {
    openBrowser: async (url) => {
      await browser.open(url);
      await browser.open(url);
    },
  });
  const { status } = await fetchText(client.fetch, server.resourceUrl);
  assert.equal(status, 200);
  await browser.close();
  assert.deepEqual(browser.pages.map((page) => page.status), [400, 200]);
  const [refused, completed] = browser.pages;
  assert(refused && completed);
  assert.match(refused.text, /state does not match/);
  assert.equal(completed.text, "Login complete, you can close this tab");
  assert.equal(server.issuedTokens.length, 2);
  const [request] = server.resourceRequests;
  assert(request);
  assert.equal(request.token, server.issuedTokens[1]);
});

Deno.test("ImplicitGrant keeps waiting after a wrong state until the login timeout", async () => {
  await using server = await startAuthServer();
  server.answerWithWrongState(1);
  await using browser = new ScriptedBrowser();
  await using client = implicitClient(server, { openBrowser: browser.open, loginTimeout: 300 });
  await assert.rejects(client.getToken(), /did not come back to .* within 300 ms/);
  await browser.close();
  assert.deepEqual(browser.pages.map((page) => page.status), [400]);
  assert.equal(server.resourceRequests.length, 0);
});

Deno.test("ImplicitGrant rejects with the error of an error redirect", async () => {
  await using server = await startAuthServer();
  server.failAuthorizations(1, { errorDescription: "The user said no" });
  server.failAuthorizations(1, { error: "temporarily_unavailable" });
  await using browser = new ScriptedBrowser();
  await using client = implicitClient(server, { openBrowser: browser.open });
  await assert.rejects(client.fetch(server.resourceUrl), (error: TokenError) => {
    assert(error instanceof TokenError);
    assert.equal(
      error.message,
      "Cannot log in: the authorization server answered access_denied: The user said no",
    );
    assert.equal(error.error, "access_denied");
    assert.equal(error.errorDescription, "The user said no");
    return true;
  });
  await assert.rejects(client.getToken(), {
    message: "Cannot log in: the authorization server answered temporarily_unavailable",
    error: "temporarily_unavailable",
  });
  await browser.close();
  const [page] = browser.pages;
  assert(page);
  assert.equal(page.status, 400);
  assert.match(page.text, /answered access_denied: The user said no/);
  assert.equal(server.resourceRequests.length, 0);
  assert.equal((await fetchText(client.fetch, server.resourceUrl)).status, 200);
});

Deno.test("ImplicitGrant ends the login after loginTimeout and frees its port", async () => {
  await using server = await startAuthServer();
  const browser = new NoBrowser();
  await using client = implicitClient(server, { openBrowser: browser.open, loginTimeout: 50 });
  await assert.rejects(client.getToken(), (error: TokenError) => {
    assert(error instanceof TokenError);
    assert.match(
      error.message,
      /^Cannot log in: the browser did not come back to http:\/\/127\.0\.0\.1:\d+\/callback within 50 ms$/,
    );
    return true;
  });
  assert(isFree(Number(new URL(paramsOf(browser.opened[0]).get("redirect_uri")!).port)));
});

Deno.test("ImplicitGrant stops the login and closes its listener when the client closes", async () => {
  await using server = await startAuthServer();
  const browser = new NoBrowser();
  const client = implicitClient(server, { openBrowser: browser.open });
  const request = client.fetch(server.resourceUrl);
  const redirectUri = paramsOf(await browser.nth(1)).get("redirect_uri")!;
  assert(!isFree(Number(new URL(redirectUri).port)));
  const rejected = assert.rejects(request, (error: TokenError) => {
    assert(error instanceof TokenError);
    assert.equal(error.message, "Cannot log in: the login was aborted");
    return true;
  });
  await client.close();
  await rejected;
  assert(isFree(Number(new URL(redirectUri).port)));
});

Deno.test("ImplicitGrant stops one caller on its signal while the login goes on for the others", async () => {
  await using server = await startAuthServer();
  const noBrowser = new NoBrowser();
  await using browser = new ScriptedBrowser();
  await using client = implicitClient(server, { openBrowser: noBrowser.open });
  const controller = new AbortController();
  const impatient = client.fetch(server.resourceUrl, { signal: controller.signal });
  const patient = client.fetch(server.resourceUrl);
  const url = await noBrowser.nth(1);
  controller.abort();
  await assert.rejects(impatient, { name: "AbortError" });
  await browser.open(url);
  const response = await patient;
  assert.equal(response.status, 200);
  await response.body?.cancel();
  assert.equal(noBrowser.opened.length, 1);
});

Deno.test("ImplicitGrant serves concurrent requests with one login", async () => {
  await using server = await startAuthServer();
  await using browser = new ScriptedBrowser();
  await using client = implicitClient(server, { openBrowser: browser.open });
  const results = await Promise.all(
    Array.from({ length: 10 }, () => fetchText(client.fetch, server.resourceUrl)),
  );
  assert(results.every((result) => result.status === 200));
  assert.equal(browser.opened.length, 1);
  assert.equal(server.issuedTokens.length, 1);
});

Deno.test("ImplicitGrant logs in again after a 401, and clients sharing a storage share the token", async () => {
  await using server = await startAuthServer();
  await using browser = new ScriptedBrowser();
  const storage = new MemoryTokenStorage();
  const grant = new ImplicitGrant({
    authorizationEndpoint: server.authorizationEndpoint,
    openBrowser: browser.open,
    portRange: [0, 0],
  });
  const options = { tokenEndpoint: server.tokenEndpoint, clientId: "cli", grant, storage };
  await using first = new Client(options);
  assert.equal((await fetchText(first.fetch, server.resourceUrl)).status, 200);
  await using second = new Client(options);
  assert.equal((await fetchText(second.fetch, server.resourceUrl)).status, 200);
  assert.equal(browser.opened.length, 1);

  server.revoke();
  assert.equal((await fetchText(second.fetch, server.resourceUrl)).status, 200);
  assert.equal((await fetchText(first.fetch, server.resourceUrl)).status, 200);
  assert.equal(browser.opened.length, 2);
  assert.deepEqual(server.resourceRequests.map((r) => r.token), [
    server.issuedTokens[0],
    server.issuedTokens[0],
    server.issuedTokens[0],
    server.issuedTokens[1],
    server.issuedTokens[0], // rejected: the replay takes the stored replacement
    server.issuedTokens[1],
  ]);
});

Deno.test("ImplicitGrant rejects when the browser cannot be opened", async () => {
  await using server = await startAuthServer();
  const launchers = [
    () => {
      throw new Error("no display");
    },
    () => Promise.reject(new Error("no display")),
  ];
  for (const openBrowser of launchers) {
    await using client = implicitClient(server, { openBrowser });
    await assert.rejects(client.getToken(), (error: TokenError) => {
      assert(error instanceof TokenError);
      assert.equal(error.message, "Cannot log in: the browser could not be opened: no display");
      assert.equal((error.cause as Error).message, "no display");
      return true;
    });
  }
});

Deno.test("ImplicitGrant listens on the first free port and names the range when none is free", async () => {
  await using server = await startAuthServer();
  await using browser = new ScriptedBrowser();
  {
    using held = holdPorts(3, 2);
    await using client = implicitClient(server, {
      openBrowser: browser.open,
      portRange: held.range,
    });
    await client.getToken();
    assert.equal(
      paramsOf(browser.opened[0]).get("redirect_uri"),
      `http://127.0.0.1:${held.range[0] + 2}/callback`,
    );
  }
  {
    using held = holdPorts(2, 2);
    await using client = implicitClient(server, {
      openBrowser: browser.open,
      portRange: held.range,
    }, { storage: new MemoryTokenStorage() }); // not the first client's token
    await assert.rejects(client.getToken(), (error: TokenError) => {
      assert(error instanceof TokenError);
      assert.equal(
        error.message,
        `Cannot listen for the browser login: every port from ${held.range[0]} to ${
          held.range[1]
        } on 127.0.0.1 is in use`,
      );
      assert(error.cause instanceof Deno.errors.AddrInUse);
      return true;
    });
    assert.equal(browser.opened.length, 1);
  }
});

Deno.test("ImplicitGrant derives the authorization endpoint from the token endpoint", async () => {
  await using server = await startAuthServer();
  await using browser = new ScriptedBrowser();
  await using client = new Client({
    tokenEndpoint: `${server.tokenEndpoint}//`,
    clientId: "cli",
    grant: new ImplicitGrant({ openBrowser: browser.open, portRange: [0, 0] }),
  });
  await client.getToken();
  assert(browser.opened[0]?.startsWith(`${server.tokenEndpoint}/authorize?`));

  await using kept = implicitClient(server, {
    authorizationEndpoint: `${server.authorizationEndpoint}?tenant=t1`,
    openBrowser: browser.open,
  });
  await kept.getToken();
  assert.equal(paramsOf(browser.opened[1]).get("tenant"), "t1");
  assert.equal(paramsOf(browser.opened[1]).get("response_type"), "token");
});

Deno.test("ImplicitGrant() rejects malformed options", () => {
  const cases: [unknown, ErrorConstructor | RangeErrorConstructor, RegExp][] = [
    [null, TypeError, /options must be an object/],
    [
      { authorizationEndpoint: "not a url" },
      TypeError,
      /"authorizationEndpoint" is not a valid URL/,
    ],
    [{ authorizationEndpoint: "http://auth.example.com/a" }, TypeError, /must use https:/],
    [{ openBrowser: "firefox" }, TypeError, /"openBrowser" must be a function/],
    [{ loginTimeout: 0 }, RangeError, /"loginTimeout" must be a finite number/],
    [{ loginTimeout: Infinity }, RangeError, /"loginTimeout"/],
    [{ portRange: [3, 2] }, RangeError, /Cannot create the ImplicitGrant: the port range/],
  ];
  for (const [options, type, message] of cases) {
    assert.throws(
      () => new ImplicitGrant(options as ImplicitGrantOptions),
      (error: Error) => error instanceof type && message.test(error.message),
      String(message),
    );
  }
  assert.doesNotThrow(() => new ImplicitGrant({ authorizationEndpoint: "http://[::1]:9/a" }));
});

Deno.test("ImplicitGrant sizes the storage lease beyond its login timeout, and inspects plainly", () => {
  const grant = new ImplicitGrant({ loginTimeout: 1000 });
  assert.equal(grant.name, "implicit");
  assert(grant.timeout > 1000);
  assert.equal(new ImplicitGrant().timeout > 5 * 60_000, true);
  assert.equal(Deno.inspect(grant), 'ImplicitGrant { name: "implicit", timeout: 61000 }');
});

Deno.test("ImplicitGrant tokens are not renewed early: no login opens before expiry", async () => {
  const clock = new ManualClock();
  await using server = await startAuthServer({ expiresIn: 3600, now: clock.now });
  await using browser = new ScriptedBrowser();
  await using client = implicitClient(server, { openBrowser: browser.open }, { now: clock.now });
  await fetchText(client.fetch, server.resourceUrl);
  clock.advance(3600_000 - 1_000); // inside the 60 s renewal window
  assert.equal((await fetchText(client.fetch, server.resourceUrl)).status, 200);
  await fetchText(client.fetch, server.resourceUrl);
  assert.equal(browser.opened.length, 1);
  clock.advance(1_000); // expired: now a login is needed
  assert.equal((await fetchText(client.fetch, server.resourceUrl)).status, 200);
  assert.equal(browser.opened.length, 2);
});

Deno.test("new ImplicitGrant() refuses a misspelled option, naming the one meant", () => {
  const options = { openBrowsr: () => {}, portRange: [0, 0] as PortRange };
  assert.throws(
    () => new ImplicitGrant(options as ImplicitGrantOptions),
    new TypeError(
      'Cannot create the ImplicitGrant: unknown option "openBrowsr"; did you mean "openBrowser"?',
    ),
  );
});
