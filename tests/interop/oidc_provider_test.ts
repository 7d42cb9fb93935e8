// Interoperability with an independently written authorization server:
// npm:oidc-provider (panva), run in this process on 127.0.0.1 over node:http.
// The resource checks tokens against the provider's own store.

import assert from "node:assert/strict";
import { AuthorizationCodeGrant, Client, type ClientOptions, TokenError } from "../../mod.ts";
import { ManualClock } from "../_helpers.ts";
import { startProvider } from "./_oidc_provider.ts";

// Every character [RFC 6749 §2.3.1](https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1) says
// to form-encode.
const SECRET = "s3cr3t:+/ %&=~";

/** oidc-provider, its token endpoint, and the grant_type of every token request, in order. */
async function startTokenProvider() {
  const grants: string[] = [];
  const op = await startProvider({
    configuration: {
      clients: [
        {
          client_id: "basic",
          client_secret: SECRET,
          token_endpoint_auth_method: "client_secret_basic",
          grant_types: ["client_credentials"],
          response_types: [],
          redirect_uris: [],
          scope: "read write",
        },
        {
          client_id: "post",
          client_secret: SECRET,
          token_endpoint_auth_method: "client_secret_post",
          grant_types: ["client_credentials"],
          response_types: [],
          redirect_uris: [],
          scope: "read write",
        },
        {
          client_id: "cli",
          // Any loopback port matches:
          // [RFC 8252 §7.3](https://www.rfc-editor.org/rfc/rfc8252#section-7.3).
          application_type: "native",
          token_endpoint_auth_method: "none",
          grant_types: ["authorization_code", "refresh_token"],
          response_types: ["code"],
          redirect_uris: ["http://127.0.0.1/callback"],
        },
      ],
      scopes: ["openid", "offline_access", "read", "write", "admin"],
      features: { clientCredentials: { enabled: true }, devInteractions: { enabled: true } },
      ttl: {
        AccessToken: 60,
        ClientCredentials: 60,
        AuthorizationCode: 60,
        Grant: 3600,
        IdToken: 3600,
        Interaction: 600,
        RefreshToken: 3600,
        Session: 3600,
      },
      findAccount: (_ctx: unknown, sub: string) => ({ accountId: sub, claims: () => ({ sub }) }),
    },
    peek(req) {
      if (req.url !== "/token") return;
      // The form's grant_type: listen alongside Koa.
      let body = "";
      req.on("data", (chunk: Uint8Array) => body += new TextDecoder().decode(chunk));
      req.on("end", () => grants.push(new URLSearchParams(body).get("grant_type") ?? ""));
    },
    async resource(req, provider) {
      const body = await req.text();
      const value = /^Bearer (\S+)$/.exec(req.headers.get("authorization") ?? "")?.[1] ?? "";
      const token = await provider.ClientCredentials.find(value) ??
        await provider.AccessToken.find(value);
      if (!token || token.isExpired) {
        return new Response(null, {
          status: 401,
          headers: { "WWW-Authenticate": 'Bearer error="invalid_token"' },
        });
      }
      return Response.json({ clientId: token.clientId, scope: token.scope, body });
    },
  });
  return { ...op, tokenEndpoint: `${op.issuer}/token`, grants };
}

function clientOf(
  op: { tokenEndpoint: string },
  clientId: string,
  options: Partial<ClientOptions> = {},
) {
  return new Client({
    tokenEndpoint: op.tokenEndpoint,
    clientId,
    clientSecret: SECRET,
    clientAuth: clientId === "post" ? "client_secret_post" : "client_secret_basic",
    scope: "read write",
    ...options,
  });
}

for (const method of ["basic", "post"]) {
  Deno.test(`Client gets and uses an oidc-provider token with client_secret_${method}`, async () => {
    await using op = await startTokenProvider();
    await using client = clientOf(op, method);
    const response = await client.fetch(op.resourceUrl, { method: "POST", body: "hello" });
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), {
      clientId: method,
      scope: "read write",
      body: "hello",
    });
    const token = await client.getToken();
    assert.equal(token.tokenType, "Bearer");
    assert.equal(token.scope, "read write");
    assert.equal(token.expiresAt! - token.issuedAt, 60_000);
    assert.deepEqual(op.grants, ["client_credentials"]);
  });
}

Deno.test("Client asks oidc-provider for a narrower scope and gets the scope error for a forbidden one", async () => {
  await using op = await startTokenProvider();
  await using narrow = clientOf(op, "basic", { scope: ["read"] });
  assert.equal((await narrow.getToken()).scope, "read");
  await using forbidden = clientOf(op, "basic", { scope: "read admin", tokenErrors: "throw" });
  await assert.rejects(forbidden.fetch(op.resourceUrl), (error) => {
    assert.ok(error instanceof TokenError);
    assert.equal(error.error, "invalid_scope");
    assert.equal(error.status, 400);
    return true;
  });
});

Deno.test("Client returns oidc-provider's invalid_client for a wrong secret", async () => {
  await using op = await startTokenProvider();
  await using wrong = clientOf(op, "basic", { clientSecret: "wrong" });
  const response = await wrong.fetch(op.resourceUrl);
  assert.equal(response.status, 401);
  const body = await response.json();
  assert.equal(body.error, "invalid_client");
  await using strict = clientOf(op, "post", { clientSecret: "wrong", tokenErrors: "throw" });
  await assert.rejects(strict.getToken(), {
    name: "TokenError",
    error: "invalid_client",
    status: 401,
  });
});

