import assert from "node:assert/strict";
import { TokenError } from "../../mod.ts";
import { ClientAssertion } from "../../src/client_assertion.ts";
import { revokeToken } from "../../src/revocation.ts";
import { type AuthServer, startAuthServer } from "../../testing.ts";
import { keyPair } from "../_jws.ts";
import { base64url, postForm } from "./_sign.ts";

const BASIC = { Authorization: `Basic ${btoa("app:s")}` };

/** Logs in by the authorization code grant, by hand: an access and a refresh token. */
async function login(server: AuthServer): Promise<{ access: string; refresh: string }> {
  const verifier = "v".repeat(43);
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  const redirectUri = "http://127.0.0.1:9/callback";
  const authorize = new URL(server.authorizationEndpoint);
  authorize.search = new URLSearchParams({
    response_type: "code",
    client_id: "app",
    redirect_uri: redirectUri,
    code_challenge: base64url(new Uint8Array(digest)),
    code_challenge_method: "S256",
  }).toString();
  const redirect = await fetch(authorize, { redirect: "manual" });
  await redirect.body?.cancel();
  const code = new URL(redirect.headers.get("location") ?? "").searchParams.get("code") ?? "";
  const { json } = await postForm(server.tokenEndpoint, {
    grant_type: "authorization_code",
    code,
    redirect_uri: redirectUri,
    code_verifier: verifier,
  }, BASIC);
  return { access: String(json?.access_token), refresh: String(json?.refresh_token) };
}

async function resourceStatus(server: AuthServer, token: string): Promise<number> {
  const response = await fetch(server.resourceUrl, {
    headers: { Authorization: `Bearer ${token}` },
  });
  await response.body?.cancel();
  return response.status;
}

function refresh(server: AuthServer, token: string) {
  return postForm(
    server.tokenEndpoint,
    { grant_type: "refresh_token", refresh_token: token },
    BASIC,
  );
}

const credentials = { clientId: "app", clientSecret: "s" };

Deno.test("AuthServer's revocation endpoint revokes an access token: the resource refuses it, it is recorded", async () => {
  await using server = await startAuthServer(credentials);
  const { access, refresh: refreshToken } = await login(server);
  assert.equal(await resourceStatus(server, access), 200);
  await revokeToken(server.revocationEndpoint, access, credentials);
  assert.equal(await resourceStatus(server, access), 401);
  assert.equal(server.accepts(access), false);
  assert.deepEqual(server.revocations, [
    { token: access, tokenTypeHint: null, found: "access_token", clientId: "app" },
  ]);
  assert.equal(server.revocationRequests.length, 1);
  assert.equal(server.revocationRequests[0]?.form.get("token"), access);
  assert.equal(server.revocationRequests[0]?.clientAuthMethod, "client_secret_basic");
  assert.equal((await refresh(server, refreshToken)).status, 200); // the refresh token stays
});

Deno.test("AuthServer's revocation endpoint revokes a refresh token: refreshing with it fails", async () => {
  await using server = await startAuthServer(credentials);
  const { refresh: refreshToken } = await login(server);
  assert.equal((await refresh(server, refreshToken)).status, 200);
  await revokeToken(server.revocationEndpoint, refreshToken, {
    ...credentials,
    tokenTypeHint: "refresh_token",
  });
  assert.deepEqual(await refresh(server, refreshToken), {
    status: 400,
    json: {
      error: "invalid_grant",
      error_description: "The refresh token is unknown or revoked",
    },
  });
  assert.deepEqual(server.revocations, [
    {
      token: refreshToken,
      tokenTypeHint: "refresh_token",
      found: "refresh_token",
      clientId: "app",
    },
  ]);
});

Deno.test("AuthServer's revocation endpoint finds a token whatever the hint, and answers 200 for an unknown one", async () => {
  await using server = await startAuthServer(credentials);
  const { access, refresh: refreshToken } = await login(server);
  const revoke = (token: string, hint?: string) =>
    postForm(server.revocationEndpoint, hint ? { token, token_type_hint: hint } : { token }, BASIC);
  assert.deepEqual(await revoke(refreshToken, "access_token"), { status: 200, json: null });
  assert.deepEqual(await revoke(access, "refresh_token"), { status: 200, json: null });
  assert.deepEqual(await revoke("never-issued", "mac_key"), { status: 200, json: null });
  assert.deepEqual(await revoke(access), { status: 200, json: null }); // again: still ours
  assert.deepEqual(server.revocations.map((r) => [r.tokenTypeHint, r.found]), [
    ["access_token", "refresh_token"],
    ["refresh_token", "access_token"],
    ["mac_key", null],
    [null, "access_token"],
  ]);
  assert.equal((await refresh(server, refreshToken)).status, 400);
  assert.equal(await resourceStatus(server, access), 401);
});

