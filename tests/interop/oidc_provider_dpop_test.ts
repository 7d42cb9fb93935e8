// Interoperability of the client's DPoP (RFC 9449) with npm:oidc-provider (panva), an
// independent implementation: DPoP-bound tokens and their key binding (§5, §6), proofs at the
// token endpoint and at a protected resource, oidc-provider's userinfo (§4.2, §7), server
// nonces at both (§8, §9), bound refresh tokens of a public client (§5), a client registered
// with dpop_bound_access_tokens (§5.2), proof algorithms, htu under a path, and clock skew.

import assert from "node:assert/strict";
import {
  Client,
  DeviceCodeGrant,
  type DeviceUserCode,
  DpopKey,
  MemoryTokenStorage,
  TokenError,
} from "../../mod.ts";
import { ManualClock } from "../_helpers.ts";
import { type Alg, keyPair } from "../_jws.ts";
import {
  CC_SECRET,
  type Exchange,
  exchangesWith,
  proofOf,
  recorder,
  sha256,
  startDpopProvider as startProvider,
  thumbprint,
} from "./_oidc_dpop.ts";
import type { RunningProvider } from "./_oidc_provider.ts";
import { approveDeviceCode } from "./_device_approval.ts";

/** A client credentials client `cc` of `op` with DPoP, its exchanges recorded. */
function ccClient(
  op: RunningProvider,
  options: { dpop?: unknown; now?: () => number; clientId?: string; tokenEndpoint?: string } = {},
) {
  const { fetch, exchanges } = recorder();
  const client = new Client({
    ...(options.tokenEndpoint ? { tokenEndpoint: options.tokenEndpoint } : { issuer: op.issuer }),
    clientId: options.clientId ?? "cc",
    clientSecret: CC_SECRET,
    scope: "read",
    dpop: (options.dpop ?? true) as boolean,
    now: options.now,
    fetch,
  });
  return { client, exchanges, tokenRequests: () => exchangesWith(exchanges, `${op.issuer}/token`) };
}

/** oidc-provider's introspection of `token`, asked by `cc` itself. */
async function introspect(op: RunningProvider, token: string): Promise<Record<string, unknown>> {
  const response = await fetch(`${op.issuer}/token/introspection`, {
    method: "POST",
    headers: { Authorization: `Basic ${btoa(`cc:${CC_SECRET}`)}` },
    body: new URLSearchParams({ token }),
  });
  assert.equal(response.status, 200);
  return await response.json();
}

/**
 * The public client `device` with DPoP, logged in with the device grant: the user (`login`)
 * approves at the first wait. Its exchanges and the codes shown are recorded.
 */
function deviceClient(
  op: RunningProvider,
  options: { clock?: ManualClock; storage?: MemoryTokenStorage; login?: string } = {},
) {
  const { fetch, exchanges } = recorder();
  const codes: DeviceUserCode[] = [];
  const client = new Client({
    issuer: op.issuer,
    clientId: "device",
    scope: "openid offline_access",
    dpop: true,
    now: options.clock?.now,
    storage: options.storage,
    fetch,
    grant: new DeviceCodeGrant({
      onUserCode: (code) => void codes.push(code),
      delay: async () => {
        if (codes.length === 1 && !approved) {
          approved = true;
          await approveDeviceCode(codes[0]!, { login: options.login });
        }
      },
    }),
  });
  let approved = false;
  return { client, exchanges, codes, userinfo: `${op.issuer}/me` };
}

/** The reasons of oidc-provider's refusals at an endpoint, which its answers do not show. */
function refusalReasons(op: RunningProvider, event = "grant.error"): string[] {
  const reasons: string[] = [];
  op.provider.on(event, (_ctx: unknown, error: { error_detail?: string }) => {
    reasons.push(error.error_detail ?? "");
  });
  return reasons;
}

/** The thumbprint of the key that signed `exchange`'s proof, computed here (RFC 7638). */
function proofKey(exchange: Exchange | undefined): Promise<string> {
  return thumbprint(proofOf(exchange).header.jwk as JsonWebKey);
}

// --- Client credentials: a DPoP-bound token (RFC 9449 §5, §6).

