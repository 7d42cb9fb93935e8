import assert from "node:assert/strict";
import { Client, TokenError } from "../../mod.ts";
import { DpopKey } from "../../src/dpop.ts";
import { googleServiceAccount } from "../../src/google_service_account.ts";
import { JwtBearerGrant } from "../../src/grants/jwt_bearer.ts";
import { TokenExchangeGrant } from "../../src/grants/token_exchange.ts";
import { type AuthServer, startAuthServer } from "../../testing.ts";
import { ManualClock } from "../_helpers.ts";
import { keyPair, pkcs8Pem } from "../_jws.ts";
import { CLIENT_CREDENTIALS, post } from "./_dpop_proofs.ts";
import { assertionClaims, postForm, sign } from "./_sign.ts";

const JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token";
const EMAIL = "bot@project.iam.gserviceaccount.com";

Deno.test("AuthServer grants a token for a Google service account's assertion (JWT bearer)", async () => {
  const { publicKey, privateKey } = await keyPair("RS256");
  const jwk = { ...await crypto.subtle.exportKey("jwk", publicKey), kid: "key-1" };
  await using server = await startAuthServer({ assertionIssuers: { [EMAIL]: [jwk] } });
  const key = {
    type: "service_account",
    client_email: EMAIL,
    private_key: await pkcs8Pem(privateKey),
    private_key_id: "key-1",
    token_uri: server.tokenEndpoint,
  };
  const scope = "https://www.googleapis.com/auth/spreadsheets";
  await using client = new Client(googleServiceAccount(key, { scope }));
  const token = await client.getToken();
  assert.equal(token.accessToken, server.issuedTokens[0]);
  assert.equal(token.scope, scope); // from the assertion's claim: Google's form has no scope
  const [recorded] = server.tokenRequests;
  assert.equal(recorded?.form.get("grant_type"), JWT_BEARER);
  assert.equal(recorded?.form.has("scope"), false);
  assert.deepEqual(recorded?.assertion?.header, { typ: "JWT", kid: "key-1", alg: "RS256" });
  assert.equal(recorded?.assertion?.claims.iss, EMAIL);
  assert.equal(recorded?.assertion?.claims.aud, server.tokenEndpoint);
});

Deno.test("AuthServer takes a fresh JwtBearerGrant assertion for each token, with the form's scope", async () => {
  const { publicKey, privateKey } = await keyPair("ES256");
  await using server = await startAuthServer({ assertionIssuers: { "issuer-a": [publicKey] } });
  await using client = new Client({
    tokenEndpoint: server.tokenEndpoint,
    clientId: "app",
    scope: "read",
    grant: new JwtBearerGrant({
      assertion: ({ now, tokenEndpoint }) => {
        const iat = Math.floor(now / 1000);
        const claims = {
          iss: "issuer-a",
          sub: "user-1",
          aud: tokenEndpoint.href,
          iat,
          exp: iat + 60,
        };
        return sign({ ...claims, jti: crypto.randomUUID() }, privateKey, "ES256");
      },
    }),
  });
  assert.equal((await client.getToken()).scope, "read");
  server.revoke();
  const response = await client.fetch(server.resourceUrl); // renewed with a new assertion
  assert.equal(response.status, 200);
  await response.body?.cancel();
  const jtis = server.tokenRequests.map((r) => r.assertion?.claims.jti);
  assert.equal(jtis.length, 2);
  assert.notEqual(jtis[0], jtis[1]);
});