Deno.test("AuthServer's revocation endpoint authenticates the client like the token endpoint", async () => {
  await using server = await startAuthServer(credentials);
  const { access } = await login(server);
  await assert.rejects(
    revokeToken(server.revocationEndpoint, access, { clientId: "app", clientSecret: "wrong" }),
    (error) =>
      error instanceof TokenError && error.error === "invalid_client" && error.status === 401,
  );
  assert.equal(server.accepts(access), true);
  assert.deepEqual(server.revocations, []);
  assert.equal(server.revocationRequests.length, 1);
});

Deno.test("AuthServer's revocation endpoint takes private_key_jwt with aud = the revocation endpoint", async () => {
  const { publicKey, privateKey } = await keyPair("ES256");
  await using server = await startAuthServer({
    clientId: "app",
    clientKeys: [publicKey],
    assertionAudience: "endpoint",
  });
  const { json } = await postForm(server.tokenEndpoint, {
    grant_type: "client_credentials",
    ...Object.fromEntries(
      await new ClientAssertion({ clientId: "app", clientKey: privateKey, audience: "endpoint" })
        .formParams({ endpoint: server.tokenEndpoint }),
    ),
  });
  const access = String(json?.access_token);
  const options = {
    clientId: "app",
    tokenEndpoint: server.tokenEndpoint,
    issuer: server.issuer,
  };
  // aud = the issuer: refused here, where the endpoint requested is required.
  await assert.rejects(
    revokeToken(server.revocationEndpoint, access, {
      ...options,
      clientAssertion: new ClientAssertion({ clientId: "app", clientKey: privateKey }),
    }),
    (error) => error instanceof TokenError && error.error === "invalid_client",
  );
  await revokeToken(server.revocationEndpoint, access, {
    ...options,
    clientAssertion: new ClientAssertion({
      clientId: "app",
      clientKey: privateKey,
      audience: "endpoint",
    }),
  });
  assert.equal(server.accepts(access), false);
  const recorded = server.revocationRequests[1];
  assert.equal(recorded?.clientAuthMethod, "private_key_jwt");
  assert.equal(recorded?.clientAssertion?.claims.aud, server.revocationEndpoint);
  assert.equal(server.revocations[0]?.clientId, "app");
});

Deno.test("AuthServer's revocation endpoint refuses a request without a token, or not a POST", async () => {
  await using server = await startAuthServer();
  assert.deepEqual(await postForm(server.revocationEndpoint, { token_type_hint: "access_token" }), {
    status: 400,
    json: { error: "invalid_request", error_description: '"token" is missing' },
  });
  const get = await fetch(`${server.revocationEndpoint}?token=x`);
  assert.deepEqual([get.status, get.headers.get("allow")], [405, "POST"]);
  await get.body?.cancel();
  assert.deepEqual(server.revocations, []);
  assert.equal(server.revocationRequests.length, 2);
});

Deno.test("AuthServer.failRevocationRequests() fails the next N revocations as scripted", async () => {
  await using server = await startAuthServer();
  await postForm(server.tokenEndpoint, { grant_type: "client_credentials" });
  const [access = ""] = server.issuedTokens;
  server.failRevocationRequests(1, {
    status: 400,
    body: JSON.stringify({ error: "unsupported_token_type" }),
    headers: { "Content-Type": "application/json" },
  });
  server.failRevocationRequests(1, { status: 503 });
  await assert.rejects(
    revokeToken(server.revocationEndpoint, access, { clientId: "app" }),
    (error) => error instanceof TokenError && error.error === "unsupported_token_type",
  );
  await assert.rejects(
    revokeToken(server.revocationEndpoint, access, { clientId: "app" }),
    (error) => error instanceof TokenError && error.status === 503,
  );
  assert.equal(server.accepts(access), true);
  await revokeToken(server.revocationEndpoint, access, { clientId: "app" });
  assert.equal(server.accepts(access), false);
  assert.equal(server.revocationRequests.length, 3);
  assert.equal(server.revocations.length, 1);
});
