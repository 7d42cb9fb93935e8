// A Client given only an API's address (RFC 9728): metadata, discovery,
// dynamic registration (RFC 7591), resource indicators (RFC 8707), the
// browser login, and step-up, end to end against the stand-in server.

import assert from "node:assert/strict";
import {
  Client,
  type ClientOptions,
  DeviceCodeGrant,
  MemoryTokenStorage,
  TokenError,
  useAuthorizationCodeFlow,
} from "../mod.ts";
import { ScriptedBrowser, startAuthServer } from "../testing.ts";
import { ManualClock, serve } from "./_helpers.ts";

async function status(response: Response): Promise<number> {
  await response.body?.cancel();
  return response.status;
}

Deno.test("Client with only protectedResource: metadata, discovery, registration, login, token, in that order", async () => {
  await using server = await startAuthServer({
    protectedResource: { scopesSupported: ["mcp:read"] },
    registration: true,
  });
  await using browser = new ScriptedBrowser();
  await using flow = await useAuthorizationCodeFlow(new MemoryTokenStorage(), [0, 0], {
    openBrowser: browser.open,
  });
  await using client = new Client({ protectedResource: server.resourceUrl, clientName: "Tests" });
  assert.equal(await status(await client.fetch(server.resourceUrl)), 200);

  const paths = server.metadataRequests.map((request) => new URL(request.url).pathname);
  assert.deepEqual(paths, [
    "/.well-known/oauth-protected-resource/resource",
    "/.well-known/oauth-authorization-server",
  ]);
  const [registration] = server.registrations;
  const registered = JSON.parse(new TextDecoder().decode(registration!.body));
  assert.equal(registered.token_endpoint_auth_method, "none");
  assert.equal(registered.client_name, "Tests");
  assert.deepEqual(registered.grant_types, ["authorization_code", "refresh_token"]);
  assert.deepEqual(registered.redirect_uris, [flow.redirectUri], "the installed flow's listener");
  const [clientId] = server.registeredClients();
  // The browser login: the registered client, the resource and the resource's scope.
  const authorize = new URL(browser.opened[0]!);
  const pushed = server.pushedAuthorizationRequests[0]?.form ?? authorize.searchParams;
  assert.equal(pushed.get("client_id"), clientId);
  assert.equal(pushed.get("resource"), server.resourceUrl, "RFC 8707 on the authorization request");
  assert.equal(pushed.get("scope"), "mcp:read");
  const [exchange] = server.tokenRequests;
  assert.equal(exchange?.form.get("resource"), server.resourceUrl, "and on the token request");
  assert.deepEqual(server.audienceOf(server.issuedTokens[0]!), [server.resourceUrl]);
  assert.equal(flow.port > 0, true);
  // Requests: 2 metadata, 1 registration, 1 push (or none), 1 authorization, 1 token.
  assert.equal(server.registrations.length, 1);
  assert.equal(server.authorizationRequests.length, 1);
  assert.equal(server.tokenRequests.length, 1);
});

Deno.test("Client with protectedResource keeps its registration in the storage: a second client does not register", async () => {
  await using server = await startAuthServer({ protectedResource: {}, registration: true });
  await using browser = new ScriptedBrowser();
  const storage = new MemoryTokenStorage();
  await using _flow = await useAuthorizationCodeFlow(storage, [0, 0], {
    openBrowser: browser.open,
  });
  await using first = new Client({ protectedResource: server.resourceUrl });
  assert.equal(await status(await first.fetch(server.resourceUrl)), 200);
  // Another scope: a token of its own (from the login's refresh token), the same registration.
  await using second = new Client({ protectedResource: server.resourceUrl, scope: "other" });
  assert.equal(await status(await second.fetch(server.resourceUrl)), 200);
  assert.equal(server.registrations.length, 1, "never registered twice for one server");
  const [clientId] = server.registeredClients();
  const clients = server.tokenRequests.map((request) => request.form.get("client_id"));
  assert.deepEqual(clients, [clientId, clientId]);
});

Deno.test("Client with protectedResource registers once for concurrent first requests", async () => {
  await using server = await startAuthServer({ protectedResource: {}, registration: true });
  await using browser = new ScriptedBrowser();
  await using _flow = await useAuthorizationCodeFlow(new MemoryTokenStorage(), [0, 0], {
    openBrowser: browser.open,
  });
  await using client = new Client({ protectedResource: server.resourceUrl });
  const statuses = await Promise.all(
    Array.from({ length: 5 }, async () => await status(await client.fetch(server.resourceUrl))),
  );
  assert.deepEqual(statuses, [200, 200, 200, 200, 200]);
  assert.equal(server.registrations.length, 1);
  assert.equal(server.tokenRequests.length, 1);
});

