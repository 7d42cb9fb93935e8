// The stand-in resource with bearer and DPoP-bound tokens (RFC 6750 §2.1, RFC 9449 §7, §9), through
// real requests.

import assert from "node:assert/strict";
import { accessTokenHash, DpopKey } from "../../src/dpop.ts";
import { type AuthServer, type AuthServerOptions, startAuthServer } from "../../testing.ts";
import { CLIENT_CREDENTIALS, handKey, handProof, post, proofClaims } from "./_dpop_proofs.ts";

const ALGS = 'algs="ES256 EdDSA RS256 PS256"';

/** A DPoP-bound access token of `key`, from the server's token endpoint. */
async function dpopToken(server: AuthServer, key: DpopKey): Promise<string> {
  const proof = await key.proof({
    method: "POST",
    url: server.tokenEndpoint,
    nonce: server.dpopNonce,
  });
  const { json } = await post(server.tokenEndpoint, CLIENT_CREDENTIALS, { DPoP: proof });
  assert.equal(json.token_type, "DPoP");
  return String(json.access_token);
}

/** A bearer access token from the server's token endpoint. */
async function bearerToken(server: AuthServer): Promise<string> {
  const { json } = await post(server.tokenEndpoint, CLIENT_CREDENTIALS);
  assert.equal(json.token_type, "Bearer");
  return String(json.access_token);
}

/** A request to the resource: status, WWW-Authenticate, DPoP-Nonce and body. */
async function call(url: string, headers: HeadersInit, method = "GET") {
  const response = await fetch(url, { method, headers });
  return {
    status: response.status,
    challenge: response.headers.get("WWW-Authenticate"),
    nonce: response.headers.get("DPoP-Nonce"),
    json: await response.json() as Record<string, unknown>,
  };
}

/** `Authorization: DPoP <token>` and a proof by `key` for `method` and `url`. */
async function dpopHeaders(
  key: DpopKey,
  token: string,
  url: string,
  method = "GET",
  nonce?: string,
) {
  const proof = await key.proof({ method, url, accessToken: token, nonce });
  return { Authorization: `DPoP ${token}`, DPoP: proof };
}

async function setUp(options: AuthServerOptions = {}) {
  const server = await startAuthServer(options);
  const key = await DpopKey.generate();
  const token = await dpopToken(server, key);
  return { server, key, token, [Symbol.asyncDispose]: () => server.close() };
}

Deno.test("ResourceDesk.handle() serves a DPoP-bound token with a proof by its key, and records both", async () => {
  await using setup = await setUp();
  const { server, key, token } = setup;
  const url = server.url("/resource/items?page=2");
  const answer = await call(url, await dpopHeaders(key, token, url));
  assert.equal(answer.status, 200);
  assert.deepEqual(answer.json, { method: "GET", path: "/resource/items", bytes: 0 });
  const recorded = server.resourceRequests[0];
  assert.equal(recorded?.token, token);
  assert.equal(recorded?.dpop?.jkt, await key.thumbprint());
  assert.equal(recorded?.dpop?.payload.ath, await accessTokenHash(token));
  assert.equal(recorded?.dpop?.payload.htu, server.url("/resource/items"));
});

Deno.test("ResourceDesk.handle() takes the DPoP scheme in any case", async () => {
  await using setup = await setUp();
  const { server, key, token } = setup;
  const headers = await dpopHeaders(key, token, server.resourceUrl);
  const answer = await call(server.resourceUrl, { ...headers, Authorization: `dpop ${token}` });
  assert.equal(answer.status, 200);
});

Deno.test("ResourceDesk.handle() refuses an ath that is not the token's hash", async () => {
  await using setup = await setUp();
  const { server, key, token } = setup;
  const proof = await key.proof({ method: "GET", url: server.resourceUrl, accessToken: "other" });
  const answer = await call(server.resourceUrl, { Authorization: `DPoP ${token}`, DPoP: proof });
  assert.equal(answer.status, 401);
  assert.equal(
    answer.challenge,
    `DPoP error="invalid_dpop_proof", error_description="Invalid DPoP proof: 'ath' is missing or not the hash of the access token", ${ALGS}`,
  );
  assert.equal(answer.json.error, "invalid_dpop_proof");
  assert.equal(server.resourceRequests[0]?.dpop, undefined);
  assert.equal(server.resourceRequests[0]?.dpopRefusal?.error, "invalid_dpop_proof");
  const noAth = await key.proof({ method: "GET", url: server.resourceUrl });
  const without = await call(server.resourceUrl, { Authorization: `DPoP ${token}`, DPoP: noAth });
  assert.match(String(without.challenge), /^DPoP error="invalid_dpop_proof".*'ath' is missing/);
});