Deno.test("oidc-provider refuses a secret outside VSCHAR with invalid_request", async () => {
  await using op = await startTokenProvider();
  await using client = clientOf(op, "basic", { clientSecret: "s\u00e9cret", tokenErrors: "throw" });
  await assert.rejects(client.getToken(), {
    name: "TokenError",
    error: "invalid_request",
    status: 400,
  });
});

Deno.test("Client renews an oidc-provider token when it expires on the client's clock", async () => {
  await using op = await startTokenProvider();
  const clock = new ManualClock();
  clock.time = Date.now();
  await using client = clientOf(op, "basic", { now: clock.now, renewalMargin: 0 });
  const first = await client.fetch(op.resourceUrl);
  assert.equal(first.status, 200);
  await first.body?.cancel();
  const before = await client.getToken();
  clock.advance(60_000);
  const second = await client.fetch(op.resourceUrl);
  assert.equal(second.status, 200);
  await second.body?.cancel();
  assert.notEqual((await client.getToken()).accessToken, before.accessToken);
  assert.deepEqual(op.grants, ["client_credentials", "client_credentials"]);
});

Deno.test("Client renews and replays when oidc-provider's token is revoked", async () => {
  await using op = await startTokenProvider();
  await using client = clientOf(op, "basic");
  const token = await client.getToken();
  const stored = await op.provider.ClientCredentials.find(token.accessToken);
  assert.ok(stored, "oidc-provider knows the token");
  await stored.destroy();
  const response = await client.fetch(op.resourceUrl, { method: "PUT", body: "replayed" });
  assert.equal(response.status, 200);
  assert.equal((await response.json()).body, "replayed");
  assert.equal(op.grants.length, 2);
});

/**
 * A scripted user: follows the login in the provider's development pages
 * (a login form, then a consent form) with a cookie jar, and lands on the
 * client's loopback redirect.
 */
async function logIn(start: string): Promise<void> {
  const jar = new Map<string, string>();
  let url = start;
  let init: RequestInit = {};
  for (let step = 0; step < 20; step++) {
    const headers = new Headers(init.headers);
    headers.set("Cookie", [...jar].map(([name, value]) => `${name}=${value}`).join("; "));
    const response = await fetch(url, { ...init, headers, redirect: "manual" });
    for (const cookie of response.headers.getSetCookie()) {
      const [pair = ""] = cookie.split(";"); // split() always returns at least one part
      jar.set(pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1));
    }
    const location = response.headers.get("location");
    if (location) {
      await response.body?.cancel();
      url = new URL(location, url).href;
      init = {};
      if (new URL(url).pathname === "/callback") {
        await (await fetch(url)).body?.cancel(); // the client's loopback listener
        return;
      }
      continue;
    }
    const page = await response.text();
    const prompt = /name="prompt" value="(\w+)"/.exec(page)?.[1];
    const action = /action="([^"]+)"/.exec(page)?.[1];
    if (!prompt || !action) throw new Error(`Cannot log in: unexpected page ${response.status}`);
    url = new URL(action, url).href;
    init = {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: prompt === "login" ? "prompt=login&login=alice&password=any" : "prompt=consent",
    };
  }
  throw new Error("Cannot log in: too many steps");
}

Deno.test("AuthorizationCodeGrant logs in at oidc-provider with PKCE and renews with the refresh token", async () => {
  await using op = await startTokenProvider();
  const clock = new ManualClock();
  clock.time = Date.now();
  const logins: Promise<void>[] = [];
  await using client = new Client({
    tokenEndpoint: op.tokenEndpoint,
    clientId: "cli",
    scope: "openid offline_access",
    now: clock.now,
    renewalMargin: 0,
    grant: new AuthorizationCodeGrant({
      // offline_access needs prompt=consent
      // ([OIDC Core §11](https://openid.net/specs/openid-connect-core-1_0.html#OfflineAccess));
      // the query is kept.
      authorizationEndpoint: `${op.issuer}/auth?prompt=consent`,
      portRange: [0, 0],
      openBrowser: (url) => {
        logins.push(logIn(url));
      },
    }),
  });
  const first = await client.fetch(op.resourceUrl);
  assert.equal(first.status, 200);
  assert.equal((await first.json()).clientId, "cli");
  const token = await client.getToken();
  assert.ok(token.refreshToken);
  assert.equal(typeof token.extra?.id_token, "string");
  // Two renewals: oidc-provider rotates a public client's refresh token each time.
  for (let renewal = 0; renewal < 2; renewal++) {
    clock.advance(60_000);
    const again = await client.fetch(op.resourceUrl);
    assert.equal(again.status, 200);
    await again.body?.cancel();
  }
  await Promise.all(logins);
  assert.equal(logins.length, 1); // renewed without the browser
  assert.deepEqual(op.grants, ["authorization_code", "refresh_token", "refresh_token"]);
  const renewed = await client.getToken();
  assert.notEqual(renewed.accessToken, token.accessToken);
  assert.notEqual(renewed.refreshToken, token.refreshToken);
});
