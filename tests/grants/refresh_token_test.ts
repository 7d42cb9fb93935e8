import assert from "node:assert/strict";
import {
  AuthorizationCodeGrant,
  Client,
  type Grant,
  type GrantContext,
  MemoryTokenStorage,
  RefreshTokenGrant,
  type RefreshTokenGrantOptions,
  type Token,
  TokenError,
} from "../../mod.ts";
import { type LoginChannel, withLoginChannel } from "../../src/_grant_token.ts";
import { TokenEndpoint } from "../../src/token_endpoint.ts";
import { type AuthServer, ScriptedBrowser, startAuthServer } from "../../testing.ts";
import { browserClient } from "../_browser_login.ts";
import { fetchText, ManualClock, serve } from "../_helpers.ts";

/** A refresh token of `server`, from one scripted login. */
async function refreshTokenOf(server: AuthServer): Promise<string> {
  await using browser = new ScriptedBrowser();
  await using client = browserClient(server, AuthorizationCodeGrant, { openBrowser: browser.open });
  const { refreshToken } = await client.getToken();
  if (refreshToken === undefined) {
    throw new Error("Cannot log in: the server issued no refresh token");
  }
  return refreshToken;
}

/** A fallback grant that records what it was given. */
function recordingGrant(): Grant & { previous: (Token | undefined)[] } {
  const previous: (Token | undefined)[] = [];
  return {
    name: "recorded",
    timeout: 1234,
    previous,
    obtain(context: GrantContext) {
      previous.push(context.previous);
      return Promise.resolve({
        token: { accessToken: "fallback", tokenType: "Bearer", issuedAt: context.endpoint.now() },
      });
    },
  };
}

Deno.test("RefreshTokenGrant.obtain() starts from the given refresh token and keeps it, without the client's scope", async () => {
  await using server = await startAuthServer();
  const refreshToken = await refreshTokenOf(server);
  await using client = new Client({
    tokenEndpoint: server.tokenEndpoint,
    clientId: "cli",
    scope: "read",
    grant: new RefreshTokenGrant({ refreshToken }),
  });
  const token = await client.getToken();
  assert.equal(token.accessToken, server.issuedTokens[1]);
  assert.equal(token.refreshToken, refreshToken);
  const request = server.tokenRequests[1];
  assert.ok(request, "a token request after the login's");
  // No scope: what the user granted may be less than what the client asks for (RFC 6749 §6).
  assert.deepEqual([...request.form], [
    ["grant_type", "refresh_token"],
    ["refresh_token", refreshToken],
    ["client_id", "cli"],
  ]);
});

/**
 * A token endpoint where the user consented to `read` out of the `read write`
 * the client asked for (RFC 6749 §3.3): a refresh that asks for more than was
 * granted is answered `invalid_scope`, as RFC 6749 §6 requires.
 */
function grantedReadOnly() {
  const forms: URLSearchParams[] = [];
  const endpoint = serve(async (request) => {
    const form = new URLSearchParams(await request.text());
    forms.push(form);
    const asked = form.get("scope")?.split(" ") ?? [];
    if (asked.some((scope) => scope !== "read")) {
      return Response.json({ error: "invalid_scope" }, { status: 400 });
    }
    return Response.json({ access_token: `at-${forms.length}`, expires_in: 60, scope: "read" });
  });
  return Object.assign(endpoint, { forms, tokenEndpoint: `${endpoint.url}/token` });
}

Deno.test("RefreshTokenGrant.obtain() asks for no scope, so a user who granted less goes on refreshing", async () => {
  await using endpoint = grantedReadOnly();
  const clock = new ManualClock();
  await using client = new Client({
    tokenEndpoint: endpoint.tokenEndpoint,
    clientId: "cli",
    scope: "read write",
    now: clock.now,
    grant: new RefreshTokenGrant({ refreshToken: "rt" }),
  });
  for (let i = 1; i <= 3; i++) {
    const token = await client.getToken();
    assert.deepEqual([token.accessToken, token.scope], [`at-${i}`, "read"]);
    clock.advance(60_000);
  }
  assert.deepEqual(endpoint.forms.map((form) => form.get("scope")), [null, null, null]);
});

