import assert from "node:assert/strict";
import { discover } from "../../src/discovery.ts";
import { TokenError } from "../../src/token_error.ts";
import { startAuthServer } from "../../testing.ts";
import { keyPair } from "../_jws.ts";

async function getJson(url: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(url);
  return { status: response.status, json: await response.json() };
}

const GRANT_TYPES = [
  "client_credentials",
  "authorization_code",
  "refresh_token",
  "implicit",
  "urn:ietf:params:oauth:grant-type:jwt-bearer",
  "urn:ietf:params:oauth:grant-type:token-exchange",
  "urn:ietf:params:oauth:grant-type:device_code",
];

Deno.test("AuthServer serves the same metadata at both well-known locations", async () => {
  await using server = await startAuthServer();
  assert.equal(server.issuer, server.origin);
  const expected = {
    issuer: server.origin,
    authorization_endpoint: `${server.origin}/authorize`,
    token_endpoint: `${server.origin}/token`,
    revocation_endpoint: `${server.origin}/revoke`,
    device_authorization_endpoint: `${server.origin}/device_authorization`,
    pushed_authorization_request_endpoint: `${server.origin}/par`,
    require_pushed_authorization_requests: false,
    authorization_response_iss_parameter_supported: true,
    response_types_supported: ["code", "token"],
    grant_types_supported: GRANT_TYPES,
    code_challenge_methods_supported: ["S256"],
    dpop_signing_alg_values_supported: ["ES256", "EdDSA", "RS256", "PS256"],
    token_endpoint_auth_methods_supported: ["none", "client_secret_basic", "client_secret_post"],
    revocation_endpoint_auth_methods_supported: [
      "none",
      "client_secret_basic",
      "client_secret_post",
    ],
  };
  const oauth = await getJson(server.url("/.well-known/oauth-authorization-server"));
  const openid = await getJson(server.url("/.well-known/openid-configuration"));
  assert.deepEqual(oauth, { status: 200, json: expected });
  assert.deepEqual(openid, { status: 200, json: expected });
  assert.equal(server.revocationEndpoint, expected.revocation_endpoint);
});

Deno.test("AuthServer records metadata requests and answers other well-known paths 404", async () => {
  await using server = await startAuthServer();
  await getJson(server.url("/.well-known/openid-configuration"));
  const other = await getJson(server.url("/.well-known/jwks.json"));
  const tenant = await getJson(server.url("/.well-known/oauth-authorization-server/tenant"));
  assert.deepEqual([other.status, tenant.status], [404, 404]);
  assert.deepEqual(server.metadataRequests.map((r) => [r.method, r.url]), [
    ["GET", server.url("/.well-known/openid-configuration")],
    ["GET", server.url("/.well-known/jwks.json")],
    ["GET", server.url("/.well-known/oauth-authorization-server/tenant")],
  ]);
  assert.equal(server.resourceRequests.length, 0);
  assert.equal(server.tokenRequests.length, 0);
});

Deno.test("AuthServerOptions.issuerPath serves a tenant's metadata at RFC 8414's and OIDC's locations", async () => {
  await using server = await startAuthServer({ issuerPath: "/realms/acme" });
  assert.equal(server.issuer, `${server.origin}/realms/acme`);
  const oauth = await getJson(server.url("/.well-known/oauth-authorization-server/realms/acme"));
  const openid = await getJson(server.url("/realms/acme/.well-known/openid-configuration"));
  assert.equal(oauth.json.issuer, server.issuer);
  assert.equal(openid.json.issuer, server.issuer);
  assert.equal(oauth.json.token_endpoint, server.tokenEndpoint);
  // The root locations belong to no issuer of this server.
  assert.equal((await getJson(server.url("/.well-known/oauth-authorization-server"))).status, 404);
  assert.equal((await getJson(server.url("/.well-known/openid-configuration"))).status, 404);
});

Deno.test("discover() finds the AuthServer's endpoints, for an issuer with a path too", async () => {
  await using server = await startAuthServer({ issuerPath: "/tenant" });
  const metadata = await discover(server.issuer);
  assert.equal(metadata.issuer, server.issuer);
  assert.equal(metadata.token_endpoint, server.tokenEndpoint);
  assert.equal(metadata.revocation_endpoint, server.revocationEndpoint);
  assert.equal(metadata.authorization_endpoint, server.authorizationEndpoint);
  assert.deepEqual(server.metadataRequests.map((r) => r.url), [
    server.url("/.well-known/oauth-authorization-server/tenant"),
  ]);
});

