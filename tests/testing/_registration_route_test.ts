// The stand-in server's dynamic client registration (RFC 7591) and what its registered clients
// may do at the other endpoints, through real requests.

import assert from "node:assert/strict";
import { AuthorizationCodeGrant, Client } from "../../mod.ts";
import {
  type AuthServer,
  type AuthServerOptions,
  ScriptedBrowser,
  startAuthServer,
} from "../../testing.ts";
import { ManualClock } from "../_helpers.ts";

const CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"; // RFC 7636 Appendix B

/** POSTs `body` (JSON unless a string) to `/register`: the status and the JSON answer. */
async function register(server: AuthServer, body: unknown) {
  const response = await fetch(server.url("/register"), {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: response.status, json: await response.json() as Record<string, unknown> };
}

/** A registered client's id (and secret, unless public). */
async function registered(
  server: AuthServer,
  metadata: Record<string, unknown> = {},
): Promise<{ id: string; secret?: string }> {
  const { status, json } = await register(server, {
    redirect_uris: ["http://127.0.0.1/callback"],
    token_endpoint_auth_method: "none",
    ...metadata,
  });
  assert.equal(status, 201);
  return { id: String(json.client_id), secret: json.client_secret as string | undefined };
}

async function token(server: AuthServer, form: Record<string, string>, headers: HeadersInit = {}) {
  const response = await fetch(server.tokenEndpoint, {
    method: "POST",
    headers,
    body: new URLSearchParams({ grant_type: "client_credentials", ...form }),
  });
  return { status: response.status, json: await response.json() as Record<string, unknown> };
}

/** An authorization request's answer: the redirect, or the error page's status and text. */
async function authorize(server: AuthServer, clientId: string, redirectUri: string) {
  const url = new URL(server.authorizationEndpoint);
  url.search = new URLSearchParams({
    response_type: "code",
    client_id: clientId,
    redirect_uri: redirectUri,
    code_challenge: CHALLENGE,
    code_challenge_method: "S256",
  }).toString();
  const response = await fetch(url, { redirect: "manual" });
  return {
    status: response.status,
    location: response.headers.get("location"),
    text: await response.text(),
  };
}

Deno.test("ClientRegistry.register() answers 201 with a new client, its metadata echoed and defaulted", async () => {
  const clock = new ManualClock();
  clock.advance(500);
  await using server = await startAuthServer({ registration: true, now: clock.now });
  const metadata = {
    client_name: "My CLI",
    redirect_uris: ["http://127.0.0.1/callback", "http://[::1]:8080/cb"],
    token_endpoint_auth_method: "none",
    scope: "mcp",
    software_id: "kept-as-is",
  };
  const { status, json } = await register(server, metadata);
  assert.equal(status, 201);
  const { client_id: clientId, ...rest } = json;
  assert.match(String(clientId), /^client-[0-9a-f-]{36}$/);
  assert.deepEqual(rest, {
    ...metadata,
    client_id_issued_at: 1_700_000_000, // seconds, on the server's clock
    grant_types: ["authorization_code"], // RFC 7591 §2 defaults
    response_types: ["code"],
  });
  assert.deepEqual(server.registeredClients(), [clientId]);
  const [recorded] = server.registrations;
  assert.deepEqual(JSON.parse(new TextDecoder().decode(recorded?.body)), metadata);
  const other = await registered(server);
  assert.notEqual(other.id, clientId);
});

Deno.test("ClientRegistry.register() issues a secret unless the method is none (client_secret_basic by default)", async () => {
  await using server = await startAuthServer({ registration: true });
  const { json: byDefault } = await register(server, { redirect_uris: [] });
  assert.equal(byDefault.token_endpoint_auth_method, "client_secret_basic");
  assert.match(String(byDefault.client_secret), /^secret-/);
  assert.equal(byDefault.client_secret_expires_at, 0);
  const { json: post } = await register(server, {
    token_endpoint_auth_method: "client_secret_post",
  });
  assert.equal(typeof post.client_secret, "string");
  assert.notEqual(post.client_secret, byDefault.client_secret);
  const { json: none } = await register(server, { token_endpoint_auth_method: "none" });
  assert.equal("client_secret" in none, false);
  assert.equal("client_secret_expires_at" in none, false);
});

Deno.test("ClientRegistry.register() refuses redirect URIs that are not absolute http(s) loopback URLs without fragment", async () => {
  await using server = await startAuthServer({ registration: true });
  for (
    const uri of [
      "https://app.example/callback",
      "/callback",
      "http://127.0.0.1/callback#frag",
      "com.example.app:/callback",
      "http://127.0.0.1.example/callback",
    ]
  ) {
    const { status, json } = await register(server, { redirect_uris: [uri] });
    assert.equal(status, 400, uri);
    assert.equal(json.error, "invalid_redirect_uri", uri);
  }
  const { status } = await register(server, {
    redirect_uris: ["https://localhost:8443/cb", "http://localhost/cb", "http://[::1]/cb"],
  });
  assert.equal(status, 201);
  assert.equal(server.registeredClients().length, 1);
});

Deno.test("ClientRegistry.register() refuses malformed metadata with invalid_client_metadata", async () => {
  await using server = await startAuthServer({ registration: true });
  const cases: unknown[] = [
    "{not json",
    "[]",
    "null",
    { token_endpoint_auth_method: "private_key_jwt" },
    { token_endpoint_auth_method: "magic" },
    { redirect_uris: "http://127.0.0.1/callback" },
    { redirect_uris: [42] },
    { grant_types: "authorization_code" },
  ];
  for (const body of cases) {
    const { status, json } = await register(server, body);
    assert.deepEqual([status, json.error], [400, "invalid_client_metadata"], JSON.stringify(body));
    assert.equal(typeof json.error_description, "string");
  }
  assert.deepEqual(server.registeredClients(), []);
  assert.equal(server.registrations.length, cases.length);
});

Deno.test("AuthServerOptions.registration is off by default: no registration_endpoint, /register answers 404", async () => {
  await using off = await startAuthServer();
  const metadata = await (await fetch(off.url("/.well-known/oauth-authorization-server"))).json();
  assert.equal("registration_endpoint" in metadata, false);
  const { status } = await register(off, { redirect_uris: [] });
  assert.equal(status, 404);
  assert.equal(off.registrations.length, 1); // recorded: a client that registers anyway shows
  assert.deepEqual(off.registeredClients(), []);

  await using on = await startAuthServer({ registration: true });
  for (
    const path of ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"]
  ) {
    const document = await (await fetch(on.url(path))).json();
    assert.equal(document.registration_endpoint, on.url("/register"));
  }
});

Deno.test("AuthServerOptions.registration failures answer the next registrations, in order", async () => {
  const failures = [
    { status: 400, body: JSON.stringify({ error: "invalid_software_statement" }) },
    { status: 503 },
  ];
  await using server = await startAuthServer({ registration: { failures } });
  const first = await register(server, {});
  assert.deepEqual(first, { status: 400, json: { error: "invalid_software_statement" } });
  const second = await register(server, {});
  assert.deepEqual(second, { status: 503, json: { error: "server_error" } });
  const third = await register(server, {});
  assert.equal(third.status, 201);
  assert.equal(server.registrations.length, 3);
});

Deno.test("ClientAuthenticator.authenticate() takes a registered client by its registered method only", async () => {
  // The server's own client is another one: registered clients are known beside it.
  await using server = await startAuthServer({
    registration: true,
    clientId: "own",
    clientSecret: "own-secret",
  });
  const publicClient = await registered(server);
  assert.equal((await token(server, { client_id: publicClient.id })).status, 200);
  const basic = await registered(server, { token_endpoint_auth_method: "client_secret_basic" });
  const authorization = `Basic ${btoa(`${basic.id}:${basic.secret}`)}`;
  assert.equal((await token(server, {}, { Authorization: authorization })).status, 200);
  const asPost = await token(server, { client_id: basic.id, client_secret: basic.secret! });
  assert.equal(asPost.status, 401);
  assert.equal(
    asPost.json.error_description,
    "Client authentication failed: the client registered client_secret_basic",
  );
  const wrong = await token(server, {}, { Authorization: `Basic ${btoa(`${basic.id}:guess`)}` });
  assert.deepEqual([wrong.status, wrong.json.error], [401, "invalid_client"]);
  const post = await registered(server, { token_endpoint_auth_method: "client_secret_post" });
  assert.equal(
    (await token(server, { client_id: post.id, client_secret: post.secret! })).status,
    200,
  );
  const withoutSecret = await token(server, { client_id: post.id });
  assert.equal(withoutSecret.status, 401);
  assert.equal(
    (await token(server, { client_id: "own", client_secret: "own-secret" })).status,
    200,
  );
});

Deno.test("LoginDesk.authorize() takes a registered loopback redirect URI on any port, nothing else", async () => {
  await using server = await startAuthServer({ registration: true, clientId: "own" });
  const { id } = await registered(server, {
    redirect_uris: ["http://127.0.0.1/callback", "http://localhost:8080/cb?x=1"],
  });
  for (const uri of ["http://127.0.0.1:54321/callback", "http://localhost:9/cb?x=1"]) {
    const { status, location } = await authorize(server, id, uri);
    assert.equal(status, 302, uri);
    assert.equal(new URL(location!).origin, new URL(uri).origin);
  }
  for (
    const uri of [
      "http://127.0.0.1:54321/other",
      "http://localhost:54321/callback", // another host than the one registered
      "http://127.0.0.1:9/cb?x=1",
      "http://localhost:8080/cb?x=2",
    ]
  ) {
    const { status, location, text } = await authorize(server, id, uri);
    assert.deepEqual([status, location], [400, null], uri);
    assert.match(text, /redirect_uri is not one the client registered/);
  }
});

Deno.test("AuthServer.forgetClient() makes a registered client unknown at every endpoint", async () => {
  await using server = await startAuthServer({
    registration: true,
    deviceAuthorization: {},
    pushedAuthorizationRequests: {},
  });
  const { id } = await registered(server, { grant_types: ["authorization_code"] });
  const kept = await registered(server);
  assert.equal((await authorize(server, id, "http://127.0.0.1:9/callback")).status, 302);
  server.forgetClient(id);
  assert.deepEqual(server.registeredClients(), [kept.id]);

  const refused = await token(server, { client_id: id });
  assert.equal(refused.status, 401);
  assert.deepEqual(refused.json, {
    error: "invalid_client",
    error_description: "Client authentication failed: the client is unknown",
  });
  const page = await authorize(server, id, "http://127.0.0.1:9/callback");
  assert.deepEqual([page.status, page.location], [400, null]);
  assert.match(page.text, /client_id is missing or unknown/);
  for (const path of ["/revoke", "/par", "/device_authorization"]) {
    const response = await fetch(server.url(path), {
      method: "POST",
      body: new URLSearchParams({ client_id: id, token: "t" }),
    });
    assert.equal(response.status, 401, path);
    assert.equal((await response.json()).error, "invalid_client", path);
  }
  // A client id never registered is judged as before (no clientId option: any goes).
  assert.equal((await token(server, { client_id: "someone" })).status, 200);
  assert.equal((await token(server, { client_id: kept.id })).status, 200);
});

Deno.test("AuthServerOptions.registration lets a registered public client log in with AuthorizationCodeGrant on a free port", async () => {
  await using server = await startAuthServer({ registration: true });
  const { id } = await registered(server, {
    grant_types: ["authorization_code", "refresh_token"],
  });
  await using browser = new ScriptedBrowser();
  await using client = new Client({
    tokenEndpoint: server.tokenEndpoint,
    clientId: id,
    grant: new AuthorizationCodeGrant({
      authorizationEndpoint: server.authorizationEndpoint,
      openBrowser: browser.open,
      portRange: [0, 0],
    }),
  });
  const { accessToken } = await client.getToken();
  assert(server.accepts(accessToken));
  const [exchange] = server.tokenRequests;
  assert.equal(exchange?.clientAuthMethod, "none");
  assert.equal(exchange?.form.get("client_id"), id);
});

Deno.test("startAuthServer() refuses unknown names in protectedResource and registration", async () => {
  const cases: [unknown, RegExp][] = [
    [
      { protectedResource: { scopeSupported: [] } },
      /"protectedResource".*did you mean "scopesSupported"/,
    ],
    [{ registration: { failure: [] } }, /"registration".*did you mean "failures"/],
    [{ protectedResource: { resource: "not a url" } }, /"protectedResource.resource" must be/],
    [{ registrations: true }, /did you mean "registration"/],
  ];
  for (const [options, message] of cases) {
    await assert.rejects(
      startAuthServer(options as AuthServerOptions),
      (error) => error instanceof TypeError && message.test(error.message),
    );
  }
});