Deno.test("AuthServer refuses a JWT bearer assertion with invalid_grant naming the failed check", async () => {
  const clock = new ManualClock();
  const { publicKey, privateKey } = await keyPair("EdDSA");
  const other = await keyPair("EdDSA");
  await using server = await startAuthServer({
    assertionIssuers: { "issuer-a": [publicKey], "issuer-s": ["a shared secret"] },
    now: clock.now,
  });
  const now = Math.floor(clock.time / 1000);
  const good = { iss: "issuer-a", aud: server.tokenEndpoint, iat: now, exp: now + 60 };
  const grant = (assertion: string) =>
    postForm(server.tokenEndpoint, { grant_type: JWT_BEARER, assertion });
  const rejected = (reason: string) => ({
    status: 400,
    json: { error: "invalid_grant", error_description: `Assertion rejected: ${reason}` },
  });
  assert.deepEqual(await postForm(server.tokenEndpoint, { grant_type: JWT_BEARER }), {
    status: 400,
    json: { error: "invalid_request", error_description: '"assertion" is missing' },
  });
  const cases: [string, string][] = [
    ['"assertion" is not a JWT (a compact JWS)', "e30.e30"],
    [
      '"iss" "issuer-b" is not a registered issuer',
      await sign({ ...good, iss: "issuer-b" }, privateKey, "EdDSA"),
    ],
    [
      "its signature does not verify with the registered EdDSA keys",
      await sign(good, other.privateKey, "EdDSA"),
    ],
    [
      `"aud" "https://oauth2.googleapis.com/token" is not the issuer or the token endpoint`,
      await sign({ ...good, aud: "https://oauth2.googleapis.com/token" }, privateKey, "EdDSA"),
    ],
    ['"exp" is in the past', await sign({ ...good, exp: now }, privateKey, "EdDSA")],
    [
      "its signature does not verify with the registered HS256 keys",
      await sign({ ...good, iss: "issuer-s" }, "another secret", "HS256"),
    ],
  ];
  for (const [reason, assertion] of cases) {
    assert.deepEqual(await grant(assertion), rejected(reason), reason);
  }
  assert.equal(server.issuedTokens.length, 0);
  // Without jti (optional for this grant) an assertion may be used again; with one, once.
  const plain = await sign(good, privateKey, "EdDSA");
  assert.deepEqual([(await grant(plain)).status, (await grant(plain)).status], [200, 200]);
  const once = await sign({ ...good, jti: "j-1" }, privateKey, "EdDSA");
  assert.equal((await grant(once)).status, 200);
  assert.deepEqual(await grant(once), rejected('"jti" was used already (a replayed assertion)'));
  assert.equal(
    (await grant(await sign({ ...good, iss: "issuer-s" }, "a shared secret", "HS256"))).status,
    200,
  );
});

Deno.test("AuthServer exchanges a user's token for one to another audience (token exchange)", async () => {
  await using server = await startAuthServer();
  await using user = new Client({ tokenEndpoint: server.tokenEndpoint, clientId: "web" });
  await using gateway = new Client({
    tokenEndpoint: server.tokenEndpoint,
    clientId: "gateway",
    clientSecret: "gateway-secret",
    tokenParams: { audience: "https://orders.example" },
    grant: new TokenExchangeGrant({
      subjectToken: async ({ signal }) => (await user.getToken({ signal })).accessToken,
      subjectTokenType: ACCESS_TOKEN,
      actorToken: "service-id-token",
      actorTokenType: "urn:ietf:params:oauth:token-type:id_token",
    }),
  });
  const token = await gateway.getToken();
  const [userToken, exchanged] = server.issuedTokens;
  assert.equal(token.accessToken, exchanged);
  assert.equal(token.extra?.issued_token_type, ACCESS_TOKEN);
  const form = server.tokenRequests[1]?.form;
  assert.equal(form?.get("grant_type"), TOKEN_EXCHANGE);
  assert.equal(form?.get("subject_token"), userToken);
  assert.equal(form?.get("actor_token"), "service-id-token");
  assert.equal(form?.get("audience"), "https://orders.example");
});

