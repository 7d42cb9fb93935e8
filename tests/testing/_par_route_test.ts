// The stand-in server's pushed authorization requests (RFC 9126) and the iss of its redirects
// (RFC 9207): the tools the login tests rely on must themselves be right.

import assert from "node:assert/strict";
import { type AuthServer, type AuthServerOptions, startAuthServer } from "../../testing.ts";
import { ManualClock } from "../_helpers.ts";

const REDIRECT = "http://127.0.0.1:9/callback";
const CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"; // RFC 7636 Appendix B

/** A code request of client "cli", as pushed. */
const REQUEST = {
  response_type: "code",
  client_id: "cli",
  redirect_uri: REDIRECT,
  state: "s1",
  scope: "read",
  code_challenge: CHALLENGE,
  code_challenge_method: "S256",
};

async function push(
  server: AuthServer,
  form: Record<string, string>,
  headers: HeadersInit = {},
): Promise<{ status: number; headers: Headers; json: Record<string, unknown> }> {
  const response = await fetch(server.url("/par"), {
    method: "POST",
    headers,
    body: new URLSearchParams(form),
  });
  return { status: response.status, headers: response.headers, json: await response.json() };
}

/** Visits /authorize with `params`: the redirect's parameters, or the error page. */
async function authorize(
  server: AuthServer,
  params: Record<string, string>,
): Promise<{ status: number; answer?: URLSearchParams; text: string }> {
  const url = new URL(server.authorizationEndpoint);
  url.search = new URLSearchParams(params).toString();
  const response = await fetch(url, { redirect: "manual" });
  const text = await response.text();
  const location = response.headers.get("location");
  if (location === null) return { status: response.status, text };
  const target = new URL(location);
  assert.equal(target.origin + target.pathname, REDIRECT);
  const answer = new URLSearchParams(target.hash ? target.hash.slice(1) : target.search);
  return { status: response.status, answer, text };
}

async function pushed(server: AuthServer, options: Record<string, string> = {}): Promise<string> {
  const { status, json } = await push(server, { ...REQUEST, ...options });
  assert.equal(status, 201, JSON.stringify(json));
  return json.request_uri as string;
}

Deno.test("AuthServer /par answers 201 with a one-time request_uri that /authorize redeems with the pushed parameters", async () => {
  await using server = await startAuthServer({ clientId: "cli", clientSecret: "s" });
  const basic = { Authorization: `Basic ${btoa("cli:s")}` };
  const { status, headers, json } = await push(server, REQUEST, basic);
  assert.equal(status, 201);
  assert.equal(headers.get("cache-control"), "no-store");
  assert.deepEqual(Object.keys(json), ["request_uri", "expires_in"]);
  assert.match(json.request_uri as string, /^urn:ietf:params:oauth:request_uri:[0-9a-f-]{36}$/);
  assert.equal(json.expires_in, 60);
  const [recorded] = server.pushedAuthorizationRequests;
  assert.equal(recorded?.form.get("state"), "s1");
  assert.equal(recorded?.clientAuthMethod, "client_secret_basic");

  const first = await authorize(server, {
    client_id: "cli",
    request_uri: json.request_uri as string,
  });
  assert.equal(first.status, 302);
  assert.deepEqual([...first.answer!.keys()], ["code", "state", "iss"]);
  assert.equal(first.answer!.get("state"), "s1");
  assert.equal(first.answer!.get("iss"), server.issuer);
  // RFC 9126 §7.3: once only.
  const again = await authorize(server, {
    client_id: "cli",
    request_uri: json.request_uri as string,
  });
  assert.equal(again.status, 400);
  assert.equal(again.text, "Cannot authorize: request_uri is unknown or was used");
  // The code is the pushed request's: its redirect_uri and challenge.
  const exchange = await fetch(server.tokenEndpoint, {
    method: "POST",
    headers: basic,
    body: new URLSearchParams({
      grant_type: "authorization_code",
      code: first.answer!.get("code")!,
      redirect_uri: REDIRECT,
      code_verifier: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
    }),
  });
  assert.equal(exchange.status, 200);
  assert.equal((await exchange.json()).scope, "read");
});

Deno.test("AuthServer /par authenticates the client as /token does", async () => {
  await using server = await startAuthServer({ clientId: "cli", clientSecret: "s" });
  const wrong = await push(server, REQUEST, { Authorization: `Basic ${btoa("cli:guess")}` });
  assert.equal(wrong.status, 401);
  assert.equal(wrong.json.error, "invalid_client");
  const none = await push(server, REQUEST);
  assert.equal(none.status, 401);
  assert.equal(server.pushedAuthorizationRequests.length, 2);
});