Deno.test("ResourceDesk.handle() refuses a token bound to another key", async () => {
  await using setup = await setUp();
  const { server, token } = setup;
  const thief = await DpopKey.generate();
  const answer = await call(
    server.resourceUrl,
    await dpopHeaders(thief, token, server.resourceUrl),
  );
  assert.equal(answer.status, 401);
  assert.equal(
    answer.challenge,
    `DPoP error="invalid_token", error_description="The access token is bound to another DPoP key", ${ALGS}`,
  );
  assert.equal(server.resourceRequests[0]?.dpop?.jkt, await thief.thumbprint());
});

Deno.test("ResourceDesk.handle() refuses a DPoP-bound token sent as Bearer", async () => {
  await using setup = await setUp();
  const { server, key, token } = setup;
  const bare = await call(server.resourceUrl, { Authorization: `Bearer ${token}` });
  assert.equal(bare.status, 401);
  assert.match(String(bare.challenge), /^DPoP error="invalid_token", .*DPoP-bound/);
  assert.match(String(bare.challenge), new RegExp(`${ALGS}$`));
  // Even with a valid proof alongside: the scheme must be DPoP (RFC 9449 §7.2).
  const proofed = await call(server.resourceUrl, {
    ...await dpopHeaders(key, token, server.resourceUrl),
    Authorization: `Bearer ${token}`,
  });
  assert.equal(proofed.status, 401);
  assert.equal(server.resourceRequests[0]?.token, token);
});

Deno.test("ResourceDesk.handle() refuses a bearer token sent with the DPoP scheme", async () => {
  await using server = await startAuthServer();
  const token = await bearerToken(server);
  const key = await DpopKey.generate();
  const answer = await call(server.resourceUrl, await dpopHeaders(key, token, server.resourceUrl));
  assert.equal(answer.status, 401);
  assert.match(String(answer.challenge), /^DPoP error="invalid_token", .*not DPoP-bound/);
  // As Bearer it is served, as before.
  const bearer = await call(server.resourceUrl, { Authorization: `Bearer ${token}` });
  assert.equal(bearer.status, 200);
});

Deno.test("ResourceDesk.handle() refuses the DPoP scheme without a proof", async () => {
  await using setup = await setUp();
  const { server, token } = setup;
  const answer = await call(server.resourceUrl, { Authorization: `DPoP ${token}` });
  assert.equal(answer.status, 401);
  assert.match(String(answer.challenge), /^DPoP error="invalid_dpop_proof", .*none was sent/);
});

Deno.test("ResourceDesk.handle() checks htm and htu against the resource request", async () => {
  await using setup = await setUp();
  const { server, key, token } = setup;
  const url = server.url("/resource/items");
  const wrongMethod = await call(url, await dpopHeaders(key, token, url, "GET"), "POST");
  assert.match(String(wrongMethod.challenge), /invalid_dpop_proof.*'htm' 'GET' is not/);
  const wrongPath = await call(url, await dpopHeaders(key, token, server.url("/resource/other")));
  assert.match(String(wrongPath.challenge), /invalid_dpop_proof.*'htu'/);
  const put = await call(url, await dpopHeaders(key, token, url, "PUT"), "PUT");
  assert.equal(put.status, 200);
});

Deno.test("ResourceDesk.handle() refuses a replayed resource proof", async () => {
  await using setup = await setUp();
  const { server, key, token } = setup;
  const headers = await dpopHeaders(key, token, server.resourceUrl);
  assert.equal((await call(server.resourceUrl, headers)).status, 200);
  const replay = await call(server.resourceUrl, headers);
  assert.equal(replay.status, 401);
  assert.match(String(replay.challenge), /invalid_dpop_proof.*'jti' was used already/);
});

