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
