// Interoperability of issue 13's pieces with npm:oidc-provider (panva), an independent
// implementation: discovery, private_key_jwt and client_secret_jwt client authentication
// (RS256, PS256, ES256, EdDSA, HS256) and token revocation (RFC 7009).

import assert from "node:assert/strict";
import { Client, TokenEndpoint } from "../../mod.ts";
import {
  addClientAuthentication,
  ClientAssertion,
  type ClientAssertionAudience,
  type ClientCredentials,
} from "../../src/client_assertion.ts";
import { discover } from "../../src/discovery.ts";
import { revokeToken } from "../../src/revocation.ts";
import { TokenError } from "../../src/token_error.ts";
import { type Alg, keyPair, pkcs8Pem } from "../_jws.ts";
import { type RunningProvider, startProvider as startOidcProvider } from "./_oidc_provider.ts";

const ALGS: Alg[] = ["RS256", "PS256", "ES256", "EdDSA"];
const JWT_SECRET = "a client secret long enough for HS256 (32+ bytes)";
const BASIC_SECRET = "basic-secret";

/**
 * Starts oidc-provider on loopback, with a client per key algorithm; with
 * `path`, mounted there, so that its issuer has a path (as Keycloak's realms do).
 */
async function startProvider(
  path = "",
): Promise<RunningProvider & { keys: Record<Alg, CryptoKeyPair> }> {
  const keys = Object.fromEntries(
    await Promise.all(ALGS.map(async (alg) => [alg, await keyPair(alg)] as const)),
  ) as Record<Alg, CryptoKeyPair>;
  const common = {
    grant_types: ["client_credentials"],
    response_types: [],
    redirect_uris: [],
    scope: "read",
  };
  const keyClients = await Promise.all(ALGS.map(async (alg) => ({
    ...common,
    client_id: `key-${alg}`,
    token_endpoint_auth_method: "private_key_jwt",
    jwks: { keys: [await crypto.subtle.exportKey("jwk", keys[alg].publicKey)] },
  })));
  const op = await startOidcProvider({
    path,
    configuration: {
      clients: [
        ...keyClients,
        {
          ...common,
          client_id: "secret-jwt",
          client_secret: JWT_SECRET,
          token_endpoint_auth_method: "client_secret_jwt",
        },
        {
          ...common,
          client_id: "basic",
          client_secret: BASIC_SECRET,
          token_endpoint_auth_method: "client_secret_basic",
        },
      ],
      scopes: ["openid", "read"],
      features: {
        clientCredentials: { enabled: true },
        revocation: { enabled: true },
        devInteractions: { enabled: false },
      },
      ttl: { ClientCredentials: 60 },
    },
    async resource(req, provider) {
      const value = /^Bearer (\S+)$/.exec(req.headers.get("authorization") ?? "")?.[1] ?? "";
      const token = await provider.ClientCredentials.find(value);
      if (!token || token.isExpired) return new Response(null, { status: 401 });
      return Response.json({ clientId: token.clientId });
    },
  });
  return { ...op, keys };
}

/** One client credentials token request, authenticated the way the client will send it. */
async function requestToken(
  tokenEndpoint: string,
  credentials: ClientCredentials,
  issuer?: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const headers = new Headers({ "Content-Type": "application/x-www-form-urlencoded" });
  const form = new URLSearchParams({ grant_type: "client_credentials", scope: "read" });
  await addClientAuthentication(credentials, { endpoint: tokenEndpoint, issuer }, headers, form);
  const response = await fetch(tokenEndpoint, { method: "POST", headers, body: form });
  return { status: response.status, body: await response.json() };
}

async function resourceStatus(url: string, token: string): Promise<number> {
  const response = await fetch(url, { headers: { Authorization: `Bearer ${token}` } });
  await response.body?.cancel();
  return response.status;
}

/** A transport that records the URLs asked for. */
function recording(asked: string[]): typeof fetch {
  return (input, init) => {
    asked.push(String(input));
    return fetch(input, init);
  };
}