Deno.test("ResourceDesk.handle() refuses a revoked or unknown token sent with a valid proof", async () => {
  await using setup = await setUp();
  const { server, key, token } = setup;
  server.revoke(token);
  const revoked = await call(server.resourceUrl, await dpopHeaders(key, token, server.resourceUrl));
  assert.equal(revoked.status, 401);
  assert.match(String(revoked.challenge), /^DPoP error="invalid_token", .*unknown, revoked/);
  const unknown = await call(
    server.resourceUrl,
    await dpopHeaders(key, "forged", server.resourceUrl),
  );
  assert.match(String(unknown.challenge), /^DPoP error="invalid_token"/);
});

Deno.test("ResourceDesk.handle() demands the current nonce when asked to, and sends it with every answer", async () => {
  await using setup = await setUp({ dpopNonce: { resource: true } });
  const { server, key, token } = setup;
  const url = server.resourceUrl;
  const missing = await call(url, await dpopHeaders(key, token, url));
  assert.equal(missing.status, 401);
  assert.equal(
    missing.challenge,
    `DPoP error="use_dpop_nonce", error_description="The server requires a nonce in the DPoP proof", ${ALGS}`,
  );
  assert.equal(missing.nonce, server.dpopNonce);
  assert.equal(server.resourceRequests[0]?.dpopRefusal?.error, "use_dpop_nonce");

  const first = server.dpopNonce;
  const served = await call(url, await dpopHeaders(key, token, url, "GET", first));
  assert.equal(served.status, 200);
  assert.equal(served.nonce, first); // RFC 9449 §9: a 200 carries it too

  const second = server.rotateDpopNonce();
  const stale = await call(url, await dpopHeaders(key, token, url, "GET", first));
  assert.equal(stale.status, 401);
  assert.match(String(stale.challenge), /^DPoP error="use_dpop_nonce"/);
  assert.equal(stale.nonce, second);
  const again = await call(url, await dpopHeaders(key, token, url, "GET", second));
  assert.equal(again.status, 200);
  const refusals = server.resourceRequests.map((r) => r.dpopRefusal?.error ?? null);
  assert.deepEqual(refusals, ["use_dpop_nonce", null, "use_dpop_nonce", null]);
});

Deno.test("ResourceDesk.handle() demands no nonce of the resource when only the token endpoint does", async () => {
  await using setup = await setUp({ dpopNonce: { token: true } });
  const { server, key, token } = setup;
  const answer = await call(server.resourceUrl, await dpopHeaders(key, token, server.resourceUrl));
  assert.equal(answer.status, 200);
  assert.equal(answer.nonce, null);
});

Deno.test("ResourceDesk.handle() keeps the Bearer challenge for bearer failures", async () => {
  await using server = await startAuthServer({ dpopNonce: { resource: true } });
  const cases: Record<string, string>[] = [
    {},
    { Authorization: "Bearer forged" },
    { Authorization: "Basic eA==" },
  ];
  for (const headers of cases) {
    const answer = await call(server.resourceUrl, headers);
    assert.equal(answer.status, 401);
    assert.equal(answer.challenge, 'Bearer error="invalid_token"');
    assert.deepEqual(answer.json, { error: "invalid_token" });
  }
});

Deno.test("ResourceDesk.handle() gives custom routes the DPoP token and its verified proof", async () => {
  await using setup = await setUp();
  const { server, key, token } = setup;
  server.route("/api/me", (_request, recorded) =>
    Response.json({
      token: recorded.token === token,
      jkt: recorded.dpop?.jkt ?? null,
      bound: recorded.token !== undefined && server.accepts(recorded.token),
    }));
  const url = server.url("/api/me");
  const answer = await call(url, await dpopHeaders(key, token, url));
  assert.deepEqual(answer.json, { token: true, jkt: await key.thumbprint(), bound: true });
  // A refused proof reaches the route too: the handler decides, the record says why.
  const forged = await handProof(await handKey(), proofClaims("GET", url));
  const refused = await call(url, { Authorization: `DPoP ${token}`, DPoP: forged });
  assert.deepEqual(refused.json, { token: true, jkt: null, bound: true });
  assert.equal(server.resourceRequests[1]?.dpopRefusal?.error, "invalid_dpop_proof");
});

Deno.test("ResourceDesk.handle() records and answers 404 for a path it does not serve", async () => {
  await using setup = await setUp();
  const { server, key, token } = setup;
  const url = server.url("/elsewhere");
  const response = await fetch(url, { headers: await dpopHeaders(key, token, url) });
  assert.equal(response.status, 404);
  await response.body?.cancel();
  assert.equal(server.resourceRequests[0]?.token, token);
});