Deno.test("Client with protectedResource registers anew when the server forgot its registration", async () => {
  await using server = await startAuthServer({ protectedResource: {}, registration: true });
  await using browser = new ScriptedBrowser();
  const clock = new ManualClock();
  await using _flow = await useAuthorizationCodeFlow(new MemoryTokenStorage(), [0, 0], {
    openBrowser: browser.open,
  });
  await using client = new Client({ protectedResource: server.resourceUrl, now: clock.now });
  assert.equal(await status(await client.fetch(server.resourceUrl)), 200);
  const [old] = server.registeredClients();
  server.forgetClient(old!);
  clock.advance(3_600_000); // the token expires; its refresh is refused: invalid_client
  const refused = await client.fetch(server.resourceUrl);
  assert.equal(refused.status, 401);
  assert.equal(TokenError.fromResponse(refused)?.error, "invalid_client");
  await refused.body?.cancel();
  assert.equal(await status(await client.fetch(server.resourceUrl)), 200, "registered again");
  assert.equal(server.registrations.length, 2);
  assert.notEqual(server.registeredClients().at(-1), old);
});

Deno.test("Client with protectedResource and a clientId does not register", async () => {
  await using server = await startAuthServer({
    protectedResource: {},
    registration: true,
    clientId: "known",
  });
  await using browser = new ScriptedBrowser();
  await using _flow = await useAuthorizationCodeFlow(new MemoryTokenStorage(), [0, 0], {
    openBrowser: browser.open,
  });
  await using client = new Client({ protectedResource: server.resourceUrl, clientId: "known" });
  assert.equal(await status(await client.fetch(server.resourceUrl)), 200);
  assert.equal(server.registrations.length, 0);
});

Deno.test("Client with protectedResource tells the user to pass clientId when the server does not register clients", async () => {
  await using server = await startAuthServer({ protectedResource: {} });
  await using client = new Client({ protectedResource: server.resourceUrl });
  await assert.rejects(client.getToken(), (error: TokenError) => {
    assert(error instanceof TokenError);
    assert.match(error.message, /does not allow dynamic client registration .*pass its "clientId"/);
    return true;
  });
  assert.equal(server.resourceRequests.length, 0);
});

Deno.test("Client with protectedResource refuses metadata for another resource, and sends nothing", async () => {
  await using server = await startAuthServer({
    protectedResource: { resource: "http://127.0.0.1:9/elsewhere" },
    registration: true,
  });
  await using client = new Client({ protectedResource: server.resourceUrl });
  await assert.rejects(
    client.fetch(server.resourceUrl),
    /which is not this resource \(RFC 9728 §3\.3\)/,
  );
  assert.equal(server.registrations.length, 0);
  assert.equal(server.tokenRequests.length, 0);
  assert.equal(server.resourceRequests.length, 0);
});

Deno.test("Client with protectedResource finds the metadata through a challenge when no well-known document answers", async () => {
  // A resource whose metadata lives only where its challenge says.
  await using server = await startAuthServer({ registration: true, clientId: "c" });
  let metadataAsked = 0;
  await using api = serve((request) => {
    const url = new URL(request.url);
    if (url.pathname === "/meta") {
      metadataAsked++;
      return Response.json({ resource: `${origin}/mcp`, authorization_servers: [server.issuer] });
    }
    if (url.pathname !== "/mcp") return new Response(null, { status: 404 });
    const token = /^Bearer (.+)$/.exec(request.headers.get("authorization") ?? "")?.[1];
    if (token && server.accepts(token)) return new Response("ok");
    return new Response(null, {
      status: 401,
      headers: {
        "WWW-Authenticate": `Bearer resource_metadata="${origin}/meta", scope="mcp:tools"`,
      },
    });
  });
  const origin = api.url;
  await using client = new Client({
    protectedResource: `${api.url}/mcp`,
    clientId: "c",
    grant: {
      name: "test",
      obtain: (c) =>
        c.endpoint.request(
          new URLSearchParams([["grant_type", "client_credentials"], ...c.params]),
          c.signal,
        ),
    },
  });
  assert.equal(await status(await client.fetch(`${api.url}/mcp`)), 200);
  assert.equal(metadataAsked, 1);
  assert.equal(server.tokenRequests[0]?.form.get("scope"), "mcp:tools", "the challenge's scope");
});