Deno.test("AuthServer answers token exchange's issued_token_type, N_A for a non-access token", async () => {
  await using server = await startAuthServer();
  const { json: subject } = await postForm(server.tokenEndpoint, {
    grant_type: "client_credentials",
  });
  const { status, json } = await postForm(server.tokenEndpoint, {
    grant_type: TOKEN_EXCHANGE,
    subject_token: String(subject?.access_token),
    subject_token_type: ACCESS_TOKEN,
    requested_token_type: "urn:ietf:params:oauth:token-type:id_token",
    scope: "profile",
  });
  assert.equal(status, 200);
  assert.deepEqual(json, {
    access_token: server.issuedTokens[1],
    token_type: "N_A",
    expires_in: 3600,
    scope: "profile",
    issued_token_type: "urn:ietf:params:oauth:token-type:id_token",
  });
});

Deno.test("AuthServer answers a malformed token exchange with invalid_request", async () => {
  await using server = await startAuthServer();
  await postForm(server.tokenEndpoint, { grant_type: "client_credentials" });
  const [valid = ""] = server.issuedTokens;
  const exchange = (form: Record<string, string>) =>
    postForm(server.tokenEndpoint, { grant_type: TOKEN_EXCHANGE, ...form });
  const invalid = (description: string) => ({
    status: 400,
    json: { error: "invalid_request", error_description: description },
  });
  const subject = { subject_token: valid, subject_token_type: ACCESS_TOKEN };
  const jwt = "urn:ietf:params:oauth:token-type:jwt";
  assert.deepEqual(
    await exchange({ subject_token_type: ACCESS_TOKEN }),
    invalid('"subject_token" is missing'),
  );
  assert.deepEqual(
    await exchange({ subject_token: valid }),
    invalid('"subject_token_type" is missing'),
  );
  assert.deepEqual(
    await exchange({ ...subject, actor_token: "a" }),
    invalid('"actor_token_type" is missing; it is required with "actor_token"'),
  );
  assert.deepEqual(
    await exchange({ ...subject, actor_token_type: jwt }),
    invalid('"actor_token_type" is sent without "actor_token"'),
  );
  assert.deepEqual(
    await exchange({ ...subject, subject_token: "never-issued" }),
    invalid('"subject_token" is not an access token this server accepts'),
  );
  assert.deepEqual(
    await exchange({ ...subject, actor_token: "never-issued", actor_token_type: ACCESS_TOKEN }),
    invalid('"actor_token" is not an access token this server accepts'),
  );
  server.revoke(valid);
  assert.deepEqual(
    await exchange(subject),
    invalid('"subject_token" is not an access token this server accepts'),
  );
  // A token of another type is taken as it is.
  assert.equal((await exchange({ subject_token: "a.b.c", subject_token_type: jwt })).status, 200);
  assert.equal(server.issuedTokens.length, 2);
});

Deno.test("AuthServer authenticates the client of a JWT bearer or token exchange request", async () => {
  await using server: AuthServer = await startAuthServer({ clientId: "app", clientSecret: "s" });
  const refused = await postForm(server.tokenEndpoint, {
    grant_type: TOKEN_EXCHANGE,
    subject_token: "a.b.c",
    subject_token_type: "urn:ietf:params:oauth:token-type:jwt",
    client_id: "app",
    client_secret: "wrong",
  });
  assert.equal(refused.status, 401);
  assert.equal(refused.json?.error, "invalid_client");
  await assert.rejects(
    new Client({
      tokenEndpoint: server.tokenEndpoint,
      clientId: "app",
      clientSecret: "s",
      grant: new JwtBearerGrant({ assertion: "a.b.c" }),
    }).getToken(),
    (error) => error instanceof TokenError && error.error === "invalid_grant",
  );
});

// DPoP (RFC 9449 §5): every grant binds its tokens to the key of the request's proof.

const REDIRECT = "http://127.0.0.1:9/callback";
const VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"; // RFC 7636 Appendix B
const DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code";