/** A client credentials token for `resource`s and `scope`: the answer's JSON. */
async function tokenFor(server: AuthServer, resources: string[], scope?: string) {
  const form = new URLSearchParams(CLIENT_CREDENTIALS);
  for (const resource of resources) form.append("resource", resource);
  if (scope !== undefined) form.set("scope", scope);
  const response = await fetch(server.tokenEndpoint, { method: "POST", body: form });
  return { status: response.status, json: await response.json() as Record<string, unknown> };
}

Deno.test("ResourceDesk.handle() serves a token whose audience names the resource or a prefix of the URL (RFC 8707)", async () => {
  await using server = await startAuthServer();
  const { json } = await tokenFor(server, [server.resourceUrl, "https://other.example/api"]);
  const token = String(json.access_token);
  assert.deepEqual(server.audienceOf(token), [server.resourceUrl, "https://other.example/api"]);
  const bearer = { Authorization: `Bearer ${token}` };
  assert.equal((await call(server.url("/resource/items?q=1"), bearer)).status, 200);
  const origin = String((await tokenFor(server, [`${server.origin}/`])).json.access_token);
  assert.equal((await call(server.resourceUrl, { Authorization: `Bearer ${origin}` })).status, 200);
  const any = String((await tokenFor(server, [])).json.access_token);
  assert.equal(server.audienceOf(any), undefined);
  assert.equal((await call(server.resourceUrl, { Authorization: `Bearer ${any}` })).status, 200);
  assert.equal(server.audienceOf("unknown"), undefined);
});

Deno.test("ResourceDesk.handle() refuses a token for another audience with 401 invalid_token", async () => {
  await using server = await startAuthServer({ protectedResource: {} });
  for (
    const audience of [
      "https://other.example/api",
      `${server.resourceUrl}/items`, // narrower than the URL requested
      `${server.origin}/res`, // a prefix, but not at a path segment boundary
    ]
  ) {
    const { json } = await tokenFor(server, [audience]);
    const refused = await call(server.resourceUrl, {
      Authorization: `Bearer ${json.access_token}`,
    });
    assert.equal(refused.status, 401, audience);
    assert.deepEqual(refused.json, { error: "invalid_token", error_description: "wrong audience" });
    assert.equal(
      refused.challenge,
      `Bearer error="invalid_token", error_description="wrong audience", resource_metadata="${server.resourceMetadataUrl}"`,
    );
  }
  await using dpopServer = await startAuthServer();
  const key = await DpopKey.generate();
  const proof = await key.proof({ method: "POST", url: dpopServer.tokenEndpoint });
  const form = { ...CLIENT_CREDENTIALS, resource: "https://other.example/api" };
  const { json } = await post(dpopServer.tokenEndpoint, form, { DPoP: proof });
  const token = String(json.access_token);
  const refused = await call(
    dpopServer.resourceUrl,
    await dpopHeaders(key, token, dpopServer.resourceUrl),
  );
  assert.equal(refused.status, 401);
  assert.match(
    refused.challenge!,
    /^DPoP error="invalid_token", error_description="wrong audience"/,
  );
});

Deno.test("ResourceDesk.handle() takes protectedResource.resource as the resource's audience", async () => {
  await using server = await startAuthServer({
    protectedResource: { resource: "https://api.example.com/mcp" },
  });
  const { json } = await tokenFor(server, ["https://api.example.com/mcp"]);
  const served = await call(server.url("/resource/x"), {
    Authorization: `Bearer ${json.access_token}`,
  });
  assert.equal(served.status, 200);
});

Deno.test("GrantDesk.grant() answers invalid_target for a resource that is not an absolute URI without fragment", async () => {
  await using server = await startAuthServer();
  for (const resource of ["/resource", "api.example.com", `${server.resourceUrl}#part`]) {
    const { status, json } = await tokenFor(server, [server.resourceUrl, resource]);
    assert.equal(status, 400, resource);
    assert.equal(json.error, "invalid_target", resource);
  }
  assert.equal(server.issuedTokens.length, 0);
});