/** A stand-in protected resource with registration (scope `read`), and a client of it logged in once. */
async function loggedInClient() {
  const server = await startAuthServer({
    protectedResource: { scopesSupported: ["read"] },
    registration: true,
  });
  const browser = new ScriptedBrowser();
  const flow = await useAuthorizationCodeFlow(new MemoryTokenStorage(), [0, 0], {
    openBrowser: browser.open,
  });
  const client = new Client({ protectedResource: server.resourceUrl });
  assert.equal(await status(await client.fetch(server.resourceUrl)), 200);
  return {
    server,
    client,
    async [Symbol.asyncDispose]() {
      await client.close();
      await flow.close();
      await browser.close();
      await server.close();
    },
  };
}

Deno.test("Client with protectedResource steps up once for insufficient_scope, then replays", async () => {
  await using logged = await loggedInClient();
  const { server, client } = logged;
  server.requiredScope = "read write";
  const response = await client.fetch(server.resourceUrl, { method: "POST", body: "x" });
  assert.equal(response.status, 200, "after the step-up");
  await response.body?.cancel();
  assert.equal(server.authorizationRequests.length, 2, "one new authorization");
  const asked = server.pushedAuthorizationRequests.at(-1)?.form.get("scope") ??
    new URL(server.authorizationRequests.at(-1)!.url).searchParams.get("scope");
  assert.equal(asked, "read write", "the union of the scopes");
  // The scope now granted: the next request needs no step-up.
  server.requiredScope = "read write";
  const granted = await client.fetch(server.resourceUrl);
  assert.equal(granted.status, 200);
  await granted.body?.cancel();
});

Deno.test("Client with protectedResource does not loop on a step-up the server refuses", async () => {
  await using logged = await loggedInClient();
  const { server, client } = logged;
  server.requiredScope = "admin";
  server.failAuthorizations(1, { error: "access_denied", errorDescription: "No admin" });
  await assert.rejects(client.fetch(server.resourceUrl), (error: TokenError) => {
    assert.equal(error.error, "access_denied");
    return true;
  });
  assert.equal(server.authorizationRequests.length, 2);
  // Refused: the client's scope is back, and the next request asks nothing of the user.
  server.requiredScope = undefined;
  assert.equal(await status(await client.fetch(server.resourceUrl)), 200);
  assert.equal(server.authorizationRequests.length, 2);
  assert.equal(server.tokenRequests.at(-1)?.form.get("grant_type"), "refresh_token");
});

Deno.test("Client with protectedResource sends its token under the resource only", async () => {
  await using logged = await loggedInClient();
  const { server, client } = logged;
  assert.equal(await status(await client.fetch(server.url("/resource/items/1"))), 200);
  const sent = server.resourceRequests.length;
  for (const url of [server.url("/resourcex"), server.url("/other"), "https://evil.example/x"]) {
    await assert.rejects(client.fetch(url), {
      name: "TypeError",
      message: /the client's tokens are for .*\/resource \(its "protectedResource"\)/,
    });
  }
  assert.equal(server.resourceRequests.length, sent, "nothing sent");
});

Deno.test("Client with protectedResource does not step up for another origin's insufficient_scope after a redirect", async () => {
  await using logged = await loggedInClient();
  const { server, client } = logged;
  await using other = serve(() =>
    new Response(null, {
      status: 403,
      headers: { "WWW-Authenticate": 'Bearer error="insufficient_scope", scope="admin"' },
    })
  );
  server.route(
    "/resource/jump",
    () => new Response(null, { status: 307, headers: { Location: `${other.url}/x` } }),
  );
  assert.equal(await status(await client.fetch(server.url("/resource/jump"))), 403);
  assert.equal(server.authorizationRequests.length, 1, "no login for another origin's scope");
});

Deno.test("Client with protectedResource steps up at most 3 times in 10 minutes", async () => {
  await using logged = await loggedInClient();
  const { server, client } = logged;
  for (const scope of ["s1", "s2", "s3", "s4"]) {
    server.requiredScope = scope;
    await (await client.fetch(server.resourceUrl)).body?.cancel();
  }
  assert.equal(server.authorizationRequests.length, 4, "the first login and 3 step-ups");
  server.requiredScope = 'bad"scope';
  assert.equal(
    await status(await client.fetch(server.resourceUrl)),
    403,
    "no step-up: not a scope-token",
  );
});