Deno.test("discover() reads oidc-provider's metadata at the RFC 8414 location", async () => {
  await using op = await startProvider();
  const asked: string[] = [];
  const metadata = await discover(op.issuer, { fetch: recording(asked) });
  assert.deepEqual(asked, [`${op.issuer}/.well-known/oauth-authorization-server`]);
  assert.equal(metadata.issuer, op.issuer);
  assert.equal(metadata.token_endpoint, `${op.issuer}/token`);
  assert.equal(metadata.revocation_endpoint, `${op.issuer}/token/revocation`);
  for (const method of ["private_key_jwt", "client_secret_jwt", "client_secret_basic"]) {
    assert.ok(metadata.token_endpoint_auth_methods_supported?.includes(method), method);
  }
  // The discovered endpoint serves a Client as a configured one does.
  await using client = new Client({
    tokenEndpoint: metadata.token_endpoint,
    clientId: "basic",
    clientSecret: BASIC_SECRET,
    scope: "read",
  });
  const response = await client.fetch(op.resourceUrl);
  assert.deepEqual(await response.json(), { clientId: "basic" });
});

Deno.test("discover() falls back to the OIDC location of an oidc-provider issuer with a path", async () => {
  await using op = await startProvider("/tenant");
  const asked: string[] = [];
  const metadata = await discover(op.issuer, { fetch: recording(asked) });
  // RFC 8414 §3.1 inserts the well-known path before "/tenant": oidc-provider, mounted at
  // /tenant, has nothing there, and its OIDC document is appended to the issuer's path.
  const origin = new URL(op.issuer).origin;
  assert.deepEqual(asked, [
    `${origin}/.well-known/oauth-authorization-server/tenant`,
    `${op.issuer}/.well-known/openid-configuration`,
  ]);
  assert.equal(metadata.issuer, op.issuer);
  assert.equal(metadata.token_endpoint, `${op.issuer}/token`);
  await using client = new Client({
    tokenEndpoint: metadata.token_endpoint,
    clientId: "basic",
    clientSecret: BASIC_SECRET,
    scope: "read",
  });
  assert.equal((await client.getToken()).scope, "read");
});

Deno.test("discover() refuses oidc-provider's metadata for an issuer it is not", async () => {
  await using op = await startProvider();
  const other = op.issuer.replace("127.0.0.1", "localhost"); // same server, another identifier
  await assert.rejects(discover(other), {
    name: "TokenError",
    message:
      `Cannot use the metadata of ${other}: it names the issuer "${op.issuer}" (RFC 8414 §3.3)`,
  });
});

for (const alg of ALGS) {
  Deno.test(`oidc-provider accepts private_key_jwt signed ${alg}, at its token and revocation endpoints`, async () => {
    await using op = await startProvider();
    const metadata = await discover(op.issuer);
    const clientId = `key-${alg}`;
    const clientAssertion = new ClientAssertion({
      clientId,
      clientKey: await pkcs8Pem(op.keys[alg].privateKey),
      algorithm: alg === "PS256" ? "PS256" : undefined,
    });
    const credentials: ClientCredentials = {
      clientId,
      clientAuth: "private_key_jwt",
      clientAssertion,
    };
    const { status, body } = await requestToken(
      metadata.token_endpoint,
      credentials,
      metadata.issuer,
    );
    assert.equal(status, 200, JSON.stringify(body));
    const accessToken = String(body.access_token);
    assert.equal(await resourceStatus(op.resourceUrl, accessToken), 200);

    await revokeToken(metadata.revocation_endpoint ?? "", accessToken, {
      clientId,
      clientAssertion,
      issuer: metadata.issuer,
      tokenTypeHint: "access_token",
    });
    assert.equal(await resourceStatus(op.resourceUrl, accessToken), 401); // revoked
  });
}