Deno.test("Client with dpop gets a DPoP token from oidc-provider, bound to the key of its proof", async () => {
  await using op = await startProvider();
  const { client, tokenRequests } = ccClient(op);
  await using _ = client;
  const token = await client.getToken();
  assert.equal(token.tokenType, "DPoP");
  const [request] = tokenRequests();
  const { header, claims } = proofOf(request);
  assert.equal(header.typ, "dpop+jwt");
  assert.equal(header.alg, "ES256");
  assert.equal(claims.htm, "POST");
  assert.equal(claims.htu, `${op.issuer}/token`);
  assert.equal(claims.ath, undefined, "no ath at the token endpoint");
  const introspection = await introspect(op, token.accessToken);
  assert.equal(introspection.active, true);
  assert.equal(introspection.token_type, "DPoP");
  assert.deepEqual(introspection.cnf, { jkt: await proofKey(request) });
});

for (const alg of ["ES256", "EdDSA", "RS256", "PS256"] as Alg[]) {
  Deno.test(`Client with dpop: { keyPair } (${alg}) gets a token oidc-provider binds to that key`, async () => {
    await using op = await startProvider({ algs: ["ES256", "EdDSA", "RS256", "PS256"] });
    const pair = await keyPair(alg);
    const { client, tokenRequests } = ccClient(op, { dpop: { keyPair: pair } });
    await using _ = client;
    const token = await client.getToken();
    assert.equal(token.tokenType, "DPoP");
    assert.equal(proofOf(tokenRequests()[0]).header.alg, alg);
    const jwk = await crypto.subtle.exportKey("jwk", pair.publicKey);
    const introspection = await introspect(op, token.accessToken);
    assert.deepEqual(introspection.cnf, { jkt: await thumbprint(jwk) });
  });
}

Deno.test("Client with dpop: { algorithm: 'RS256' } is told oidc-provider's algorithms before any token request", async () => {
  // oidc-provider's default dpop_signing_alg_values_supported: ES256, Ed25519, EdDSA (RFC 9449 §5.1).
  await using op = await startProvider();
  const { client, tokenRequests } = ccClient(op, { dpop: { algorithm: "RS256" } });
  await using _ = client;
  await assert.rejects(client.getToken(), (error: unknown) => {
    assert(error instanceof TokenError);
    assert.equal(error.code, "grant_failed");
    assert.match(error.message, /takes DPoP proofs signed with ES256, Ed25519, EdDSA, not RS256/);
    return true;
  });
  assert.equal(tokenRequests().length, 0, "nothing sent that would be refused");
});

Deno.test("Client with dpop: { algorithm: 'RS256' } and a tokenEndpoint (no discovery) gets oidc-provider's invalid_dpop_proof", async () => {
  await using op = await startProvider();
  const { client, tokenRequests } = ccClient(op, {
    dpop: { algorithm: "RS256" },
    tokenEndpoint: `${op.issuer}/token`,
  });
  await using _ = client;
  await assert.rejects(client.getToken(), (error: unknown) => {
    assert(error instanceof TokenError);
    assert.equal(error.error, "invalid_dpop_proof");
    assert.equal(error.status, 400);
    return true;
  });
  assert.equal(tokenRequests().length, 1, "not retried: a nonce would not help");
});

Deno.test("Client with dpop gets a token from oidc-provider mounted under a path: htu names the mounted endpoint", async () => {
  // panva/node-oidc-provider#572: htu was checked against the path without the mount.
  await using op = await startProvider({ path: "/tenant" });
  const { client, tokenRequests } = ccClient(op);
  await using _ = client;
  const token = await client.getToken();
  assert.equal(token.tokenType, "DPoP");
  assert.equal(proofOf(tokenRequests()[0]).claims.htu, `${op.issuer}/token`);
  assert.match(op.issuer, /\/tenant$/);
});

Deno.test("Client with dpop and a token endpoint URL with a query: htu without it, oidc-provider accepts", async () => {
  await using op = await startProvider();
  const { fetch, exchanges } = recorder();
  await using client = new Client({
    tokenEndpoint: `${op.issuer}/token?tenant=acme`,
    clientId: "cc",
    clientSecret: CC_SECRET,
    dpop: true,
    fetch,
  });
  assert.equal((await client.getToken()).tokenType, "DPoP");
  const [sent] = exchangesWith(exchanges, `${op.issuer}/token`);
  assert.equal(sent!.url, `${op.issuer}/token?tenant=acme`);
  assert.equal(proofOf(sent).claims.htu, `${op.issuer}/token`);
});

