import assert from "node:assert/strict";
import { type AuthServer, startAuthServer } from "../../testing.ts";
import { alf, closedPort, CREDENTIALS, envFor, isOneLineError, SECRET } from "./_run.ts";

Deno.test("alf token prints the access token the server issued", async () => {
  await using server = await startAuthServer(CREDENTIALS);
  const { code, out, err } = await alf(["token"], { env: envFor(server) });
  assert.equal(code, 0, err);
  assert.equal(out, `${server.issuedTokens[0]}\n`);
  assert.equal(err, "");
  assert.equal(server.tokenRequests.length, 1);
  assert.equal(server.tokenRequests[0]?.form.get("grant_type"), "client_credentials");
});

Deno.test("alf token --json prints the token record with expiresAt, without the secret", async () => {
  await using server = await startAuthServer({ ...CREDENTIALS, expiresIn: 600 });
  const before = Date.now();
  const { code, out, err } = await alf(["token", "--json", "--scope", "read"], {
    env: envFor(server),
  });
  assert.equal(code, 0, err);
  const record = JSON.parse(out);
  assert.equal(record.accessToken, server.issuedTokens[0]);
  assert.equal(record.tokenType, "Bearer");
  assert.equal(record.scope, "read");
  assert.ok(record.issuedAt >= before && record.issuedAt <= Date.now());
  assert.equal(record.expiresAt, record.issuedAt + 600_000);
  assert.ok(!out.includes(SECRET));
});

Deno.test("alf token exits 3 with one line when the token endpoint refuses", async () => {
  await using server = await startAuthServer({ ...CREDENTIALS, clientSecret: "another" });
  const { code, out, err } = await alf(["token"], { env: envFor(server) });
  assert.equal(code, 3);
  assert.equal(out, "");
  assert.ok(isOneLineError(err), err);
  assert.match(err, /answered 401 \(invalid_client: Client authentication failed\)/);
  assert.ok(!err.includes(SECRET));
});

Deno.test("alf token exits 3 when the token endpoint fails or cannot be reached", async () => {
  await using server = await startAuthServer(CREDENTIALS);
  server.failTokenRequests(1, { status: 503, body: "busy", headers: {} });
  const failed = await alf(["token"], { env: envFor(server) });
  assert.equal(failed.code, 3);
  assert.ok(isOneLineError(failed.err), failed.err);
  assert.match(failed.err, /the token endpoint answered 503/);

  const port = await closedPort();
  const unreachable = await alf(["token"], {
    env: envFor({ tokenEndpoint: `http://127.0.0.1:${port}/token` }),
  });
  assert.equal(unreachable.code, 3);
  assert.ok(isOneLineError(unreachable.err), unreachable.err);
  assert.match(
    unreachable.err,
    /^alf: Cannot reach the token endpoint http:\/\/127\.0\.0\.1:\d+\/token: /,
  );
  assert.ok(unreachable.err.includes(`http://127.0.0.1:${port}/token`), unreachable.err);
});

Deno.test("alf token exits 2 without a token endpoint or a client id", async () => {
  const noEndpoint = await alf(["token"], { env: { ALF_CLIENT_ID: "id" } });
  assert.equal(noEndpoint.code, 2);
  assert.ok(isOneLineError(noEndpoint.err), noEndpoint.err);
  assert.match(
    noEndpoint.err,
    /no token endpoint; pass --token-endpoint \(or set ALF_TOKEN_ENDPOINT\), or --resource/,
  );

  const noId = await alf(["token"], { env: { ALF_TOKEN_ENDPOINT: "http://127.0.0.1:9/token" } });
  assert.equal(noId.code, 2);
  assert.match(noId.err, /no client id; pass --client-id or set ALF_CLIENT_ID/);
});

Deno.test("alf token exits 2 for a positional argument, without repeating it", async () => {
  await using server = await startAuthServer(CREDENTIALS);
  const { code, err } = await alf(["token", SECRET], { env: envFor(server) });
  assert.equal(code, 2);
  assert.ok(isOneLineError(err), err);
  assert.match(err, /alf token takes no arguments, got 1/);
  assert.ok(!err.includes(SECRET));
  assert.equal(server.tokenRequests.length, 0);
});

/**
 * Rewrites the KV file's record of `accessToken` (wherever the storage keeps
 * it) as if the token were issued an hour ago and had `left` ms to live.
 */
async function ageStoredToken(path: string, accessToken: string, left: number): Promise<void> {
  const kv = await Deno.openKv(path);
  let aged = 0;
  try {
    for await (const entry of kv.list({ prefix: [] })) {
      const record = findRecord(entry.value, accessToken);
      if (!record) continue;
      const now = Date.now();
      record.issuedAt = now - 3600_000;
      record.expiresAt = now + left;
      await kv.set(entry.key, entry.value);
      aged++;
    }
  } finally {
    kv.close();
  }
  assert.ok(aged > 0, "the KV file holds the token");
}