Deno.test("RefreshTokenGrant.obtain() narrows the scope when its scope option says so", async () => {
  await using endpoint = grantedReadOnly();
  await using client = new Client({
    tokenEndpoint: endpoint.tokenEndpoint,
    clientId: "cli",
    scope: "read write",
    grant: new RefreshTokenGrant({ refreshToken: "rt", scope: ["read"] }),
  });
  assert.equal((await client.getToken()).accessToken, "at-1");
  assert.deepEqual(endpoint.forms.map((form) => form.getAll("scope")), [["read"]]);
  for (const scope of ["", " ", [], [42]]) {
    assert.throws(
      () => new RefreshTokenGrant({ scope: scope as unknown as string[] }),
      TypeError,
      JSON.stringify(scope),
    );
  }
});

Deno.test("RefreshTokenGrant.obtain() prefers the previous token's refresh token", async () => {
  const clock = new ManualClock();
  await using server = await startAuthServer({
    expiresIn: 60,
    now: clock.now,
    rotateRefreshTokens: true,
  });
  const first = await refreshTokenOf(server);
  await using client = new Client({
    tokenEndpoint: server.tokenEndpoint,
    clientId: "cli",
    now: clock.now,
    grant: new RefreshTokenGrant({ refreshToken: first }),
  });
  assert.equal((await client.getToken()).refreshToken, server.issuedRefreshTokens[1]);
  clock.advance(60_000);
  assert.equal((await client.getToken()).refreshToken, server.issuedRefreshTokens[2]);
  assert.deepEqual(
    server.tokenRequests.slice(1).map((r) => r.form.get("refresh_token")),
    server.issuedRefreshTokens.slice(0, 2),
  );
});

Deno.test("RefreshTokenGrant.obtain() rejects when there is no refresh token and no fallback", async () => {
  await using server = await startAuthServer();
  await using client = new Client({
    tokenEndpoint: server.tokenEndpoint,
    clientId: "cli",
    grant: new RefreshTokenGrant(),
  });
  await assert.rejects(
    client.fetch(server.resourceUrl),
    new TokenError("Cannot refresh the token: there is no refresh token"),
  );
  assert.equal(server.tokenRequests.length, 0);
});

Deno.test("RefreshTokenGrant.obtain() returns invalid_grant when it has no fallback", async () => {
  await using server = await startAuthServer();
  const refreshToken = await refreshTokenOf(server);
  server.revokeRefreshTokens();
  await using client = new Client({
    tokenEndpoint: server.tokenEndpoint,
    clientId: "cli",
    grant: new RefreshTokenGrant({ refreshToken }),
  });
  const { status, text } = await fetchText(client.fetch, server.resourceUrl);
  assert.equal(status, 400);
  assert.equal(JSON.parse(text).error, "invalid_grant");
});

Deno.test("RefreshTokenGrant.obtain() hands over to its fallback without a refresh token and after invalid_grant", async () => {
  await using server = await startAuthServer();
  const refreshToken = await refreshTokenOf(server);
  const fallback = recordingGrant();
  await using fresh = new Client({
    tokenEndpoint: server.tokenEndpoint,
    clientId: "cli",
    grant: new RefreshTokenGrant({ fallback }),
  });
  assert.equal((await fresh.getToken()).accessToken, "fallback");

  server.revokeRefreshTokens();
  await using revoked = new Client({
    tokenEndpoint: server.tokenEndpoint,
    clientId: "cli",
    grant: new RefreshTokenGrant({ refreshToken, fallback }),
  });
  assert.equal((await revoked.getToken()).accessToken, "fallback");
  assert.deepEqual(fallback.previous, [undefined, undefined]);
  assert.equal(server.tokenRequests.at(-1)?.form.get("grant_type"), "refresh_token");

  server.failTokenRequests(1, {
    status: 400,
    body: JSON.stringify({ error: "invalid_request" }),
  });
  await using other = new Client({
    tokenEndpoint: server.tokenEndpoint,
    clientId: "cli",
    grant: new RefreshTokenGrant({ refreshToken, fallback }),
  });
  const { status } = await fetchText(other.fetch, server.resourceUrl);
  assert.equal(status, 400, "only invalid_grant falls back");
  assert.equal(fallback.previous.length, 2);
});

Deno.test("RefreshTokenGrant() takes its name and timeout from the fallback, and checks its options", () => {
  assert.equal(new RefreshTokenGrant().name, "refresh_token");
  assert.equal(new RefreshTokenGrant().timeout, undefined);
  const withFallback = new RefreshTokenGrant({ fallback: recordingGrant() });
  assert.equal(withFallback.name, "recorded");
  assert.equal(withFallback.timeout, 1234);
  for (
    const options of [
      null,
      { refreshToken: "" },
      { refreshToken: 42 },
      { fallback: {} },
      { fallback: { name: "x" } },
    ]
  ) {
    assert.throws(
      () => new RefreshTokenGrant(options as RefreshTokenGrantOptions),
      TypeError,
      JSON.stringify(options),
    );
  }
});

