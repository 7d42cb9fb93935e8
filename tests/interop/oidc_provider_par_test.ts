// Interoperability of pushed authorization requests (RFC 9126) and the mix-up defence
// (RFC 9207) with npm:oidc-provider (panva), an independent implementation: the push with
// client_secret_basic and private_key_jwt, its request_uri at the authorization endpoint, and
// oidc-provider's own `iss` in a full login driven through its development pages.

import assert from "node:assert/strict";
import { AuthorizationCodeGrant, Client, type ClientOptions, type TokenError } from "../../mod.ts";
import { keyPair, pkcs8Pem } from "../_jws.ts";
import { type RunningProvider, startProvider } from "./_oidc_provider.ts";

const SECRET = "par-secret";
const NATIVE = {
  // Any loopback port matches: [RFC 8252 §7.3](https://www.rfc-editor.org/rfc/rfc8252#section-7.3).
  application_type: "native",
  grant_types: ["authorization_code"],
  response_types: ["code"],
  redirect_uris: ["http://127.0.0.1/callback"],
};

/** oidc-provider with PAR (required or not), and the path of every request it gets. */
async function startParProvider(
  required: boolean,
): Promise<RunningProvider & { paths: string[]; publicKey: CryptoKey; privateKey: CryptoKey }> {
  const { publicKey, privateKey } = await keyPair("ES256");
  const paths: string[] = [];
  const op = await startProvider({
    configuration: {
      clients: [
        {
          ...NATIVE,
          client_id: "basic",
          client_secret: SECRET,
          token_endpoint_auth_method: "client_secret_basic",
        },
        {
          ...NATIVE,
          client_id: "key",
          token_endpoint_auth_method: "private_key_jwt",
          jwks: { keys: [await crypto.subtle.exportKey("jwk", publicKey)] },
        },
      ],
      scopes: ["openid"],
      features: {
        devInteractions: { enabled: true },
        pushedAuthorizationRequests: {
          enabled: true,
          requirePushedAuthorizationRequests: required,
        },
      },
      ttl: {
        AccessToken: 60,
        AuthorizationCode: 60,
        Grant: 3600,
        IdToken: 3600,
        Interaction: 600,
        Session: 3600,
      },
      findAccount: (_ctx: unknown, sub: string) => ({ accountId: sub, claims: () => ({ sub }) }),
    },
    peek(req) {
      paths.push(`${req.method} ${new URL(req.url ?? "", "http://x").pathname}`);
    },
    async resource(req, provider) {
      const value = /^Bearer (\S+)$/.exec(req.headers.get("authorization") ?? "")?.[1] ?? "";
      const token = await provider.AccessToken.find(value);
      if (!token || token.isExpired) return new Response(null, { status: 401 });
      return Response.json({ clientId: token.clientId });
    },
  });
  return { ...op, paths, publicKey, privateKey };
}

/** What the scripted user saw: the first answer of the authorization endpoint, and the callback. */
interface Visit {
  /** Status and Location of the authorization endpoint's first answer. */
  first?: { status: number; location: string | null };
  /** The redirect to the client's loopback listener. */
  callback?: URL;
}

/**
 * A scripted user: follows the login through the provider's development pages (a login form,
 * then a consent form) with a cookie jar, and lands on the client's loopback redirect, after
 * `tamper` may have changed it.
 */
async function logIn(start: string, visit: Visit, tamper = (url: URL) => url): Promise<void> {
  const jar = new Map<string, string>();
  let url = start;
  let init: RequestInit = {};
  for (let step = 0; step < 20; step++) {
    const headers = new Headers(init.headers);
    headers.set("Cookie", [...jar].map(([name, value]) => `${name}=${value}`).join("; "));
    const response = await fetch(url, { ...init, headers, redirect: "manual" });
    for (const cookie of response.headers.getSetCookie()) {
      const [pair = ""] = cookie.split(";");
      jar.set(pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1));
    }
    const location = response.headers.get("location");
    visit.first ??= { status: response.status, location };
    if (location) {
      await response.body?.cancel();
      const next = new URL(location, url);
      init = {};
      if (next.pathname === "/callback") {
        visit.callback = next;
        await (await fetch(tamper(next))).body?.cancel(); // the client's loopback listener
        return;
      }
      url = next.href;
      continue;
    }
    const page = await response.text();
    const prompt = /name="prompt" value="(\w+)"/.exec(page)?.[1];
    const action = /action="([^"]+)"/.exec(page)?.[1];
    if (!prompt || !action) {
      throw new Error(`Cannot log in: unexpected page ${response.status}: ${page.slice(0, 300)}`);
    }
    url = new URL(action, url).href;
    init = {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: prompt === "login" ? "prompt=login&login=alice&password=any" : "prompt=consent",
    };
  }
  throw new Error("Cannot log in: too many steps");
}

