import assert from "node:assert/strict";
import { ClientAssertion } from "../../src/client_assertion.ts";
import { type AuthServer, startAuthServer } from "../../testing.ts";
import { ManualClock } from "../_helpers.ts";
import { type Alg, keyPair } from "../_jws.ts";
import { assertionClaims, postForm, sign } from "./_sign.ts";

const ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const ALGS: Alg[] = ["RS256", "PS256", "ES256", "EdDSA"];

/** A client credentials request authenticated by `assertion`. */
function withAssertion(server: AuthServer, assertion: string, extra: Record<string, string> = {}) {
  return postForm(server.tokenEndpoint, {
    grant_type: "client_credentials",
    client_assertion_type: ASSERTION_TYPE,
    client_assertion: assertion,
    ...extra,
  });
}

function rejected(reason: string) {
  return {
    status: 401,
    json: { error: "invalid_client", error_description: `Client assertion rejected: ${reason}` },
  };
}

for (const alg of ALGS) {
  Deno.test(`AuthServer accepts private_key_jwt signed ${alg} with a registered CryptoKey or JWK`, async () => {
    const { publicKey, privateKey } = await keyPair(alg);
    const jwk = await crypto.subtle.exportKey("jwk", publicKey);
    for (const registered of [publicKey, jwk]) {
      await using server = await startAuthServer({ clientId: "app", clientKeys: [registered] });
      const assertion = new ClientAssertion({ clientId: "app", clientKey: privateKey });
      const form = await assertion.formParams({ endpoint: server.tokenEndpoint });
      form.set("grant_type", "client_credentials");
      const response = await fetch(server.tokenEndpoint, { method: "POST", body: form });
      assert.equal(response.status, 200, await response.clone().text());
      assert.equal((await response.json()).access_token, server.issuedTokens[0]);
      const [recorded] = server.tokenRequests;
      assert.equal(recorded?.clientAuthMethod, "private_key_jwt");
      assert.equal(recorded?.clientAssertion?.header.alg, alg);
      assert.equal(recorded?.clientAssertion?.claims.iss, "app");
      assert.equal(recorded?.clientAssertion?.claims.aud, server.tokenEndpoint);
    }
  });
}

Deno.test("AuthServer accepts client_secret_jwt: HS256 over the client secret", async () => {
  await using server = await startAuthServer({ clientId: "app", clientSecret: "s3cret" });
  const assertion = new ClientAssertion({ clientId: "app", clientSecret: "s3cret" });
  const form = await assertion.formParams({
    endpoint: server.tokenEndpoint,
    issuer: server.issuer,
  });
  const ok = await withAssertion(server, form.get("client_assertion") ?? "");
  assert.equal(ok.status, 200);
  assert.equal(server.tokenRequests[0]?.clientAuthMethod, "client_secret_jwt");
  assert.equal(server.tokenRequests[0]?.clientAssertion?.claims.aud, server.issuer);
  const forged = await sign(assertionClaims("app", server.issuer), "guess", "HS256");
  assert.deepEqual(
    await withAssertion(server, forged),
    rejected("its signature does not verify with the registered HS256 keys"),
  );
});

