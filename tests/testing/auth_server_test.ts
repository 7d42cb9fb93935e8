import assert from "node:assert/strict";
import { Client } from "../../mod.ts";
import { type AuthServerOptions, type MetadataOptions, startAuthServer } from "../../testing.ts";
import { ManualClock } from "../_helpers.ts";

/** A client credentials token request, sent by hand. */
async function requestToken(
  tokenEndpoint: string,
  form: Record<string, string> = { grant_type: "client_credentials" },
  headers: HeadersInit = {},
): Promise<{ status: number; headers: Headers; json: Record<string, unknown> }> {
  const response = await fetch(tokenEndpoint, {
    method: "POST",
    body: new URLSearchParams(form),
    headers,
  });
  return { status: response.status, headers: response.headers, json: await response.json() };
}

async function getResource(url: string, token?: string): Promise<{ status: number; text: string }> {
  const response = await fetch(url, {
    headers: token === undefined ? {} : { Authorization: `Bearer ${token}` },
  });
  return { status: response.status, text: await response.text() };
}

Deno.test("startAuthServer() listens on 127.0.0.1 and names its endpoints", async () => {
  await using server = await startAuthServer();
  assert.equal(server.origin, `http://127.0.0.1:${server.port}`);
  assert.equal(server.tokenEndpoint, `${server.origin}/token`);
  assert.equal(server.resourceUrl, `${server.origin}/resource`);
  assert.equal(server.authorizationEndpoint, `${server.origin}/authorize`);
  assert.equal(server.revocationEndpoint, `${server.origin}/revoke`);
  assert.equal(server.issuer, server.origin);
  assert.equal(server.url("/resource/a?b=1"), `${server.origin}/resource/a?b=1`);
});

Deno.test("startAuthServer() listens on the port it is given", async () => {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = probe.addr.port;
  probe.close();
  await using server = await startAuthServer({ port });
  assert.equal(server.port, port);
  assert.equal((await requestToken(server.tokenEndpoint)).status, 200);
});

Deno.test("AuthServer issues Bearer tokens for client credentials, with the scope asked", async () => {
  await using server = await startAuthServer();
  const { status, headers, json } = await requestToken(server.tokenEndpoint, {
    grant_type: "client_credentials",
    scope: "read write",
  });
  assert.equal(status, 200);
  assert.equal(headers.get("cache-control"), "no-store");
  assert.deepEqual(json, {
    access_token: server.issuedTokens[0],
    token_type: "Bearer",
    expires_in: 3600,
    scope: "read write",
  });
  assert.equal(server.tokenRequests[0]?.form.get("scope"), "read write");
  assert.equal(server.tokenRequests[0]?.method, "POST");
});

Deno.test("AuthServer.expiresIn sets the lifetime of the next tokens; null leaves it out", async () => {
  await using server = await startAuthServer({ expiresIn: 60 });
  assert.equal((await requestToken(server.tokenEndpoint)).json.expires_in, 60);
  server.expiresIn = null;
  assert.equal("expires_in" in (await requestToken(server.tokenEndpoint)).json, false);
  server.expiresIn = 5;
  assert.equal((await requestToken(server.tokenEndpoint)).json.expires_in, 5);
  assert.equal(server.issuedTokens.length, 3);
});

Deno.test("AuthServer.accepts() follows the server's clock to each token's expiry", async () => {
  const clock = new ManualClock();
  await using server = await startAuthServer({ expiresIn: 60, now: clock.now });
  await requestToken(server.tokenEndpoint);
  server.expiresIn = null;
  await requestToken(server.tokenEndpoint);
  const [short, forever] = server.issuedTokens;
  assert(short !== undefined && forever !== undefined);
  clock.advance(59_999);
  assert.equal(server.accepts(short), true);
  assert.equal((await getResource(server.resourceUrl, short)).status, 200);
  clock.advance(1);
  assert.equal(server.accepts(short), false);
  assert.equal((await getResource(server.resourceUrl, short)).status, 401);
  assert.equal(server.accepts(forever), true);
  assert.equal(server.accepts("never-issued"), false);
});