Deno.test("oidc-provider accepts each audience choice: issuer, token endpoint, endpoint", async () => {
  await using op = await startProvider();
  const metadata = await discover(op.issuer);
  for (const audience of ["issuer", "token_endpoint", "endpoint"] as ClientAssertionAudience[]) {
    const clientAssertion = new ClientAssertion({
      clientId: "key-ES256",
      clientKey: op.keys.ES256.privateKey,
      audience,
    });
    const { status } = await requestToken(
      metadata.token_endpoint,
      { clientId: "key-ES256", clientAuth: "private_key_jwt", clientAssertion },
      metadata.issuer,
    );
    assert.equal(status, 200, audience);
    // At the revocation endpoint, "endpoint" names the revocation endpoint itself.
    await revokeToken(metadata.revocation_endpoint ?? "", "unknown-token", {
      clientId: "key-ES256",
      clientAssertion,
      issuer: metadata.issuer,
      tokenEndpoint: metadata.token_endpoint,
    });
  }
});

Deno.test("oidc-provider accepts a client_secret_jwt assertion", async () => {
  await using op = await startProvider();
  const clientAssertion = new ClientAssertion({ clientId: "secret-jwt", clientSecret: JWT_SECRET });
  const credentials: ClientCredentials = {
    clientId: "secret-jwt",
    clientAuth: "client_secret_jwt",
    clientAssertion,
  };
  const { status, body } = await requestToken(`${op.issuer}/token`, credentials, op.issuer);
  assert.equal(status, 200, JSON.stringify(body));
  await revokeToken(`${op.issuer}/token/revocation`, String(body.access_token), {
    clientId: "secret-jwt",
    clientAssertion,
    issuer: op.issuer,
  });
  assert.equal(await resourceStatus(op.resourceUrl, String(body.access_token)), 401);
});

Deno.test("oidc-provider refuses an assertion signed by another key, with invalid_client", async () => {
  await using op = await startProvider();
  const impostor = new ClientAssertion({
    clientId: "key-ES256",
    clientKey: (await keyPair("ES256")).privateKey,
  });
  const credentials: ClientCredentials = {
    clientId: "key-ES256",
    clientAuth: "private_key_jwt",
    clientAssertion: impostor,
  };
  const { status, body } = await requestToken(`${op.issuer}/token`, credentials, op.issuer);
  assert.equal(status, 401);
  assert.equal(body.error, "invalid_client");
  await assert.rejects(
    revokeToken(`${op.issuer}/token/revocation`, "any", {
      clientId: "key-ES256",
      clientAssertion: impostor,
      issuer: op.issuer,
    }),
    (error) => {
      assert.ok(error instanceof TokenError);
      assert.equal(error.error, "invalid_client");
      assert.equal(error.status, 401);
      return true;
    },
  );
});

Deno.test("oidc-provider refuses an assertion with the wrong algorithm for the key", async () => {
  await using op = await startProvider();
  // The PS256 client's RSA key, signing RS256: oidc-provider's registered JWK says PS256.
  const clientAssertion = new ClientAssertion({
    clientId: "key-PS256",
    clientKey: await pkcs8Pem(op.keys.PS256.privateKey),
  });
  assert.equal(clientAssertion.algorithm, "RS256");
  const { status, body } = await requestToken(
    `${op.issuer}/token`,
    { clientId: "key-PS256", clientAuth: "private_key_jwt", clientAssertion },
    op.issuer,
  );
  assert.equal(status, 401);
  assert.equal(body.error, "invalid_client");
});