// --- Nonces at the token endpoint (RFC 9449 §8).

Deno.test("Client with dpop retries oidc-provider's use_dpop_nonce once, with its nonce, and gets the token", async () => {
  await using op = await startProvider({ nonces: "required" });
  const { client, tokenRequests } = ccClient(op);
  await using _ = client;
  const token = await client.getToken();
  assert.equal(token.tokenType, "DPoP");
  const [first, second] = tokenRequests();
  assert.equal(tokenRequests().length, 2);
  assert.equal(first!.status, 400);
  assert.equal(proofOf(first).claims.nonce, undefined);
  assert.ok(first!.nonce, "the answer carries a DPoP-Nonce");
  assert.equal(second!.status, 200);
  assert.equal(proofOf(second).claims.nonce, first!.nonce);
  assert.notEqual(proofOf(second).claims.jti, proofOf(first).claims.jti);
  const introspection = await introspect(op, token.accessToken);
  assert.deepEqual(introspection.cnf, { jkt: await proofKey(second) });
});

Deno.test("Client with dpop sends oidc-provider's nonce with its next token request: no second challenge", async () => {
  // opentdf/java-sdk#374, eudi-lib-ios-openid4vci-swift#95: the nonce is kept for later requests.
  await using op = await startProvider({ nonces: "required" });
  const clock = new ManualClock();
  clock.time = Date.now();
  const { client, tokenRequests } = ccClient(op, { now: clock.now });
  await using _ = client;
  const first = await client.getToken();
  assert.equal(tokenRequests().length, 2);
  clock.advance(60_000); // the token expires on the client's clock
  const renewed = await client.getToken();
  assert.notEqual(renewed.accessToken, first.accessToken);
  const requests = tokenRequests();
  assert.equal(requests.length, 3, "one request: the kept nonce was accepted");
  assert.equal(requests[2]!.status, 200);
  assert.equal(proofOf(requests[2]).claims.nonce, requests[0]!.nonce);
});

Deno.test("Client with dpop keeps the nonce oidc-provider sends with a token and sends it next time", async () => {
  // RFC 9449 §8.2: a nonce may come with a success; oidc-provider with nonceSecret does so.
  await using op = await startProvider({ nonces: "offered" });
  const clock = new ManualClock();
  clock.time = Date.now();
  const { client, tokenRequests } = ccClient(op, { now: clock.now });
  await using _ = client;
  await client.getToken();
  const [first] = tokenRequests();
  assert.equal(first!.status, 200);
  assert.equal(proofOf(first).claims.nonce, undefined);
  assert.ok(first!.nonce, "the success carries a DPoP-Nonce");
  clock.advance(60_000);
  await client.getToken();
  const [, second] = tokenRequests();
  assert.equal(tokenRequests().length, 2);
  assert.equal(proofOf(second).claims.nonce, first!.nonce);
});

// --- The proof's iat and the client's clock (RFC 9449 §11.1; oidc-provider's 300 s window).

Deno.test("Client with dpop and a clock 4 minutes ahead: oidc-provider accepts the proof's iat", async () => {
  await using op = await startProvider();
  const { client, tokenRequests } = ccClient(op, { now: () => Date.now() + 240_000 });
  await using _ = client;
  assert.equal((await client.getToken()).tokenType, "DPoP");
  assert.equal(tokenRequests().length, 1);
});

Deno.test("Client with dpop and a clock 10 minutes ahead: oidc-provider without nonces refuses the proof", async () => {
  await using op = await startProvider();
  const { client, tokenRequests } = ccClient(op, { now: () => Date.now() + 600_000 });
  await using _ = client;
  await assert.rejects(client.getToken(), (error: unknown) => {
    assert(error instanceof TokenError);
    assert.equal(error.error, "invalid_dpop_proof");
    assert.equal(error.errorDescription, "DPoP proof iat is not recent enough");
    return true;
  });
  assert.equal(tokenRequests().length, 1);
});