Deno.test("AuthServer checks the client id and secret of Basic and form authentication", async () => {
  await using server = await startAuthServer({ clientId: "id:1", clientSecret: "s&cret" });
  // RFC 6749 §2.3.1: each part is form-encoded before Basic.
  const basic = `Basic ${btoa("id%3A1:s%26cret")}`;
  assert.equal(
    (await requestToken(server.tokenEndpoint, undefined, { Authorization: basic }))
      .status,
    200,
  );
  const post = await requestToken(server.tokenEndpoint, {
    grant_type: "client_credentials",
    client_id: "id:1",
    client_secret: "s&cret",
  });
  assert.equal(post.status, 200);
  const wrong = await requestToken(server.tokenEndpoint, {
    grant_type: "client_credentials",
    client_id: "id:1",
    client_secret: "wrong",
  });
  assert.equal(wrong.status, 401);
  assert.equal(wrong.json.error, "invalid_client");
  assert.equal(wrong.headers.get("www-authenticate"), 'Basic realm="token"');
  assert.equal(server.issuedTokens.length, 2);
});

Deno.test("AuthServer answers an unknown grant type with unsupported_grant_type", async () => {
  await using server = await startAuthServer();
  const { status, json } = await requestToken(server.tokenEndpoint, { grant_type: "password" });
  assert.equal(status, 400);
  assert.equal(json.error, "unsupported_grant_type");
});

Deno.test("AuthServer.failTokenRequests() fails the next N token requests as scripted", async () => {
  await using server = await startAuthServer();
  server.failTokenRequests(1);
  server.failTokenRequests(2, {
    status: 429,
    body: '{"error":"slow_down"}',
    headers: { "Retry-After": "1", "Content-Type": "application/json" },
  });
  const first = await requestToken(server.tokenEndpoint);
  assert.deepEqual([first.status, first.json], [500, { error: "server_error" }]);
  for (let i = 0; i < 2; i++) {
    const limited = await requestToken(server.tokenEndpoint);
    assert.equal(limited.status, 429);
    assert.equal(limited.headers.get("retry-after"), "1");
    assert.equal(limited.json.error, "slow_down");
  }
  assert.equal((await requestToken(server.tokenEndpoint)).status, 200);
  assert.equal(server.tokenRequests.length, 4);
  assert.equal(server.issuedTokens.length, 1);
});

Deno.test("AuthServer.revoke() revokes one token, or all of them", async () => {
  await using server = await startAuthServer();
  for (let i = 0; i < 3; i++) await requestToken(server.tokenEndpoint);
  const [a, b, c] = server.issuedTokens;
  assert(a !== undefined && b !== undefined && c !== undefined);
  server.revoke(a);
  assert.deepEqual([a, b, c].map((token) => server.accepts(token)), [false, true, true]);
  const rejected = await fetch(server.resourceUrl, { headers: { Authorization: `Bearer ${a}` } });
  assert.equal(rejected.status, 401);
  assert.equal(rejected.headers.get("www-authenticate"), 'Bearer error="invalid_token"');
  assert.deepEqual(await rejected.json(), { error: "invalid_token" });
  server.revoke();
  assert.deepEqual([a, b, c].map((token) => server.accepts(token)), [false, false, false]);
});