Deno.test("revokeToken() with client_secret_basic at oidc-provider: the token is no longer accepted", async () => {
  await using op = await startProvider();
  await using client = new Client({
    tokenEndpoint: `${op.issuer}/token`,
    clientId: "basic",
    clientSecret: BASIC_SECRET,
    scope: "read",
  });
  const { accessToken } = await client.getToken();
  assert.equal(await resourceStatus(op.resourceUrl, accessToken), 200);
  await revokeToken(`${op.issuer}/token/revocation`, accessToken, {
    clientId: "basic",
    clientSecret: BASIC_SECRET,
    tokenTypeHint: "access_token",
  });
  assert.equal(await resourceStatus(op.resourceUrl, accessToken), 401);
  await assert.rejects(
    revokeToken(`${op.issuer}/token/revocation`, accessToken, {
      clientId: "basic",
      clientSecret: "wrong",
    }),
    { name: "TokenError", error: "invalid_client", status: 401 },
  );
});

// --- The Client with only an issuer: discovery, then the key or the secret's assertion.

for (const alg of ALGS) {
  Deno.test(`Client with only oidc-provider's issuer and a private_key_jwt key (${alg}) gets tokens and calls the resource`, async () => {
    await using op = await startProvider(alg === "ES256" ? "/realms/acme" : "");
    const clientId = `key-${alg}`;
    // A PEM of an RSA key signs RS256; PS256 takes the RSA-PSS CryptoKey itself.
    const privateKey = op.keys[alg].privateKey;
    await using client = new Client({
      issuer: op.issuer,
      clientId,
      clientKey: alg === "PS256" ? privateKey : await pkcs8Pem(privateKey),
      scope: "read",
    });
    const response = await client.fetch(op.resourceUrl);
    assert.deepEqual(await response.json(), { clientId });
    const token = await client.getToken();
    assert.equal(token.scope, "read");
    assert.equal(await resourceStatus(op.resourceUrl, token.accessToken), 200);
  });
}

Deno.test("Client with oidc-provider's issuer and client_secret_jwt gets tokens and calls the resource", async () => {
  await using op = await startProvider();
  await using client = new Client({
    issuer: op.issuer,
    clientId: "secret-jwt",
    clientSecret: JWT_SECRET,
    clientAuth: "client_secret_jwt",
    scope: "read",
  });
  const response = await client.fetch(op.resourceUrl);
  assert.deepEqual(await response.json(), { clientId: "secret-jwt" });
});

Deno.test("Client with oidc-provider's issuer and a secret picks client_secret_basic from its metadata", async () => {
  await using op = await startProvider();
  await using client = new Client({
    issuer: op.issuer,
    clientId: "basic",
    clientSecret: BASIC_SECRET,
    scope: "read",
  });
  const response = await client.fetch(op.resourceUrl);
  assert.deepEqual(await response.json(), { clientId: "basic" });
});

Deno.test("Client.fetch() returns oidc-provider's invalid_client for an assertion signed by another key", async () => {
  await using op = await startProvider();
  await using client = new Client({
    issuer: op.issuer,
    clientId: "key-ES256",
    clientKey: (await keyPair("ES256")).privateKey,
  });
  const response = await client.fetch(op.resourceUrl);
  assert.equal(response.status, 401);
  assert.equal(TokenError.fromResponse(response)?.error, "invalid_client");
  assert.equal((await response.json()).error, "invalid_client");
});

Deno.test("TokenEndpoint.revoke() revokes at oidc-provider's discovered revocation endpoint with private_key_jwt", async () => {
  await using op = await startProvider();
  const endpoint = new TokenEndpoint({
    issuer: op.issuer,
    clientId: "key-EdDSA",
    clientAssertion: new ClientAssertion({
      clientId: "key-EdDSA",
      clientKey: op.keys.EdDSA.privateKey,
    }),
    fetch,
    now: Date.now,
    timeout: 30_000,
  });
  const result = await endpoint.request(
    new URLSearchParams({ grant_type: "client_credentials", scope: "read" }),
  );
  assert.ok("token" in result);
  assert.equal(await resourceStatus(op.resourceUrl, result.token.accessToken), 200);
  await endpoint.revoke(result.token.accessToken, { tokenTypeHint: "access_token" });
  assert.equal(await resourceStatus(op.resourceUrl, result.token.accessToken), 401);
});