Deno.test("RefreshTokenGrant never shows its refresh token", () => {
  const grant = new RefreshTokenGrant({ refreshToken: "rt-secret", fallback: recordingGrant() });
  assert.equal(Deno.inspect(grant), 'RefreshTokenGrant { name: "recorded", fallback: "recorded" }');
  assert.doesNotMatch(JSON.stringify(grant), /rt-secret/);
});

Deno.test("RefreshTokenGrant tokens of two users never mix in one storage", async () => {
  // A token endpoint that names each token after the refresh token it was issued for.
  await using endpoint = serve(async (req) => {
    const form = new URLSearchParams(await req.text());
    return Response.json({ access_token: `for-${form.get("refresh_token")}`, expires_in: 60 });
  });
  const storage = new MemoryTokenStorage();
  const client = (refreshToken: string) =>
    new Client({
      tokenEndpoint: `${endpoint.url}/token`,
      clientId: "shared-client",
      storage,
      grant: new RefreshTokenGrant({ refreshToken }),
    });
  await using alice = client("alice-rt");
  await using bob = client("bob-rt");
  assert.equal((await alice.getToken()).accessToken, "for-alice-rt");
  assert.equal((await bob.getToken()).accessToken, "for-bob-rt");
  assert.equal(storage.size, 4, "an access record and a login record each");
});

/** A token endpoint whose tokens have the scope asked for, else `granted`; it records the forms. */
function scopedEndpoint(granted: string) {
  const forms: URLSearchParams[] = [];
  const endpoint = serve(async (request) => {
    const form = new URLSearchParams(await request.text());
    forms.push(form);
    const scope = form.get("scope") ?? granted;
    return Response.json({ access_token: `at-${forms.length}`, expires_in: 3600, scope });
  });
  return Object.assign(endpoint, { forms, tokenEndpoint: `${endpoint.url}/token` });
}

Deno.test("RefreshTokenGrant.obtain() refreshes a shared login with a client's narrower scope, and keeps the login's", async () => {
  await using endpoint = scopedEndpoint("read write");
  const clock = new ManualClock();
  const storage = new MemoryTokenStorage();
  const client = (scope: string) =>
    new Client({
      tokenEndpoint: endpoint.tokenEndpoint,
      clientId: "cli",
      scope,
      storage,
      now: clock.now,
      grant: new RefreshTokenGrant({ refreshToken: "rt" }),
    });
  await using wide = client("read write");
  await using narrow = client("read");
  assert.equal((await wide.getToken()).scope, "read write");
  assert.equal((await narrow.getToken()).scope, "read"); // RFC 6749 §6: narrowed
  clock.advance(3600_000);
  assert.equal((await wide.getToken()).scope, "read write"); // the login still covers it
  assert.deepEqual(endpoint.forms.map((form) => form.get("scope")), [null, "read", null]);
});

Deno.test("RefreshTokenGrant.obtain() without a fallback refuses a shared login that does not cover the client's scope", async () => {
  await using endpoint = scopedEndpoint("read");
  const storage = new MemoryTokenStorage();
  const client = (scope: string) =>
    new Client({
      tokenEndpoint: endpoint.tokenEndpoint,
      clientId: "cli",
      scope,
      storage,
      grant: new RefreshTokenGrant({ refreshToken: "rt" }),
    });
  await using reader = client("read");
  await using admin = client("admin");
  assert.equal((await reader.getToken()).scope, "read");
  await assert.rejects(
    admin.getToken(),
    new TokenError('Cannot refresh the token: the login does not cover the scope "admin"'),
  );
  assert.equal(endpoint.forms.length, 1, "no refresh for a scope nobody authorized");
});