Deno.test("AuthServer resource echoes a valid request and records every request", async () => {
  await using server = await startAuthServer();
  await requestToken(server.tokenEndpoint);
  const [token] = server.issuedTokens;
  const response = await fetch(server.url("/resource/items?x=1"), {
    method: "PUT",
    body: new Uint8Array([1, 2, 3]),
    headers: { Authorization: `Bearer ${token}`, "X-Tag": "t" },
  });
  assert.deepEqual(await response.json(), { method: "PUT", path: "/resource/items", bytes: 3 });
  assert.equal((await getResource(server.resourceUrl)).status, 401);
  const [recorded, anonymous] = server.resourceRequests;
  assert(recorded && anonymous);
  assert.equal(recorded.method, "PUT");
  assert.equal(recorded.url, server.url("/resource/items?x=1"));
  assert.equal(recorded.headers.get("x-tag"), "t");
  assert.deepEqual(recorded.body, new Uint8Array([1, 2, 3]));
  assert.equal(recorded.token, token);
  assert.equal(anonymous.token, undefined);
});

Deno.test("AuthServer.route() serves a path with a handler and still records it", async () => {
  await using server = await startAuthServer();
  server.route(
    "/resource/teapot",
    (request, recorded) =>
      new Response(`${request.method} ${recorded.body.byteLength}`, { status: 418 }),
  );
  const response = await fetch(server.url("/resource/teapot"), { method: "POST", body: "tea" });
  assert.deepEqual([response.status, await response.text()], [418, "POST 3"]);
  // Only the exact path: below it is the resource again.
  assert.equal((await getResource(server.url("/resource/teapot/cup"))).status, 401);
  assert.equal(server.resourceRequests.length, 2);
});

Deno.test("AuthServer answers 404 at a path it does not serve, even with a valid token", async () => {
  await using server = await startAuthServer();
  await requestToken(server.tokenEndpoint);
  const token = server.issuedTokens[0];
  server.route("/api/items", () => new Response("routed"));
  for (const path of ["/oauth/token", "/resources", "/api/items/7", "/"]) {
    const response = await fetch(server.url(path), {
      method: "POST",
      body: "grant_type=client_credentials",
      headers: { Authorization: `Bearer ${token}` },
    });
    assert.equal(response.status, 404, path);
    assert.equal(response.headers.get("www-authenticate"), null);
    assert.match(
      await response.text(),
      new RegExp(`^Not found: ${path}; this server serves /token`),
    );
  }
  // Recorded with the resource requests, token included (not as token requests).
  assert.equal(server.tokenRequests.length, 1);
  assert.deepEqual(
    server.resourceRequests.map((r) => [new URL(r.url).pathname, r.token]),
    ["/oauth/token", "/resources", "/api/items/7", "/"].map((path) => [path, token]),
  );
  // The routed path and the resource still answer.
  assert.deepEqual(await getResource(server.url("/api/items"), token), {
    status: 200,
    text: "routed",
  });
  assert.equal((await getResource(server.url("/resource/any/depth"), token)).status, 200);
});

Deno.test("AuthServer.resourceDelay holds resource answers until it passes or the server closes", async () => {
  const server = await startAuthServer();
  await requestToken(server.tokenEndpoint);
  const token = server.issuedTokens[0];
  // The handler runs when the delay is over: a probe of where the request is.
  let handled = 0;
  server.route("/resource/probe", () => new Response(`handled ${++handled}`));
  server.resourceDelay = 1; // passes by itself
  assert.deepEqual(await getResource(server.url("/resource/probe"), token), {
    status: 200,
    text: "handled 1",
  });
  server.resourceDelay = 60_000;
  const pending = getResource(server.url("/resource/probe"), token);
  while (server.resourceRequests.length < 2) await new Promise((r) => setTimeout(r, 5));
  // Recorded but not handled: without a delay the handler runs in the same turn as the recording.
  assert.equal(handled, 1);
  await Promise.all([server.close(), pending]);
  assert.deepEqual(await pending, { status: 200, text: "handled 2" });
});