Deno.test("AuthServer refuses a client assertion with 401 invalid_client naming the failed check", async () => {
  const clock = new ManualClock();
  const { publicKey, privateKey } = await keyPair("ES256");
  const other = await keyPair("ES256");
  await using server = await startAuthServer({
    clientId: "app",
    clientKeys: [publicKey],
    now: clock.now,
  });
  const good = () => assertionClaims("app", server.issuer, clock.time);
  const s = (claims: Record<string, unknown>, header?: Record<string, unknown>) =>
    sign(claims, privateKey, "ES256", header);
  const now = Math.floor(clock.time / 1000);
  const cases: [string, [string, Record<string, string>?]][] = [
    [
      `"client_assertion_type" is not ${ASSERTION_TYPE}`,
      [await s(good()), { client_assertion_type: "jwt" }],
    ],
    ['"client_assertion" is not a JWT (a compact JWS)', ["a.b"]],
    [
      'its "alg" "none" is not one of RS256, PS256, ES256, EdDSA, HS256',
      [`${(await s(good(), { alg: "none" })).split(".").slice(0, 2).join(".")}.`],
    ],
    [
      '"iss" and "sub" must both be the client id',
      [await s({ ...good(), sub: "x" })],
    ],
    [
      '"iss" is not the client id',
      [await s(assertionClaims("eve", server.issuer, clock.time))],
    ],
    [
      '"client_id" differs from the assertion\'s "iss"',
      [await s(good()), { client_id: "other" }],
    ],
    [
      "its signature does not verify with the registered ES256 keys",
      [await sign(good(), other.privateKey, "ES256")],
    ],
    [
      "no registered key verifies RS256",
      [await sign(good(), (await keyPair("RS256")).privateKey, "RS256")],
    ],
    [
      `"aud" "https://elsewhere.example" is not the issuer or the token endpoint`,
      [await s({ ...good(), aud: "https://elsewhere.example" })],
    ],
    ['"exp" is in the past', [await s({ ...good(), exp: now })]],
    [
      '"exp" is missing or not a number',
      [await s({ ...good(), exp: "soon" })],
    ],
    [
      '"iat" is in the future or not a number',
      [await s({ ...good(), iat: now + 1 })],
    ],
    [
      '"nbf" is in the future or not a number',
      [await s({ ...good(), nbf: now + 1 })],
    ],
    [
      '"jti" is missing or not a string',
      [await s({ ...good(), jti: undefined })],
    ],
    [
      "the request also carries a client secret",
      [await s(good()), { client_secret: "s" }],
    ],
  ];
  for (const [reason, [assertion, extra]] of cases) {
    assert.deepEqual(await withAssertion(server, assertion, extra), rejected(reason), reason);
  }
  assert.equal(server.issuedTokens.length, 0);
  // Each was decoded and recorded, except the one that is no JWT.
  assert.equal(server.tokenRequests.filter((r) => r.clientAssertion).length, cases.length - 1);
  // The same claims, valid: accepted (so each case failed by its one flaw).
  assert.equal((await withAssertion(server, await s(good()))).status, 200);
});

Deno.test("AuthServer refuses a replayed client assertion (same jti), at any endpoint", async () => {
  const { publicKey, privateKey } = await keyPair("EdDSA");
  await using server = await startAuthServer({ clientId: "app", clientKeys: [publicKey] });
  const assertion = await sign(assertionClaims("app", server.issuer), privateKey, "EdDSA");
  assert.equal((await withAssertion(server, assertion)).status, 200);
  const replayed = rejected('"jti" was used already (a replayed assertion)');
  assert.deepEqual(await withAssertion(server, assertion), replayed);
  const revocation = await postForm(server.revocationEndpoint, {
    token: "x",
    client_assertion_type: ASSERTION_TYPE,
    client_assertion: assertion,
  });
  assert.deepEqual(revocation, replayed);
  assert.equal(server.issuedTokens.length, 1);
});

Deno.test("AuthServer checks the exp of an assertion on its own clock", async () => {
  const clock = new ManualClock();
  const { publicKey, privateKey } = await keyPair("ES256");
  await using server = await startAuthServer({
    clientId: "app",
    clientKeys: [publicKey],
    now: clock.now,
  });
  const signer = new ClientAssertion({ clientId: "app", clientKey: privateKey, now: clock.now });
  const early = await signer.sign({ endpoint: server.tokenEndpoint });
  const late = await signer.sign({ endpoint: server.tokenEndpoint });
  clock.advance(59_999);
  assert.equal((await withAssertion(server, early)).status, 200);
  clock.advance(1);
  assert.deepEqual(await withAssertion(server, late), rejected('"exp" is in the past'));
});

Deno.test("AuthServerOptions.assertionAudience requires the issuer, the token endpoint or the endpoint", async () => {
  const { publicKey, privateKey } = await keyPair("ES256");
  const start = (assertionAudience?: "issuer" | "token_endpoint" | "endpoint") =>
    startAuthServer({
      clientId: "app",
      clientKeys: [publicKey],
      assertionAudience,
      issuerPath: "/t",
    });
  const statusFor = async (server: AuthServer, aud: string) =>
    (await withAssertion(server, await sign(assertionClaims("app", aud), privateKey, "ES256")))
      .status;
  await using any = await start();
  assert.deepEqual(
    [
      await statusFor(any, any.issuer),
      await statusFor(any, any.tokenEndpoint),
      await statusFor(any, any.origin),
    ],
    [200, 200, 401],
  );
  await using issuer = await start("issuer");
  assert.deepEqual([
    await statusFor(issuer, issuer.issuer),
    await statusFor(issuer, issuer.tokenEndpoint),
  ], [200, 401]);
  assert.match(
    String(
      (await withAssertion(
        issuer,
        await sign(assertionClaims("app", issuer.tokenEndpoint), privateKey, "ES256"),
      )).json?.error_description,
    ),
    /is not the issuer$/,
  );
  await using token = await start("token_endpoint");
  assert.deepEqual([
    await statusFor(token, token.issuer),
    await statusFor(token, token.tokenEndpoint),
  ], [401, 200]);
  // An aud list passes when one of its values does (RFC 7519 §4.1.3).
  const list = await sign(
    { ...assertionClaims("app", ""), aud: ["https://other.example", token.tokenEndpoint] },
    privateKey,
    "ES256",
  );
  assert.equal((await withAssertion(token, list)).status, 200);
});