/** A code for client "cli", approved at once by the stand-in's /authorize. */
async function code(server: AuthServer): Promise<string> {
  const url = new URL(server.authorizationEndpoint);
  url.search = new URLSearchParams({
    response_type: "code",
    client_id: "cli",
    redirect_uri: REDIRECT,
    code_challenge: CHALLENGE,
    code_challenge_method: "S256",
  }).toString();
  const response = await fetch(url, { redirect: "manual" });
  await response.body?.cancel();
  return new URL(response.headers.get("location")!).searchParams.get("code")!;
}

const exchange = (value: string) => ({
  grant_type: "authorization_code",
  code: value,
  code_verifier: VERIFIER,
  redirect_uri: REDIRECT,
  client_id: "cli",
});

/** A token request with a proof by `key` (none when `key` is undefined), as a public client. */
async function dpopPost(
  server: AuthServer,
  form: Record<string, string>,
  key?: DpopKey,
  headers: Record<string, string> = {},
) {
  const proof = key && await key.proof({ method: "POST", url: server.tokenEndpoint });
  return await post(server.tokenEndpoint, form, proof ? { ...headers, DPoP: proof } : headers);
}

/** Whether the resource serves `token` with a proof by `key`, and refuses it as Bearer. */
async function servedWith(server: AuthServer, token: unknown, key: DpopKey): Promise<boolean> {
  const url = server.resourceUrl;
  const proof = await key.proof({ method: "GET", url, accessToken: String(token) });
  const dpop = await fetch(url, { headers: { Authorization: `DPoP ${token}`, DPoP: proof } });
  const bearer = await fetch(url, { headers: { Authorization: `Bearer ${token}` } });
  await Promise.all([dpop.body?.cancel(), bearer.body?.cancel()]);
  return dpop.status === 200 && bearer.status === 401;
}

Deno.test("GrantDesk.grant() binds the tokens of every grant to the proof's key", async () => {
  const issuer = await keyPair("ES256");
  await using server = await startAuthServer({
    assertionIssuers: { app: [await crypto.subtle.exportKey("jwk", issuer.publicKey)] },
    deviceAuthorization: { interval: 0 },
  });
  const key = await DpopKey.generate();
  const jkt = await key.thumbprint();
  const answers: Record<string, Record<string, unknown>> = {};
  answers.client_credentials = (await dpopPost(server, CLIENT_CREDENTIALS, key)).json;
  answers.authorization_code = (await dpopPost(server, exchange(await code(server)), key)).json;
  answers.refresh_token = (await dpopPost(server, {
    grant_type: "refresh_token",
    refresh_token: String(answers.authorization_code.refresh_token),
    client_id: "cli",
  }, key)).json;
  const codes = await post(server.url("/device_authorization"), { client_id: "cli" });
  await (await fetch(String(codes.json.verification_uri_complete))).body?.cancel();
  answers.device_code = (await dpopPost(server, {
    grant_type: DEVICE_CODE,
    device_code: String(codes.json.device_code),
    client_id: "cli",
  }, key)).json;
  const claims = { ...assertionClaims("app", server.tokenEndpoint), sub: "user" };
  answers.jwt_bearer = (await dpopPost(server, {
    grant_type: JWT_BEARER,
    assertion: await sign(claims, issuer.privateKey, "ES256"),
  }, key)).json;
  answers.token_exchange = (await dpopPost(server, {
    grant_type: TOKEN_EXCHANGE,
    subject_token: String(answers.client_credentials.access_token),
    subject_token_type: ACCESS_TOKEN,
  }, key)).json;
  for (const [grant, answer] of Object.entries(answers)) {
    assert.equal(answer.token_type, "DPoP", grant);
    assert(await servedWith(server, answer.access_token, key), grant);
  }
  assert.equal(server.tokenRequests.length, 6);
  assert(server.tokenRequests.every((request) => request.dpop?.jkt === jkt));
});