Deno.test("Client with dpop and a clock 10 minutes behind: oidc-provider's nonce makes up for it", async () => {
  // With nonceSecret, an iat out of the window gets use_dpop_nonce; a proof with a nonce is
  // dated by the nonce, not by iat (RFC 9449 §11.1).
  await using op = await startProvider({ nonces: "offered" });
  const { client, tokenRequests } = ccClient(op, { now: () => Date.now() - 600_000 });
  await using _ = client;
  assert.equal((await client.getToken()).tokenType, "DPoP");
  const [first, second] = tokenRequests();
  assert.equal(tokenRequests().length, 2);
  assert.equal(first!.status, 400);
  assert.equal(second!.status, 200);
  assert.equal(proofOf(second).claims.nonce, first!.nonce);
});

// --- A client registered with dpop_bound_access_tokens (RFC 9449 §5.2).

Deno.test("Client without dpop gets invalid_grant from oidc-provider for a client bound to DPoP, and sends no resource request", async () => {
  await using op = await startProvider();
  const { client, tokenRequests } = ccClient(op, { clientId: "cc-bound", dpop: false });
  await using _ = client;
  const refusals = refusalReasons(op);
  await assert.rejects(client.getToken(), (error: unknown) => {
    assert(error instanceof TokenError);
    assert.equal(error.error, "invalid_grant");
    // oidc-provider keeps its reason to itself (its grant.error event's error_detail has it).
    assert.equal(error.errorDescription, "grant request is invalid");
    assert.equal(error.status, 400);
    return true;
  });
  // oidc-provider's own reason; in a run with other providers loaded it may give only its
  // generic text, so the count is what is asserted.
  assert.equal(refusals.length, 1);
  assert.match(refusals[0]!, /DPoP proof JWT not provided|grant request is invalid/);
  const response = await client.fetch(op.resourceUrl);
  assert.equal(response.status, 400);
  assert.equal(TokenError.fromResponse(response)?.error, "invalid_grant");
  await response.body?.cancel();
  assert.equal(op.resourceRequests, 0, "no resource request went out");
  assert.equal(tokenRequests().every((request) => request.dpop === null), true);
  // The same registration with DPoP gets its token.
  const bound = ccClient(op, { clientId: "cc-bound" });
  await using __ = bound.client;
  assert.equal((await bound.client.getToken()).tokenType, "DPoP");
});

// --- oidc-provider's userinfo as the protected resource (RFC 9449 §7).

Deno.test("Client with dpop calls oidc-provider's userinfo with Authorization: DPoP and a proof with ath", async () => {
  // panva/openid-client#691: the proof to userinfo lacked ath.
  await using op = await startProvider();
  const { client, exchanges, codes, userinfo } = deviceClient(op);
  await using _ = client;
  const response = await client.fetch(userinfo);
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), { sub: "alice" });
  assert.equal(codes.length, 1);
  const token = await client.getToken();
  assert.equal(token.tokenType, "DPoP");
  const [sent] = exchangesWith(exchanges, userinfo);
  assert.equal(sent!.authorization, `DPoP ${token.accessToken}`);
  const { claims } = proofOf(sent);
  assert.equal(claims.htm, "GET");
  assert.equal(claims.htu, userinfo);
  assert.equal(claims.ath, await sha256(token.accessToken));
  // The proof's key is the one the token endpoint bound the token to.
  const tokenRequest = exchangesWith(exchanges, `${op.issuer}/token`).at(-1);
  assert.equal(await proofKey(sent), await proofKey(tokenRequest));
});

Deno.test("oidc-provider's userinfo refuses the client's DPoP token sent as Bearer", async () => {
  await using op = await startProvider();
  const { client, userinfo } = deviceClient(op);
  await using _ = client;
  const { accessToken } = await client.getToken();
  const refusals = refusalReasons(op, "userinfo.error");
  const response = await fetch(userinfo, { headers: { Authorization: `Bearer ${accessToken}` } });
  await response.body?.cancel();
  assert.equal(response.status, 401);
  assert.match(response.headers.get("www-authenticate") ?? "", /^DPoP .*error="invalid_token"/);
  assert.deepEqual(refusals, ["failed jkt verification"]);
  // The client itself still gets in, with its proof.
  const again = await client.fetch(userinfo);
  assert.equal(again.status, 200);
  await again.body?.cancel();
});