/** The object in `value` that is the record of `accessToken`. */
function findRecord(value: unknown, accessToken: string): Record<string, unknown> | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const record = value as Record<string, unknown>;
  if (record.accessToken === accessToken) return record;
  for (const child of Object.values(record)) {
    const found = findRecord(child, accessToken);
    if (found) return found;
  }
  return undefined;
}

Deno.test("alf token prints a fresh token, never a stored one inside its renewal margin", async () => {
  await using server = await startAuthServer({ ...CREDENTIALS, expiresIn: 3600 });
  const dir = await Deno.makeTempDir({ prefix: "alf-token-test-" });
  try {
    const env = envFor(server, { ALF_KV: `${dir}/tokens.kv` });
    const first = await alf(["token"], { env });
    assert.equal(first.code, 0, first.err);
    // 30 s left: inside the default 60 s margin, where a renewal is due.
    await ageStoredToken(`${dir}/tokens.kv`, first.out.trim(), 30_000);
    const before = Date.now();
    const second = await alf(["token", "--json"], { env });
    assert.equal(second.code, 0, second.err);
    const printed = JSON.parse(second.out);
    assert.equal(server.tokenRequests.length, 2);
    assert.equal(printed.accessToken, server.issuedTokens[1]);
    assert.notEqual(printed.accessToken, first.out.trim());
    assert.ok(printed.expiresAt - before > 60_000, "outside the renewal margin");
    const third = await alf(["token"], { env });
    assert.equal(third.out, `${server.issuedTokens[1]}\n`); // the fresh one is reused
    assert.equal(server.tokenRequests.length, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** A token endpoint on `server` that answers `accessToken`, at `/jwt/token`. */
function tokenRoute(server: AuthServer, accessToken: string): string {
  server.route(
    "/jwt/token",
    () => Response.json({ access_token: accessToken, token_type: "Bearer", expires_in: 300 }),
  );
  return server.url("/jwt/token");
}

const base64url = (value: unknown) =>
  btoa(JSON.stringify(value)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

Deno.test("alf token --claims prints a JWT access token's header and claims, unverified", async () => {
  await using server = await startAuthServer(CREDENTIALS);
  const header = { alg: "RS256", typ: "at+jwt", kid: "k1" };
  const claims = {
    iss: server.issuer,
    aud: "https://api.example.com",
    scope: "read write",
    exp: 2e9,
  };
  const jwt = `${base64url(header)}.${base64url(claims)}.bm90LWNoZWNrZWQ`; // "not-checked"
  const { code, out, err } = await alf(["token", "--claims"], {
    env: envFor(server, { ALF_TOKEN_ENDPOINT: tokenRoute(server, jwt) }),
  });
  assert.equal(code, 0, err);
  assert.equal(err, "");
  assert.deepEqual(JSON.parse(out), { header, claims });
  assert.match(out, /^\{\n {2}"header": \{\n {4}"alg": "RS256",/); // pretty
  assert.ok(!out.includes(jwt));
});

Deno.test("alf token --claims exits 1 for an opaque or encrypted token, without printing it", async () => {
  await using server = await startAuthServer(CREDENTIALS);
  const opaque = await alf(["token", "--claims"], { env: envFor(server) });
  assert.equal(opaque.code, 1);
  assert.equal(opaque.out, "");
  assert.ok(isOneLineError(opaque.err), opaque.err);
  assert.match(
    opaque.err,
    /^alf: Cannot show the claims of the access token: it is not a JWT but an opaque token, which only the authorization server can read \(token introspection, RFC 7662\)\n$/,
  );
  assert.ok(!opaque.err.includes(server.issuedTokens[0] ?? "?"));
  const jwe = `${base64url({ alg: "RSA-OAEP", enc: "A256GCM" })}.a2V5.aXY.Y2lwaGVy.dGFn`;
  const encrypted = await alf(["token", "--claims"], {
    env: envFor(server, { ALF_TOKEN_ENDPOINT: tokenRoute(server, jwe) }),
  });
  assert.equal(encrypted.code, 1);
  assert.match(encrypted.err, /it is an encrypted JWT \(JWE\), which only the API can read\n$/);
});

Deno.test("alf token exits 2 for --json with --claims, before any token request", async () => {
  await using server = await startAuthServer(CREDENTIALS);
  const { code, err } = await alf(["token", "--json", "--claims"], { env: envFor(server) });
  assert.equal(code, 2);
  assert.ok(isOneLineError(err), err);
  assert.match(err, /--json and --claims print different things; give one/);
  assert.equal(server.tokenRequests.length, 0);
});