Deno.test("GrantDesk.grant() issues Bearer tokens and unbound refresh tokens without a proof", async () => {
  await using server = await startAuthServer();
  const first = await dpopPost(server, exchange(await code(server)));
  assert.equal(first.json.token_type, "Bearer");
  const key = await DpopKey.generate();
  const refresh = {
    grant_type: "refresh_token",
    refresh_token: String(first.json.refresh_token),
    client_id: "cli",
  };
  const bound = await dpopPost(server, refresh, key); // a proof later binds the new access token
  assert.equal(bound.json.token_type, "DPoP");
  assert.equal((await dpopPost(server, refresh)).json.token_type, "Bearer");
});

Deno.test("GrantDesk.grant() binds a public client's refresh token: a refresh needs a proof by its key", async () => {
  await using server = await startAuthServer({ rotateRefreshTokens: true });
  const key = await DpopKey.generate();
  const first = await dpopPost(server, exchange(await code(server)), key);
  const refresh = {
    grant_type: "refresh_token",
    refresh_token: String(first.json.refresh_token),
    client_id: "cli",
  };
  const none = await dpopPost(server, refresh);
  assert.equal(none.status, 400);
  assert.deepEqual(none.json, {
    error: "invalid_grant",
    error_description: "The refresh token is DPoP-bound: a DPoP proof by its key is required",
  });
  const other = await dpopPost(server, refresh, await DpopKey.generate());
  assert.equal(other.json.error, "invalid_grant");
  assert.equal(other.json.error_description, "The refresh token is bound to another DPoP key");
  // The refused refreshes used nothing up (rotation revokes a used refresh token).
  const same = await dpopPost(server, refresh, key);
  assert.equal(same.status, 200);
  assert.equal(same.json.token_type, "DPoP");
  const next = { ...refresh, refresh_token: String(same.json.refresh_token) };
  assert.equal((await dpopPost(server, next)).json.error, "invalid_grant"); // the new one is bound
  assert.equal((await dpopPost(server, next, key)).status, 200);
});

Deno.test("GrantDesk.grant() leaves a confidential client's refresh token unbound (RFC 9449 §5)", async () => {
  await using server = await startAuthServer({ clientSecret: "secret" });
  const basic = { Authorization: `Basic ${btoa("cli:secret")}` };
  const key = await DpopKey.generate();
  const form = exchange(await code(server));
  const first = await dpopPost(server, form, key, basic);
  assert.equal(first.json.token_type, "DPoP");
  const refresh = { grant_type: "refresh_token", refresh_token: String(first.json.refresh_token) };
  const rotated = await DpopKey.generate(); // e.g. a new process with its own key
  const renewed = await dpopPost(server, refresh, rotated, basic);
  assert.equal(renewed.json.token_type, "DPoP");
  assert(await servedWith(server, renewed.json.access_token, rotated));
  assert.equal((await dpopPost(server, refresh, undefined, basic)).json.token_type, "Bearer");
});

Deno.test("GrantDesk.grant() checks the nonce before using up a code, and sends it with every answer", async () => {
  // atproto #3859: a server that used up the refresh token before asking for a nonce made the
  // client's nonce retry fail; the code and the refresh token must survive the challenge.
  await using server = await startAuthServer({ dpopNonce: { token: true } });
  const key = await DpopKey.generate();
  const form = exchange(await code(server));
  const challenge = await dpopPost(server, form, key);
  assert.equal(challenge.json.error, "use_dpop_nonce");
  const nonce = server.dpopNonce;
  const proof = await key.proof({ method: "POST", url: server.tokenEndpoint, nonce });
  const answer = await post(server.tokenEndpoint, form, { DPoP: proof });
  assert.equal(answer.status, 200);
  assert.equal(answer.json.token_type, "DPoP");
  assert.equal(answer.headers.get("DPoP-Nonce"), nonce);
  const used = await post(server.tokenEndpoint, form);
  assert.equal(used.json.error, "invalid_grant"); // used now; the answer still names the nonce
  assert.equal(used.headers.get("DPoP-Nonce"), nonce);
});