Deno.test("Client with dpop calls oidc-provider's userinfo with a query: htu without it", async () => {
  // FHIDev/Fhi.HelseId#462, AxisCommunications/go-dpop#9: htu is the URL without its query.
  await using op = await startProvider();
  const { client, exchanges, userinfo } = deviceClient(op);
  await using _ = client;
  const response = await client.fetch(`${userinfo}?scope=openid`);
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), { sub: "alice" });
  const [sent] = exchangesWith(exchanges, userinfo);
  assert.equal(sent!.url, `${userinfo}?scope=openid`);
  assert.equal(proofOf(sent).claims.htu, userinfo);
});

Deno.test("Client with dpop replays oidc-provider userinfo's use_dpop_nonce once, then sends the kept nonce", async () => {
  await using op = await startProvider({ nonces: "required" });
  const { client, exchanges, userinfo } = deviceClient(op);
  await using _ = client;
  const response = await client.fetch(userinfo);
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), { sub: "alice" });
  const [first, second] = exchangesWith(exchanges, userinfo);
  assert.equal(exchangesWith(exchanges, userinfo).length, 2);
  assert.equal(first!.status, 401);
  assert.equal(proofOf(first).claims.nonce, undefined);
  assert.equal(second!.status, 200);
  assert.equal(proofOf(second).claims.nonce, first!.nonce);
  assert.equal(second!.authorization, first!.authorization, "the same token, not a new one");
  const tokenRequests = exchangesWith(exchanges, `${op.issuer}/token`).length;

  const again = await client.fetch(userinfo);
  assert.equal(again.status, 200);
  await again.body?.cancel();
  assert.equal(exchangesWith(exchanges, userinfo).length, 3, "one request: the nonce was kept");
  assert.equal(exchangesWith(exchanges, `${op.issuer}/token`).length, tokenRequests);
});

Deno.test("Client with dpop keeps the nonce oidc-provider's userinfo sends with a 200", async () => {
  // danielfett/draft-dpop#152: a resource may send a new nonce with a success (RFC 9449 §9).
  await using op = await startProvider({ nonces: "offered" });
  const { client, exchanges, userinfo } = deviceClient(op);
  await using _ = client;
  for (let i = 0; i < 2; i++) {
    const response = await client.fetch(userinfo);
    assert.equal(response.status, 200);
    await response.body?.cancel();
  }
  const [first, second] = exchangesWith(exchanges, userinfo);
  assert.equal(exchangesWith(exchanges, userinfo).length, 2);
  assert.equal(proofOf(first).claims.nonce, undefined);
  assert.ok(first!.nonce, "the success carries a DPoP-Nonce");
  assert.equal(proofOf(second).claims.nonce, first!.nonce);
});

Deno.test("Client with dpop replays a POST to oidc-provider's userinfo with its body after use_dpop_nonce", async () => {
  await using op = await startProvider({ nonces: "required" });
  const { client, exchanges, userinfo } = deviceClient(op);
  await using _ = client;
  const response = await client.fetch(userinfo, {
    method: "POST",
    body: new URLSearchParams({ scope: "openid" }),
  });
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), { sub: "alice" });
  const sent = exchangesWith(exchanges, userinfo);
  assert.deepEqual(sent.map((e) => [e.status, e.form?.get("scope")]), [[401, "openid"], [
    200,
    "openid",
  ]]);
  assert.equal(proofOf(sent[1]).claims.htm, "POST");
});

Deno.test("Client with dpop renews after oidc-provider's userinfo refuses its token, after a nonce replay: three sends", async () => {
  await using op = await startProvider({ nonces: "required" });
  const { client, exchanges, codes, userinfo } = deviceClient(op);
  await using _ = client;
  const first = await client.getToken();
  // oidc-provider forgets the access token (revoked, or expired on its clock).
  await (await op.provider.AccessToken.find(first.accessToken))?.destroy();
  const response = await client.fetch(userinfo);
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), { sub: "alice" });
  const renewed = await client.getToken();
  assert.notEqual(renewed.accessToken, first.accessToken);
  assert.equal(codes.length, 1, "renewed with the refresh token");
  const sent = exchangesWith(exchanges, userinfo);
  assert.deepEqual(sent.map((e) => [e.status, e.authorization]), [
    [401, `DPoP ${first.accessToken}`], // use_dpop_nonce
    [401, `DPoP ${first.accessToken}`], // invalid_token
    [200, `DPoP ${renewed.accessToken}`],
  ]);
  assert.equal(proofOf(sent[2]).claims.ath, await sha256(renewed.accessToken));
});

