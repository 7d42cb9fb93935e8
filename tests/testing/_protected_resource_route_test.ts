// The stand-in resource's metadata (RFC 9728) and the challenges that name it, through real
// requests; among them the documents MCP servers got wrong and their clients had to refuse or
// find.

import assert from "node:assert/strict";
import { DpopKey } from "../../src/dpop.ts";
import { type AuthServer, startAuthServer } from "../../testing.ts";
import { CLIENT_CREDENTIALS, post } from "./_dpop_proofs.ts";

async function getJson(url: string) {
  const response = await fetch(url);
  return { status: response.status, json: await response.json() as Record<string, unknown> };
}

/** The resource's answer to `headers`: status and challenge. */
async function challengeOf(server: AuthServer, headers: HeadersInit = {}, path = "/resource") {
  const response = await fetch(server.url(path), { headers });
  await response.body?.cancel();
  return { status: response.status, challenge: response.headers.get("WWW-Authenticate") };
}

Deno.test("protectedResourceResponse() serves the path-aware document naming the issuer (RFC 9728 §3.1)", async () => {
  await using server = await startAuthServer({
    issuerPath: "/tenant",
    protectedResource: { scopesSupported: ["mcp", "profile"], dpopBoundAccessTokensRequired: true },
  });
  assert.equal(
    server.resourceMetadataUrl,
    `${server.origin}/.well-known/oauth-protected-resource/resource`,
  );
  const document = await getJson(server.resourceMetadataUrl);
  assert.deepEqual(document, {
    status: 200,
    json: {
      resource: server.resourceUrl,
      authorization_servers: [`${server.origin}/tenant`],
      scopes_supported: ["mcp", "profile"],
      bearer_methods_supported: ["header"],
      dpop_bound_access_tokens_required: true,
    },
  });
  const root = await getJson(server.url("/.well-known/oauth-protected-resource"));
  assert.equal(root.status, 404);
  assert.deepEqual(server.metadataRequests.map((r) => r.url), [
    server.resourceMetadataUrl,
    server.url("/.well-known/oauth-protected-resource"),
  ]);
  // The authorization server's documents are still there.
  const issuer = await getJson(server.url("/.well-known/oauth-authorization-server/tenant"));
  assert.equal(issuer.json.issuer, server.issuer);
});

Deno.test("protectedResourceResponse() without protectedResource answers 404, and challenges stay bare", async () => {
  await using server = await startAuthServer();
  assert.equal((await getJson(server.resourceMetadataUrl)).status, 404);
  assert.deepEqual(await challengeOf(server), {
    status: 401,
    challenge: 'Bearer error="invalid_token"',
  });
  server.requiredScope = "mcp";
  assert.equal((await challengeOf(server)).challenge, 'Bearer error="invalid_token"');
});

// modelcontextprotocol/python-sdk#1264 and #1052: a document at the root well-known URL only,
// naming the origin rather than the MCP endpoint; VS Code refused it (RFC 9728 §3.3), and
// gemini-cli#20017 had to fall back to it.
Deno.test("protectedResourceResponse() with rootOnly and resource serves a document that does not match the URL", async () => {
  await using server = await startAuthServer({
    protectedResource: { rootOnly: true, resource: "http://127.0.0.1/" },
  });
  assert.equal(server.resourceMetadataUrl, server.url("/.well-known/oauth-protected-resource"));
  const pathAware = await getJson(server.url("/.well-known/oauth-protected-resource/resource"));
  assert.equal(pathAware.status, 404);
  const root = await getJson(server.resourceMetadataUrl);
  assert.equal(root.status, 200);
  assert.equal(root.json.resource, "http://127.0.0.1/");
  assert.deepEqual(root.json.authorization_servers, [server.issuer]);
  assert.equal((await challengeOf(server)).challenge?.includes(server.resourceMetadataUrl), true);
});

Deno.test("withResourceChallenge() names the metadata in every 401 of the resource (RFC 9728 §5.1)", async () => {
  await using server = await startAuthServer({
    protectedResource: {},
    dpopNonce: { resource: true },
  });
  const metadata = `resource_metadata="${server.resourceMetadataUrl}"`;
  assert.deepEqual(await challengeOf(server), {
    status: 401,
    challenge: `Bearer error="invalid_token", ${metadata}`,
  });
  assert.deepEqual(await challengeOf(server, { Authorization: "Bearer unknown" }, "/resource/x"), {
    status: 401,
    challenge: `Bearer error="invalid_token", ${metadata}`,
  });
  // A DPoP-bound token without its proof's nonce: the DPoP challenge names it too.
  const key = await DpopKey.generate();
  const proof = await key.proof({ method: "POST", url: server.tokenEndpoint });
  const { json } = await post(server.tokenEndpoint, CLIENT_CREDENTIALS, { DPoP: proof });
  const accessToken = String(json.access_token);
  const resourceProof = await key.proof({ method: "GET", url: server.resourceUrl, accessToken });
  const dpop = await challengeOf(server, {
    Authorization: `DPoP ${accessToken}`,
    DPoP: resourceProof,
  });
  assert.equal(dpop.status, 401);
  assert.match(dpop.challenge!, /^DPoP error="use_dpop_nonce", .*, resource_metadata="[^"]+"$/);
  // Not on custom routes or unknown paths: they are not the resource.
  server.route(
    "/other",
    () => new Response(null, { status: 401, headers: { "WWW-Authenticate": "Basic" } }),
  );
  assert.equal((await challengeOf(server, {}, "/other")).challenge, "Basic");
  assert.deepEqual(await challengeOf(server, {}, "/elsewhere"), { status: 404, challenge: null });
});

Deno.test("withResourceChallenge() adds the required scope, and nothing with challenge: false", async () => {
  await using server = await startAuthServer({ protectedResource: {} });
  server.requiredScope = "mcp tools";
  assert.equal(
    (await challengeOf(server)).challenge,
    `Bearer error="invalid_token", resource_metadata="${server.resourceMetadataUrl}", scope="mcp tools"`,
  );
  await using silent = await startAuthServer({ protectedResource: { challenge: false } });
  silent.requiredScope = "mcp";
  assert.equal((await challengeOf(silent)).challenge, 'Bearer error="invalid_token"');
  assert.equal((await getJson(silent.resourceMetadataUrl)).status, 200); // still served
});