/** A client of `op` by discovery, whose browser is {@linkcode logIn}. */
function parClient(
  op: RunningProvider,
  options: Partial<ClientOptions> & { clientId: string },
  visit: Visit,
  grant: { par?: boolean; tamper?: (url: URL) => URL } = {},
): { client: Client; logins: Promise<void>[] } {
  const logins: Promise<void>[] = [];
  const client = new Client({
    issuer: op.issuer,
    scope: "openid",
    ...options,
    grant: new AuthorizationCodeGrant({
      portRange: [0, 0],
      par: grant.par,
      openBrowser: (url) => {
        logins.push(logIn(url, visit, grant.tamper));
      },
    }),
  });
  return { client, logins };
}

for (const method of ["client_secret_basic", "private_key_jwt"] as const) {
  Deno.test(`AuthorizationCodeGrant pushes to oidc-provider with ${method}, logs in with the request_uri and accepts its iss`, async () => {
    await using op = await startParProvider(false);
    const visit: Visit = {};
    const options: Partial<ClientOptions> & { clientId: string } = method === "client_secret_basic"
      ? { clientId: "basic", clientSecret: SECRET, clientAuth: "client_secret_basic" }
      : { clientId: "key", clientKey: await pkcs8Pem(op.privateKey) };
    const { client, logins } = parClient(op, options, visit);
    await using _client = client;
    const response = await client.fetch(op.resourceUrl);
    assert.equal(response.status, 200);
    assert.equal((await response.json()).clientId, options.clientId);
    await Promise.all(logins);
    // Pushed, then the browser at /auth with the reference only.
    assert.equal(op.paths.filter((p) => p === "POST /request").length, 1);
    assert.ok(op.paths.indexOf("POST /request") < op.paths.indexOf("GET /auth"));
    // oidc-provider's answer to the request_uri: its interaction page, not an error.
    assert.equal(visit.first?.status, 303);
    assert.match(visit.first?.location ?? "", /\/interaction\/[\w-]+$/);
    // Its RFC 9207 iss, which the client compared with the issuer of its metadata.
    assert.equal(visit.callback?.searchParams.get("iss"), op.issuer);
    assert.ok(visit.callback?.searchParams.get("code"));
  });
}

Deno.test("AuthorizationCodeGrant refuses an oidc-provider redirect whose iss was changed", async () => {
  await using op = await startParProvider(false);
  const visit: Visit = {};
  const { client, logins } = parClient(
    op,
    { clientId: "basic", clientSecret: SECRET },
    visit,
    {
      tamper: (url) => {
        const changed = new URL(url);
        changed.searchParams.set("iss", `${op.issuer}/`);
        return changed;
      },
    },
  );
  await using _client = client;
  await assert.rejects(client.getToken(), /a possible mix-up/);
  await Promise.all(logins);
  assert.equal(op.paths.filter((p) => p === "POST /token").length, 0);
});

Deno.test("AuthorizationCodeGrant logs in at an oidc-provider that requires pushed requests, and refuses par: false before sending", async () => {
  await using op = await startParProvider(true);
  const visit: Visit = {};
  const refused = parClient(op, { clientId: "basic", clientSecret: SECRET }, {}, { par: false });
  await using _refused = refused.client;
  await assert.rejects(refused.client.getToken(), (error: TokenError) => {
    assert.equal(error.code, "grant_failed");
    assert.match(error.message, /requires pushed authorization requests/);
    return true;
  });
  assert.equal(refused.logins.length, 0);
  assert.deepEqual(op.paths.filter((p) => !p.includes("/.well-known/")), []);

  const { client, logins } = parClient(op, { clientId: "basic", clientSecret: SECRET }, visit);
  await using _client = client;
  await client.getToken();
  await Promise.all(logins);
  assert.equal(op.paths.filter((p) => p === "POST /request").length, 1);
  assert.equal(visit.callback?.searchParams.get("iss"), op.issuer);
});

Deno.test("oidc-provider refuses a request_uri used twice, as RFC 9126 §7.3 asks", async () => {
  await using op = await startParProvider(false);
  const endpoint = `${op.issuer}/request`;
  const pushed = await fetch(endpoint, {
    method: "POST",
    headers: { Authorization: `Basic ${btoa(`basic:${SECRET}`)}` },
    body: new URLSearchParams({
      client_id: "basic",
      response_type: "code",
      scope: "openid",
      redirect_uri: "http://127.0.0.1:9/callback",
      code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
      code_challenge_method: "S256",
    }),
  });
  assert.equal(pushed.status, 201);
  const { request_uri: requestUri, expires_in: expiresIn } = await pushed.json();
  assert.equal(typeof expiresIn, "number");
  const visit: Visit = {};
  const authorize = `${op.issuer}/auth?${new URLSearchParams({
    client_id: "basic",
    request_uri: requestUri,
  })}`;
  await logIn(authorize, visit).catch(() => {}); // nothing listens at port 9: the login is done
  assert.ok(visit.callback?.searchParams.get("code"));
  const again = await fetch(authorize, { redirect: "manual" });
  await again.body?.cancel();
  const location = new URL(again.headers.get("location") ?? "", op.issuer);
  assert.equal(location.searchParams.get("error"), "invalid_request_uri");
});