Deno.test("MetadataOptions.documents serves one document: discover() falls back to OIDC's", async () => {
  await using server = await startAuthServer({ metadata: { documents: ["openid-configuration"] } });
  const metadata = await discover(server.issuer);
  assert.equal(metadata.token_endpoint, server.tokenEndpoint);
  assert.deepEqual(server.metadataRequests.map((r) => r.url), [
    server.url("/.well-known/oauth-authorization-server"),
    server.url("/.well-known/openid-configuration"),
  ]);

  await using rfc8414 = await startAuthServer({
    metadata: { documents: ["oauth-authorization-server"] },
  });
  assert.equal((await getJson(rfc8414.url("/.well-known/openid-configuration"))).status, 404);
  assert.equal(
    (await getJson(rfc8414.url("/.well-known/oauth-authorization-server"))).json.issuer,
    rfc8414.issuer,
  );
});

Deno.test("MetadataOptions.issuer names another issuer: discover() refuses it, sends nothing else", async () => {
  await using server = await startAuthServer({
    metadata: { issuer: "https://impostor.example" },
  });
  await assert.rejects(
    discover(server.issuer),
    (error) => error instanceof TokenError && /impostor\.example/.test(error.message),
  );
  assert.equal(server.tokenRequests.length, 0);
  assert.equal(server.metadataRequests.length, 1);
});

Deno.test("MetadataOptions.omit leaves token_endpoint out: discover() refuses the document", async () => {
  await using server = await startAuthServer({ metadata: { omit: ["token_endpoint"] } });
  const { json } = await getJson(server.url("/.well-known/oauth-authorization-server"));
  assert.equal("token_endpoint" in json, false);
  assert.equal(json.revocation_endpoint, server.revocationEndpoint);
  await assert.rejects(
    discover(server.issuer),
    (error) => error instanceof TokenError && /"token_endpoint" is missing/.test(error.message),
  );
});

Deno.test("MetadataOptions.members adds and replaces members, after omit", async () => {
  await using server = await startAuthServer({
    metadata: {
      omit: ["revocation_endpoint", "grant_types_supported"],
      members: { scopes_supported: ["read"], grant_types_supported: ["client_credentials"] },
    },
  });
  const { json } = await getJson(server.url("/.well-known/openid-configuration"));
  assert.equal("revocation_endpoint" in json, false);
  assert.deepEqual(json.scopes_supported, ["read"]);
  assert.deepEqual(json.grant_types_supported, ["client_credentials"]);
});

Deno.test("AuthServer advertises the client authentication methods and algorithms it accepts", async () => {
  const metadataOf = async (server: { url(path: string): string }) =>
    (await getJson(server.url("/.well-known/oauth-authorization-server"))).json;
  await using secret = await startAuthServer({ clientId: "app", clientSecret: "s" });
  assert.deepEqual((await metadataOf(secret)).token_endpoint_auth_methods_supported, [
    "client_secret_basic",
    "client_secret_post",
    "client_secret_jwt",
  ]);
  assert.deepEqual(
    (await metadataOf(secret)).token_endpoint_auth_signing_alg_values_supported,
    ["HS256"],
  );
  const rsa = await keyPair("PS256");
  const ec = await keyPair("ES256");
  await using keys = await startAuthServer({
    clientId: "app",
    clientKeys: [rsa.publicKey, await crypto.subtle.exportKey("jwk", ec.publicKey)],
  });
  const metadata = await metadataOf(keys);
  assert.deepEqual(metadata.token_endpoint_auth_methods_supported, ["private_key_jwt"]);
  assert.deepEqual(metadata.token_endpoint_auth_signing_alg_values_supported, ["PS256", "ES256"]);
  assert.deepEqual(metadata.revocation_endpoint_auth_methods_supported, ["private_key_jwt"]);
  await using chosen = await startAuthServer({ clientAuthMethods: ["client_secret_post"] });
  assert.deepEqual((await metadataOf(chosen)).token_endpoint_auth_methods_supported, [
    "client_secret_post",
  ]);
  assert.equal(
    "token_endpoint_auth_signing_alg_values_supported" in await metadataOf(chosen),
    false,
  );
});

Deno.test("startAuthServer() refuses a malformed issuerPath or metadata.documents", async () => {
  for (const issuerPath of ["tenant", "/tenant/", "/a b", "/t?x=1", ""]) {
    await assert.rejects(
      startAuthServer({ issuerPath }),
      (error) => error instanceof TypeError && /"issuerPath" must be a path/.test(error.message),
      issuerPath,
    );
  }
  await assert.rejects(
    // @ts-expect-error: not a document name
    startAuthServer({ metadata: { documents: ["jwks"] } }),
    (error) => error instanceof TypeError && /"metadata.documents"/.test(error.message),
  );
});