Deno.test("Client with protectedResource uses the secret of a registration the server made confidential", async () => {
  await using server = await startAuthServer({ protectedResource: {}, registration: true });
  await using browser = new ScriptedBrowser();
  await using _flow = await useAuthorizationCodeFlow(new MemoryTokenStorage(), [0, 0], {
    openBrowser: browser.open,
  });
  // A server that registers every client as confidential (RFC 7591 §3.2.1 allows it).
  const confidential: typeof fetch = async (input, init) => {
    if (String(input).endsWith("/register")) {
      const body = {
        ...JSON.parse(String(init?.body)),
        token_endpoint_auth_method: "client_secret_basic",
      };
      return await fetch(input, { ...init, body: JSON.stringify(body) });
    }
    return await fetch(input, init);
  };
  await using client = new Client({ protectedResource: server.resourceUrl, fetch: confidential });
  assert.equal(await status(await client.fetch(server.resourceUrl)), 200);
  const [exchange] = server.tokenRequests;
  assert.match(exchange?.headers.get("authorization") ?? "", /^Basic /);
  assert.equal(server.registrations.length, 1);
});

Deno.test("Client with protectedResource registers anew at most once in 10 minutes", async () => {
  await using server = await startAuthServer({
    protectedResource: {},
    registration: true,
    expiresIn: 60,
  });
  await using browser = new ScriptedBrowser();
  const clock = new ManualClock();
  await using _flow = await useAuthorizationCodeFlow(new MemoryTokenStorage(), [0, 0], {
    openBrowser: browser.open,
  });
  await using client = new Client({ protectedResource: server.resourceUrl, now: clock.now });
  assert.equal(await status(await client.fetch(server.resourceUrl)), 200);
  for (let round = 0; round < 3; round++) {
    for (const id of server.registeredClients()) server.forgetClient(id);
    clock.advance(61_000); // the token expires: its refresh gets invalid_client
    await (await client.fetch(server.resourceUrl)).body?.cancel();
    await (await client.fetch(server.resourceUrl)).body?.cancel();
  }
  assert.equal(server.registrations.length, 2, "one new registration, not one per failure");
});

Deno.test("Client with protectedResource asks for DPoP when the resource requires it", async () => {
  await using server = await startAuthServer({
    protectedResource: { dpopBoundAccessTokensRequired: true },
    registration: true,
    clientId: "c",
  });
  await using client = new Client({ protectedResource: server.resourceUrl, clientId: "c" });
  await assert.rejects(client.getToken(), /takes only DPoP-bound tokens .*set "dpop: true"/);
  assert.equal(server.tokenRequests.length, 0);
});

Deno.test("Client with protectedResource and a device grant registers the device grant", async () => {
  await using server = await startAuthServer({ protectedResource: {}, registration: true });
  await using client = new Client({
    protectedResource: server.resourceUrl,
    grant: new DeviceCodeGrant({
      interval: 1,
      onUserCode: async ({ verificationUriComplete }) => {
        await (await fetch(verificationUriComplete!)).body?.cancel();
      },
    }),
  });
  assert.equal(await status(await client.fetch(server.resourceUrl)), 200);
  const registered = JSON.parse(new TextDecoder().decode(server.registrations[0]!.body));
  assert.deepEqual(registered.grant_types, [
    "urn:ietf:params:oauth:grant-type:device_code",
    "refresh_token",
  ]);
  assert.equal(registered.redirect_uris, undefined);
});

Deno.test("new Client() refuses protectedResource with tokenEndpoint, a fragment, and clientName without it", () => {
  assert.throws(
    () =>
      new Client({ protectedResource: "https://api.example/mcp", tokenEndpoint: "https://a/t" }),
    /give "protectedResource" or "tokenEndpoint", not both/,
  );
  assert.throws(
    () => new Client({ protectedResource: "https://api.example/mcp#x" }),
    /"protectedResource" must have no fragment/,
  );
  assert.throws(
    () => new Client({ protectedResource: "https://api.example/mcp?api_key=s3cret" }),
    /"protectedResource" must have no query/,
  );
  assert.throws(
    () => new Client({ tokenEndpoint: "https://a/t", clientId: "c", clientName: "n" }),
    /"clientName" names a registration/,
  );
  assert.throws(() => new Client({ tokenEndpoint: "https://a/t" } as ClientOptions), /"clientId"/);
  assert.throws(
    () => new Client({ protectedResource: "http://api.example/mcp" }),
    /loopback host/,
  );
});