Deno.test("AuthServer.tokenDelay holds token answers until it passes or the server closes", async () => {
  const server = await startAuthServer();
  server.tokenDelay = 1; // passes by itself
  const first = await requestToken(server.tokenEndpoint);
  assert.equal(first.status, 200);
  server.tokenDelay = 60_000;
  const pending = requestToken(server.tokenEndpoint);
  while (server.tokenRequests.length < 2) await new Promise((r) => setTimeout(r, 5));
  // Recorded but no token issued: without a delay it is issued in the same turn as the recording.
  assert.deepEqual(server.issuedTokens, [first.json.access_token]);
  await Promise.all([server.close(), pending]);
  const second = await pending;
  assert.equal(second.status, 200);
  assert.deepEqual(server.issuedTokens, [first.json.access_token, second.json.access_token]);
});

Deno.test("AuthServer.close() stops listening", async () => {
  const server = await startAuthServer();
  await server.close();
  await assert.rejects(fetch(server.tokenEndpoint, { method: "POST" }), TypeError);
});

Deno.test("startAuthServer() refuses a misspelled option, in metadata too, naming the one meant", async () => {
  await assert.rejects(
    startAuthServer({ expiresInn: 60 } as AuthServerOptions),
    new TypeError(
      'Cannot start the AuthServer: unknown option "expiresInn"; did you mean "expiresIn"?',
    ),
  );
  await assert.rejects(
    startAuthServer({ metadata: { omitt: ["token_endpoint"] } as MetadataOptions }),
    new TypeError(
      'Cannot start the AuthServer ("metadata"): unknown option "omitt"; did you mean "omit"?',
    ),
  );
});

Deno.test("AuthServer.dpopNonce is unreserved and its own per server; rotateDpopNonce() replaces it", async () => {
  await using server = await startAuthServer();
  await using other = await startAuthServer();
  const first = server.dpopNonce;
  assert.match(first, /^[A-Za-z0-9_-]{22}$/); // RFC 3986 unreserved, and 1*NQCHAR (RFC 9449 §8.1)
  assert.equal(server.dpopNonce, first); // stable until rotated
  assert.notEqual(other.dpopNonce, first);
  const second = server.rotateDpopNonce();
  assert.match(second, /^[A-Za-z0-9_-]{22}$/);
  assert.notEqual(second, first);
  assert.equal(server.dpopNonce, second);
});

Deno.test("AuthServer advertises the DPoP algorithms it verifies in both metadata documents", async () => {
  await using server = await startAuthServer();
  for (
    const path of ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"]
  ) {
    const metadata = await (await fetch(server.url(path))).json();
    assert.deepEqual(metadata.dpop_signing_alg_values_supported, [
      "ES256",
      "EdDSA",
      "RS256",
      "PS256",
    ]);
  }
});

Deno.test("AuthServer with nonces at both endpoints serves a Client with dpop, rotation included", async () => {
  await using server = await startAuthServer({ dpopNonce: { token: true, resource: true } });
  await using client = new Client({
    tokenEndpoint: server.tokenEndpoint,
    clientId: "app",
    dpop: true,
  });
  const first = await client.fetch(server.resourceUrl);
  assert.equal(first.status, 200);
  await first.body?.cancel();
  const refusals = (requests: { dpopRefusal?: { error: string } }[]) =>
    requests.map((request) => request.dpopRefusal?.error ?? "accepted");
  assert.deepEqual(refusals(server.tokenRequests), ["use_dpop_nonce", "accepted"]);
  assert.deepEqual(refusals(server.resourceRequests), ["use_dpop_nonce", "accepted"]);
  const jkt = server.tokenRequests[1]?.dpop?.jkt;
  assert.equal(server.resourceRequests[1]?.dpop?.jkt, jkt);

  server.rotateDpopNonce();
  const second = await client.fetch(server.resourceUrl);
  assert.equal(second.status, 200);
  await second.body?.cancel();
  assert.deepEqual(refusals(server.resourceRequests).slice(2), ["use_dpop_nonce", "accepted"]);
  assert.equal(server.resourceRequests[3]?.dpop?.payload.nonce, server.dpopNonce);
  assert.equal(server.tokenRequests.length, 2); // a nonce challenge asks for no new token
});