Deno.test("AuthServer records how each client authenticated with a secret, and checks it", async () => {
  await using server = await startAuthServer({ clientId: "app", clientSecret: "s" });
  const basic = { Authorization: `Basic ${btoa("app:s")}` };
  const grant = { grant_type: "client_credentials" };
  assert.equal((await postForm(server.tokenEndpoint, grant, basic)).status, 200);
  const post = { ...grant, client_id: "app", client_secret: "s" };
  assert.equal((await postForm(server.tokenEndpoint, post)).status, 200);
  const none = await postForm(server.tokenEndpoint, { ...grant, client_id: "app" });
  assert.deepEqual(none, {
    status: 401,
    json: {
      error: "invalid_client",
      error_description: "Client authentication failed: none is not accepted here",
    },
  });
  assert.deepEqual(server.tokenRequests.map((r) => r.clientAuthMethod), [
    "client_secret_basic",
    "client_secret_post",
    "none",
  ]);
});

Deno.test("AuthServer with clientKeys refuses a secret unless clientSecret is set", async () => {
  const { publicKey } = await keyPair("ES256");
  await using server = await startAuthServer({ clientId: "app", clientKeys: [publicKey] });
  const basic = { Authorization: `Basic ${btoa("app:anything")}` };
  const refused = await postForm(server.tokenEndpoint, { grant_type: "client_credentials" }, basic);
  assert.equal(refused.status, 401);
  assert.equal(
    refused.json?.error_description,
    "Client authentication failed: client_secret_basic is not accepted here",
  );
});

Deno.test("AuthServerOptions.clientAuthMethods refuses the methods it does not list", async () => {
  const { publicKey, privateKey } = await keyPair("RS256");
  await using server = await startAuthServer({
    clientId: "app",
    clientSecret: "s",
    clientKeys: [publicKey],
    clientAuthMethods: ["private_key_jwt"],
  });
  const hs = await sign(assertionClaims("app", server.issuer), "s", "HS256");
  assert.deepEqual(
    await withAssertion(server, hs),
    rejected("client_secret_jwt is not accepted here"),
  );
  const rs = await sign(assertionClaims("app", server.issuer), privateKey, "RS256");
  assert.equal((await withAssertion(server, rs)).status, 200);
});

Deno.test("AuthServer verifies an RSA JWK without alg for RS256 and PS256, and matches kid", async () => {
  const { publicKey, privateKey } = await keyPair("RS256");
  const pss = await crypto.subtle.importKey(
    "pkcs8",
    await crypto.subtle.exportKey("pkcs8", privateKey),
    { name: "RSA-PSS", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const jwk = { ...await crypto.subtle.exportKey("jwk", publicKey), kid: "k1" };
  delete jwk.alg;
  await using server = await startAuthServer({ clientId: "app", clientKeys: [jwk] });
  const claims = () => assertionClaims("app", server.issuer);
  assert.equal(
    (await withAssertion(server, await sign(claims(), privateKey, "RS256"))).status,
    200,
  );
  assert.equal(
    (await withAssertion(server, await sign(claims(), pss, "PS256", { kid: "k1" }))).status,
    200,
  );
  assert.deepEqual(
    await withAssertion(server, await sign(claims(), privateKey, "RS256", { kid: "k2" })),
    rejected("no registered key verifies RS256"),
  );
});

Deno.test("startAuthServer() refuses a client key that cannot verify, and closes", async () => {
  const { privateKey } = await keyPair("ES256");
  await assert.rejects(
    startAuthServer({ clientKeys: [privateKey] }),
    (error) =>
      error instanceof TypeError &&
      error.message ===
        'Cannot start the AuthServer: "clientKeys[0]" is a private key; register the public key',
  );
  await assert.rejects(
    startAuthServer({ clientKeys: [{ kty: "EC", crv: "P-384", x: "a", y: "b" }] }),
    (error) =>
      error instanceof TypeError &&
      /"clientKeys\[0\]" is a JWK of type EC P-384/.test(error.message),
  );
  await assert.rejects(
    startAuthServer({ clientKeys: [{ kty: "EC", crv: "P-256", x: "!", y: "?" }] }),
    (error) =>
      error instanceof TypeError &&
      /"clientKeys\[0\]" cannot be imported for ES256/.test(error.message),
  );
});