/** A grant context with the login channel the token provider gives, and what the grant told it. */
function channelContext(url: string, channel: Partial<LoginChannel> = {}) {
  const told = { latest: [] as string[], refreshed: [] as (string | undefined)[] };
  const endpoint = new TokenEndpoint({
    url: new URL(`${url}/token`),
    clientId: "cli",
    clientAuth: "none",
    fetch,
    now: Date.now,
    timeout: 5_000,
  });
  const context = withLoginChannel({
    endpoint,
    params: new URLSearchParams({ scope: "read write" }),
    previous: { accessToken: "at-0", tokenType: "Bearer", issuedAt: 0, refreshToken: "rt-1" },
    signal: new AbortController().signal,
  }, {
    latest: (refused) => (told.latest.push(refused), Promise.resolve(undefined)),
    refreshed: (scope) => told.refreshed.push(scope),
    ...channel,
  });
  return { context, told };
}

/** A token endpoint that refuses every refresh token but `live`. */
function refusingEndpoint(live: string) {
  const presented: (string | null)[] = [];
  const scopes: (string | null)[] = [];
  const endpoint = serve(async (request) => {
    const form = new URLSearchParams(await request.text());
    presented.push(form.get("refresh_token"));
    scopes.push(form.get("scope"));
    if (form.get("refresh_token") !== live) {
      return Response.json({ error: "invalid_grant" }, { status: 400 });
    }
    return Response.json({ access_token: "at-new", expires_in: 60 });
  });
  return Object.assign(endpoint, { presented, scopes });
}

Deno.test("RefreshTokenGrant.obtain() tries once the refresh token another client rotated, before its fallback", async () => {
  await using endpoint = refusingEndpoint("rt-2");
  const fallback = recordingGrant();
  const { context, told } = channelContext(endpoint.url, {
    latest: (refused) => (told.latest.push(refused), Promise.resolve("rt-2")),
  });
  const result = await new RefreshTokenGrant({ fallback }).obtain(context);
  assert.ok("token" in result);
  assert.deepEqual([result.token.accessToken, result.token.refreshToken], ["at-new", "rt-2"]);
  assert.deepEqual(endpoint.presented, ["rt-1", "rt-2"]);
  assert.deepEqual(told, { latest: ["rt-1"], refreshed: [undefined] });
  assert.deepEqual(fallback.previous, [], "no login: the rotated token did");

  // Nothing newer: the fallback runs, without the refused refresh token.
  const again = channelContext(endpoint.url);
  const fellBack = await new RefreshTokenGrant({ fallback }).obtain(again.context);
  assert.ok("token" in fellBack && fellBack.token.accessToken === "fallback");
  assert.deepEqual(again.told, { latest: ["rt-1"], refreshed: [] });
  assert.deepEqual(fallback.previous, [undefined]);
});

Deno.test("RefreshTokenGrant.obtain() asks for the scope the token provider narrows to, unless its own", async () => {
  await using endpoint = refusingEndpoint("rt-1");
  const { context, told } = channelContext(endpoint.url, { refreshScope: "read" });
  assert.ok("token" in await new RefreshTokenGrant().obtain(context));
  assert.ok("token" in await new RefreshTokenGrant({ scope: "write" }).obtain(context));
  assert.deepEqual(endpoint.scopes, ["read", "write"]);
  assert.deepEqual(told.refreshed, ["read", "write"]);
});

Deno.test("RefreshTokenGrant.obtain() leaves a login that does not cover the client's scope to its fallback", async () => {
  await using endpoint = refusingEndpoint("rt-1");
  const fallback = recordingGrant();
  const { context } = channelContext(endpoint.url, { uncovered: "admin" });
  const result = await new RefreshTokenGrant({ refreshToken: "rt-1", fallback }).obtain(context);
  assert.ok("token" in result && result.token.accessToken === "fallback");
  await assert.rejects(
    new RefreshTokenGrant({ refreshToken: "rt-1" }).obtain(context),
    new TokenError('Cannot refresh the token: the login does not cover the scope "admin"'),
  );
  // In the background, a fallback that needs the user does not run.
  const login = { ...recordingGrant(), needsUser: () => true };
  await assert.rejects(
    new RefreshTokenGrant({ fallback: login }).obtain({ ...context, background: true }),
    TokenError,
  );
  assert.deepEqual(endpoint.presented, []);
  assert.deepEqual(login.previous, []);
});

Deno.test("new RefreshTokenGrant() refuses a misspelled option, naming the one meant", () => {
  assert.throws(
    () => new RefreshTokenGrant({ refresh_token: "rt" } as never),
    {
      name: "TypeError",
      message:
        /Cannot create the RefreshTokenGrant: unknown option "refresh_token"; did you mean "refreshToken"\?/,
    },
  );
});