// --- The refresh token of a public client is bound to the key (RFC 9449 §5).

Deno.test("Client with dpop renews at oidc-provider with its bound refresh token; another key cannot use it", async () => {
  await using op = await startProvider();
  const clock = new ManualClock();
  clock.time = Date.now(); // oidc-provider's tokens are dated by its own clock
  const { client, exchanges, codes, userinfo } = deviceClient(op, { clock });
  await using _ = client;
  const first = await client.getToken();
  assert(first.refreshToken, "offline_access: a refresh token");
  const jkt = await proofKey(exchangesWith(exchanges, `${op.issuer}/token`).at(-1));
  const stored = await op.provider.RefreshToken.find(first.refreshToken);
  assert.equal(stored?.jkt, jkt, "oidc-provider bound the refresh token to the key");

  // The refresh token with a proof of another key: refused, and not consumed.
  const refusals = refusalReasons(op);
  const other = await DpopKey.generate();
  const stolen = await fetch(`${op.issuer}/token`, {
    method: "POST",
    headers: { DPoP: await other.proof({ method: "POST", url: `${op.issuer}/token` }) },
    body: new URLSearchParams({
      grant_type: "refresh_token",
      refresh_token: first.refreshToken,
      client_id: "device",
    }),
  });
  assert.equal(stolen.status, 400);
  assert.deepEqual(await stolen.json(), {
    error: "invalid_grant",
    error_description: "grant request is invalid",
  });
  // oidc-provider's own reason (or its generic text in a run with other providers loaded).
  assert.equal(refusals.length, 1);
  assert.match(refusals[0]!, /failed jkt verification|grant request is invalid/);

  clock.advance(60_000); // the access token expires on the client's clock
  const renewed = await client.getToken();
  assert.notEqual(renewed.accessToken, first.accessToken);
  assert.equal(renewed.tokenType, "DPoP");
  assert.equal(codes.length, 1, "renewed with the refresh token, no new code");
  const refresh = exchangesWith(exchanges, `${op.issuer}/token`).at(-1);
  assert.equal(refresh?.form?.get("grant_type"), "refresh_token");
  assert.equal(refresh?.status, 200);
  assert.equal(await proofKey(refresh), jkt, "the same key");
  assert.equal((await op.provider.AccessToken.find(renewed.accessToken))?.jkt, jkt);
  const response = await client.fetch(userinfo);
  assert.equal(response.status, 200);
  await response.body?.cancel();
});

Deno.test("Clients with dpop on one storage: a client with another key logs in on its own at oidc-provider", async () => {
  await using op = await startProvider();
  const storage = new MemoryTokenStorage();
  const alice = deviceClient(op, { storage });
  const bob = deviceClient(op, { storage, login: "bob" });
  await using _ = alice.client;
  await using __ = bob.client;
  const aliceToken = await alice.client.getToken();
  const bobToken = await bob.client.getToken();
  assert.equal(bob.codes.length, 1, "its own device login");
  assert.notEqual(bobToken.accessToken, aliceToken.accessToken);
  const bobAnswer = await bob.client.fetch(bob.userinfo);
  assert.deepEqual(await bobAnswer.json(), { sub: "bob" });
  const aliceAnswer = await alice.client.fetch(alice.userinfo);
  assert.deepEqual(await aliceAnswer.json(), { sub: "alice" });
  assert.equal(alice.codes.length, 1);
  const aliceAt = await op.provider.AccessToken.find(aliceToken.accessToken);
  const bobAt = await op.provider.AccessToken.find(bobToken.accessToken);
  assert.notEqual(aliceAt?.jkt, bobAt?.jkt);
});