Deno.test("AuthServer /par refuses what /authorize would, with a JSON error", async (t) => {
  await using server = await startAuthServer();
  const cases: [string, Record<string, string>, string, HeadersInit?][] = [
    ["a remote redirect_uri", { redirect_uri: "https://evil.test/cb" }, "invalid_request"],
    ["no redirect_uri", { redirect_uri: "" }, "invalid_request"],
    ["response_type id_token", { response_type: "id_token" }, "unsupported_response_type"],
    ["plain PKCE", { code_challenge_method: "plain" }, "invalid_request"],
    ["a request_uri", { request_uri: "urn:ietf:params:oauth:request_uri:x" }, "invalid_request"],
    ["another client_id than Basic's", { client_id: "other" }, "invalid_request", {
      Authorization: `Basic ${btoa("cli:")}`,
    }],
  ];
  for (const [name, change, error, headers] of cases) {
    await t.step(name, async () => {
      const { status, json } = await push(server, { ...REQUEST, ...change }, headers);
      assert.equal(status, 400);
      assert.equal(json.error, error);
      assert.equal(typeof json.error_description, "string");
    });
  }
  const get = await fetch(server.url("/par"));
  assert.equal(get.status, 405);
  await get.body?.cancel();
  assert.equal(server.issuedTokens.length, 0);
});

Deno.test("AuthServer /authorize refuses an expired request_uri on the server's clock, and uses it up", async () => {
  const clock = new ManualClock();
  await using server = await startAuthServer({
    now: clock.now,
    pushedAuthorizationRequests: { expiresIn: 90 },
  });
  const early = await pushed(server);
  const late = await pushed(server);
  clock.advance(89_999);
  assert.equal((await authorize(server, { client_id: "cli", request_uri: early })).status, 302);
  clock.advance(1);
  const expired = await authorize(server, { client_id: "cli", request_uri: late });
  // The pushed redirect_uri was checked at the push: the error goes back to the client.
  assert.deepEqual(Object.fromEntries(expired.answer!), {
    error: "invalid_request_uri",
    error_description: "request_uri has expired",
    state: "s1",
    iss: server.issuer,
  });
  const again = await authorize(server, { client_id: "cli", request_uri: late });
  assert.equal(again.status, 400);
});

Deno.test("AuthServer /authorize takes a request_uri only from its client, and nothing beside it", async () => {
  await using server = await startAuthServer();
  const uri = await pushed(server);
  const other = await authorize(server, { client_id: "other", request_uri: uri });
  assert.equal(other.status, 400);
  assert.equal(other.text, "Cannot authorize: request_uri was pushed by another client");
  const extra = await authorize(server, { client_id: "cli", request_uri: uri, scope: "admin" });
  assert.equal(extra.answer?.get("error"), "invalid_request");
  assert.match(extra.answer!.get("error_description")!, /beside request_uri are refused: scope/);
  assert.equal(extra.answer?.get("code"), null);
  // Used up by the refused attempt of its own client.
  assert.equal((await authorize(server, { client_id: "cli", request_uri: uri })).status, 400);
});

Deno.test("AuthServer with pushedAuthorizationRequests.required refuses an authorization request that was not pushed", async () => {
  const options: AuthServerOptions = { pushedAuthorizationRequests: { required: true } };
  await using server = await startAuthServer(options);
  const metadata = await (await fetch(server.url("/.well-known/oauth-authorization-server")))
    .json();
  assert.equal(metadata.require_pushed_authorization_requests, true);
  const direct = await authorize(server, REQUEST);
  assert.equal(direct.answer?.get("error"), "invalid_request");
  assert.equal(direct.answer?.get("code"), null);
  assert.equal(direct.answer?.get("state"), "s1");
  const uri = await pushed(server);
  assert.ok((await authorize(server, { client_id: "cli", request_uri: uri })).answer?.get("code"));
});

Deno.test("AuthServer advertises /par and the iss of its redirects in its metadata", async () => {
  await using server = await startAuthServer();
  const metadata = await (await fetch(server.url("/.well-known/openid-configuration"))).json();
  assert.equal(metadata.pushed_authorization_request_endpoint, server.url("/par"));
  assert.equal(metadata.require_pushed_authorization_requests, false);
  assert.equal(metadata.authorization_response_iss_parameter_supported, true);
});

Deno.test("AuthServer scripts failed pushes and the iss of the next redirects", async () => {
  const issuers: (string | null)[] = ["https://attacker.example", null];
  await using server = await startAuthServer({
    pushedAuthorizationRequests: { failures: [{ status: 503, body: "busy" }] },
    authorizationResponseIssuers: issuers,
  });
  const failed = await fetch(server.url("/par"), {
    method: "POST",
    body: new URLSearchParams(REQUEST),
  });
  assert.equal(failed.status, 503);
  assert.equal(await failed.text(), "busy");
  const uri = await pushed(server); // only one failed
  server.failAuthorizations(1); // an error redirect carries iss too
  const seen = [];
  for (const params of [{ client_id: "cli", request_uri: uri }, REQUEST, REQUEST, REQUEST]) {
    const { answer } = await authorize(server, params);
    seen.push([answer!.get("error") ?? "code", answer!.get("iss")]);
  }
  assert.deepEqual(seen, [
    ["access_denied", "https://attacker.example"],
    ["code", null],
    ["code", server.issuer],
    ["code", server.issuer],
  ]);
  assert.deepEqual(issuers, []);
});