Deno.test("LoginDesk carries the authorization request's resources to the code's tokens, which may narrow them", async () => {
  await using server = await startAuthServer();
  const redirectUri = "http://127.0.0.1:9/callback";
  const authorize = async (resources: string[]) => {
    const url = new URL(server.authorizationEndpoint);
    url.search = new URLSearchParams([
      ["response_type", "code"],
      ["client_id", "cli"],
      ["redirect_uri", redirectUri],
      ["code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"],
      ["code_challenge_method", "S256"],
      ...resources.map((resource) => ["resource", resource]),
    ]).toString();
    const response = await fetch(url, { redirect: "manual" });
    await response.body?.cancel();
    return new URL(response.headers.get("location")!).searchParams;
  };
  const exchange = async (resources: string[]) => {
    const code = (await authorize([server.resourceUrl, "https://b.example/"])).get("code")!;
    const form = new URLSearchParams({
      grant_type: "authorization_code",
      code,
      client_id: "cli",
      redirect_uri: redirectUri,
      code_verifier: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
    });
    for (const resource of resources) form.append("resource", resource);
    const response = await fetch(server.tokenEndpoint, { method: "POST", body: form });
    return { status: response.status, json: await response.json() as Record<string, unknown> };
  };
  const whole = await exchange([]);
  assert.deepEqual(server.audienceOf(String(whole.json.access_token)), [
    server.resourceUrl,
    "https://b.example/",
  ]);
  const narrowed = await exchange([server.resourceUrl]);
  assert.deepEqual(server.audienceOf(String(narrowed.json.access_token)), [server.resourceUrl]);
  const widened = await exchange(["https://c.example/"]);
  assert.deepEqual([widened.status, widened.json.error], [400, "invalid_target"]);

  const refresh = async (resource?: string) => {
    const form = new URLSearchParams({
      grant_type: "refresh_token",
      refresh_token: String(whole.json.refresh_token),
      client_id: "cli",
    });
    if (resource !== undefined) form.set("resource", resource);
    const response = await fetch(server.tokenEndpoint, { method: "POST", body: form });
    return await response.json() as Record<string, unknown>;
  };
  assert.equal(server.audienceOf(String((await refresh()).access_token))?.length, 2);
  assert.deepEqual(server.audienceOf(String((await refresh("https://b.example/")).access_token)), [
    "https://b.example/",
  ]);
  // A refresh may name any resource, as a refresh token that serves several APIs does.
  assert.deepEqual(server.audienceOf(String((await refresh("https://c.example/")).access_token)), [
    "https://c.example/",
  ]);

  const refused = await authorize(["not a uri"]);
  assert.equal(refused.get("error"), "invalid_target");
});

Deno.test("ResourceDesk.handle() answers a token without the required scope 403 insufficient_scope (RFC 6750 §3.1)", async () => {
  await using server = await startAuthServer({ protectedResource: {} });
  const narrow = String((await tokenFor(server, [], "profile mcp")).json.access_token);
  const bearer = { Authorization: `Bearer ${narrow}` };
  assert.equal((await call(server.resourceUrl, bearer)).status, 200); // nothing required yet
  server.requiredScope = "mcp tools";
  const refused = await call(server.resourceUrl, bearer);
  assert.equal(refused.status, 403);
  assert.deepEqual(refused.json, {
    error: "insufficient_scope",
    error_description: "The access token lacks the scope tools",
  });
  assert.equal(
    refused.challenge,
    `Bearer error="insufficient_scope", scope="mcp tools", resource_metadata="${server.resourceMetadataUrl}"`,
  );
  const none = String((await tokenFor(server, [])).json.access_token);
  assert.equal((await call(server.resourceUrl, { Authorization: `Bearer ${none}` })).status, 403);
  const wide = String((await tokenFor(server, [], "tools profile mcp")).json.access_token);
  assert.equal((await call(server.resourceUrl, { Authorization: `Bearer ${wide}` })).status, 200);
  server.requiredScope = undefined;
  assert.equal((await call(server.resourceUrl, bearer)).status, 200);
});

Deno.test("ResourceDesk.handle() challenges a DPoP-bound token without the required scope with the DPoP scheme", async () => {
  await using set = await setUp({ dpopNonce: { resource: true } });
  const { server, key, token } = set;
  server.requiredScope = "mcp";
  const headers = await dpopHeaders(key, token, server.resourceUrl, "GET", server.dpopNonce);
  const refused = await call(server.resourceUrl, headers);
  assert.equal(refused.status, 403);
  assert.equal(refused.challenge, `DPoP error="insufficient_scope", scope="mcp", ${ALGS}`);
  assert.equal(refused.nonce, server.dpopNonce);
});
