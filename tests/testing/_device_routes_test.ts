import assert from "node:assert/strict";
import { type AuthServer, startAuthServer } from "../../testing.ts";

const DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code";

async function post(
  url: string,
  form: Record<string, string>,
  headers: HeadersInit = {},
): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(url, { method: "POST", headers, body: new URLSearchParams(form) });
  return { status: response.status, json: await response.json() };
}

/** Codes for `clientId` (a public client), approved by the "user". */
async function approvedCodes(server: AuthServer, clientId: string): Promise<string> {
  const { json } = await post(server.url("/device_authorization"), { client_id: clientId });
  await (await fetch(json.verification_uri_complete as string)).body?.cancel();
  return json.device_code as string;
}

Deno.test("DeviceDesk.handle() authenticates the client at /device_authorization as /token does", async () => {
  await using server = await startAuthServer({ clientId: "cli", clientSecret: "s3cret" });
  const url = server.url("/device_authorization");
  const named = await post(url, { client_id: "cli" });
  assert.equal(named.status, 401);
  assert.equal(named.json.error, "invalid_client");
  const wrong = await post(url, {}, { Authorization: `Basic ${btoa("cli:wrong")}` });
  assert.equal(wrong.status, 401);
  const right = await post(url, { scope: "read" }, {
    Authorization: `Basic ${btoa("cli:s3cret")}`,
  });
  assert.equal(right.status, 200);
  assert.equal(right.json.user_code, "USER-0001");
});

Deno.test("DeviceDesk.handle() refuses a client that does not name itself", async () => {
  await using server = await startAuthServer();
  const { status, json } = await post(server.url("/device_authorization"), {});
  assert.equal(status, 400);
  assert.deepEqual(json, {
    error: "invalid_request",
    error_description: "The client is not named",
  });
});

Deno.test("DeviceDesk.token() answers an approved code with a refresh token the refresh grant honours", async () => {
  await using server = await startAuthServer();
  const { json: codes } = await post(server.url("/device_authorization"), {
    client_id: "cli",
    scope: "read",
  });
  await (await fetch(codes.verification_uri_complete as string)).body?.cancel();
  const token = await post(server.tokenEndpoint, {
    grant_type: DEVICE_CODE,
    device_code: codes.device_code as string,
    client_id: "cli",
  });
  assert.equal(token.status, 200);
  assert.equal(token.json.scope, "read");
  assert.equal(token.json.refresh_token, server.issuedRefreshTokens[0]);
  const refreshed = await post(server.tokenEndpoint, {
    grant_type: "refresh_token",
    refresh_token: token.json.refresh_token as string,
    client_id: "cli",
  });
  assert.equal(refreshed.status, 200);
  assert.equal(refreshed.json.access_token, server.issuedTokens[1]);
  assert.equal(refreshed.json.scope, "read");
});

Deno.test("DeviceDesk.token() refuses a device code polled by another client", async () => {
  await using server = await startAuthServer();
  const deviceCode = await approvedCodes(server, "cli");
  const stolen = await post(server.tokenEndpoint, {
    grant_type: DEVICE_CODE,
    device_code: deviceCode,
    client_id: "another",
  });
  assert.equal(stolen.status, 400);
  assert.deepEqual(stolen.json, {
    error: "invalid_grant",
    error_description: "The device code was issued to another client",
  });
  assert.equal(server.issuedTokens.length, 0);
});

Deno.test("AuthServer advertises the device authorization endpoint and grant in its metadata", async () => {
  await using server = await startAuthServer();
  const metadata = await (await fetch(server.url("/.well-known/oauth-authorization-server")))
    .json();
  assert.equal(metadata.device_authorization_endpoint, server.url("/device_authorization"));
  assert(metadata.grant_types_supported.includes(DEVICE_CODE));
});

Deno.test("DeviceDesk.token() issues tokens for the resource of the device authorization request (RFC 8707)", async () => {
  await using server = await startAuthServer({ deviceAuthorization: {} });
  const url = server.url("/device_authorization");
  const invalid = await post(url, { client_id: "cli", resource: "/relative" });
  assert.deepEqual([invalid.status, invalid.json.error], [400, "invalid_target"]);
  const { json } = await post(url, { client_id: "cli", resource: server.resourceUrl });
  await (await fetch(json.verification_uri_complete as string)).body?.cancel();
  const granted = await post(server.tokenEndpoint, {
    grant_type: DEVICE_CODE,
    device_code: json.device_code as string,
    client_id: "cli",
  });
  assert.equal(granted.status, 200);
  assert.deepEqual(server.audienceOf(granted.json.access_token as string), [server.resourceUrl]);
});
