// The stand-in server's browser login side and the scripted browser: the
// tools the other login tests rely on must themselves be right.

import assert from "node:assert/strict";
import { type AuthServer, ScriptedBrowser, startAuthServer } from "../../testing.ts";
import { ManualClock } from "../_helpers.ts";

const REDIRECT = "http://127.0.0.1:9/callback";
const VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"; // RFC 7636 Appendix B

/** Sends an authorization request and returns the redirect's Location. */
async function authorize(
  server: AuthServer,
  params: Record<string, string>,
  path = "/authorize",
): Promise<{ status: number; location: URL | null; text: string }> {
  const url = new URL(server.url(path));
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
  const response = await fetch(url, { redirect: "manual" });
  const location = response.headers.get("location");
  return {
    status: response.status,
    location: location === null ? null : new URL(location),
    text: await response.text(),
  };
}

/** A code for client "cli", redirect {@linkcode REDIRECT} and {@linkcode CHALLENGE}. */
async function codeOf(server: AuthServer): Promise<string> {
  const { location } = await authorize(server, {
    response_type: "code",
    client_id: "cli",
    redirect_uri: REDIRECT,
    state: "s",
    code_challenge: CHALLENGE,
    code_challenge_method: "S256",
  });
  return location!.searchParams.get("code")!;
}

async function token(server: AuthServer, form: Record<string, string>) {
  const response = await fetch(server.tokenEndpoint, {
    method: "POST",
    body: new URLSearchParams(form),
  });
  return { status: response.status, json: await response.json() };
}

Deno.test("AuthServer /authorize redirects with the token and the state in the fragment", async () => {
  await using server = await startAuthServer({ expiresIn: 60 });
  const { status, location } = await authorize(server, {
    response_type: "token",
    client_id: "cli",
    redirect_uri: REDIRECT,
    scope: "read",
    state: "s1",
  });
  assert.equal(status, 302);
  assert.equal(location!.href.replace(/#.*/, ""), REDIRECT);
  const answer = new URLSearchParams(location!.hash.slice(1));
  assert.deepEqual(Object.fromEntries(answer), {
    access_token: server.issuedTokens[0],
    token_type: "Bearer",
    expires_in: "60",
    scope: "read",
    state: "s1",
    iss: server.issuer,
  });
  const [issued] = server.issuedTokens;
  assert(issued);
  assert(server.accepts(issued));
  assert.equal(server.authorizationRequests.length, 1);
  assert.equal(server.tokenRequests.length, 0);
});

Deno.test("AuthServer /authorize refuses unchecked redirect URIs and unknown clients without redirecting", async () => {
  await using server = await startAuthServer({ clientId: "cli" });
  const refused: Record<string, string>[] = [
    { response_type: "token", client_id: "cli", redirect_uri: "https://evil.test/cb" },
    { response_type: "token", client_id: "cli" },
    { response_type: "token", client_id: "cli", redirect_uri: `${REDIRECT}#frag` },
    { response_type: "token", client_id: "other", redirect_uri: REDIRECT },
    { response_type: "token", redirect_uri: REDIRECT },
  ];
  for (const params of refused) {
    const { status, location, text } = await authorize(server, params);
    assert.equal(status, 400, JSON.stringify(params));
    assert.equal(location, null);
    assert.match(text, /^Cannot authorize: /);
  }
  assert.equal(server.issuedTokens.length, 0);
});

Deno.test("AuthServer /authorize redirects errors for other response types and codes without S256", async () => {
  await using server = await startAuthServer();
  const base = { client_id: "cli", redirect_uri: REDIRECT, state: "s" };
  const unsupported = await authorize(server, { ...base, response_type: "id_token" });
  assert.equal(unsupported.location!.searchParams.get("error"), "unsupported_response_type");
  assert.equal(unsupported.location!.searchParams.get("state"), "s");
  const withoutS256: Record<string, string>[] = [
    {},
    { code_challenge: CHALLENGE, code_challenge_method: "plain" },
  ];
  for (const pkce of withoutS256) {
    const { location } = await authorize(server, { ...base, response_type: "code", ...pkce });
    assert.equal(location!.searchParams.get("error"), "invalid_request");
    assert.equal(location!.searchParams.get("code"), null);
  }
});

Deno.test("AuthServer scripts error redirects and wrong states, then approves again", async () => {
  await using server = await startAuthServer();
  server.failAuthorizations(1, { error: "access_denied", errorDescription: "No" });
  server.answerWithWrongState(1);
  const params = { response_type: "code", client_id: "cli", redirect_uri: REDIRECT, state: "s" };
  const pkce = { code_challenge: CHALLENGE, code_challenge_method: "S256" };
  const denied = (await authorize(server, { ...params, ...pkce })).location!.searchParams;
  assert.deepEqual(Object.fromEntries(denied), {
    error: "access_denied",
    error_description: "No",
    state: "s",
    iss: server.issuer,
  });
  const wrong = (await authorize(server, { ...params, ...pkce })).location!.searchParams;
  assert.match(wrong.get("state")!, /^wrong-/);
  assert(wrong.get("code"));
  const right = (await authorize(server, { ...params, ...pkce }, "/token/authorize")).location!
    .searchParams;
  assert.equal(right.get("state"), "s");
});

Deno.test("AuthServer exchanges a code once, with its verifier, redirect_uri and client only", async () => {
  await using server = await startAuthServer();
  const good = { grant_type: "authorization_code", client_id: "cli", redirect_uri: REDIRECT };
  const cases: [Record<string, string>, RegExp][] = [
    [{ code_verifier: VERIFIER.replace("d", "e") }, /PKCE verification failed/],
    [{ code_verifier: "short" }, /PKCE verification failed/],
    [{ code_verifier: VERIFIER, redirect_uri: `${REDIRECT}x` }, /redirect_uri differs/],
    [{ code_verifier: VERIFIER, client_id: "other" }, /issued to another client/],
  ];
  for (const [change, message] of cases) {
    const code = await codeOf(server);
    const { status, json } = await token(server, { ...good, code, ...change });
    assert.equal(status, 400);
    assert.equal(json.error, "invalid_grant");
    assert.match(json.error_description, message);
  }
  const code = await codeOf(server);
  const issued = await token(server, { ...good, code, code_verifier: VERIFIER });
  assert.equal(issued.status, 200);
  assert.equal(issued.json.refresh_token, server.issuedRefreshTokens[0]);
  const again = await token(server, { ...good, code, code_verifier: VERIFIER });
  assert.equal(again.json.error_description, "The code is unknown or was used already");
});

Deno.test("AuthServer expires codes after a minute", async () => {
  const clock = new ManualClock();
  await using server = await startAuthServer({ now: clock.now });
  const code = await codeOf(server);
  clock.advance(60_000);
  const { json } = await token(server, {
    grant_type: "authorization_code",
    client_id: "cli",
    redirect_uri: REDIRECT,
    code,
    code_verifier: VERIFIER,
  });
  assert.equal(json.error_description, "The code has expired");
});

Deno.test("AuthServer refreshes for the client the refresh token was issued to", async () => {
  await using server = await startAuthServer({ rotateRefreshTokens: true });
  const code = await codeOf(server);
  const { json: first } = await token(server, {
    grant_type: "authorization_code",
    client_id: "cli",
    redirect_uri: REDIRECT,
    code,
    code_verifier: VERIFIER,
  });
  const other = await token(server, {
    grant_type: "refresh_token",
    client_id: "other",
    refresh_token: first.refresh_token,
  });
  assert.equal(other.json.error_description, "The refresh token was issued to another client");
  const rotated = await token(server, {
    grant_type: "refresh_token",
    client_id: "cli",
    refresh_token: first.refresh_token,
  });
  assert.equal(rotated.json.refresh_token, server.issuedRefreshTokens[1]);
  const reused = await token(server, {
    grant_type: "refresh_token",
    client_id: "cli",
    refresh_token: first.refresh_token,
  });
  assert.equal(reused.json.error, "invalid_grant");
});

Deno.test("ScriptedBrowser visits only loopback addresses and a bounded number of redirects", async () => {
  await using server = await startAuthServer();
  server.route("/loop", () => Response.redirect(server.url("/loop"), 302));
  await using browser = new ScriptedBrowser({ maxRedirects: 3 });
  await assert.rejects(
    browser.open("https://auth.example.com/authorize"),
    new TypeError(
      "Cannot visit https://auth.example.com: the scripted browser only visits loopback addresses",
    ),
  );
  await assert.rejects(browser.open(server.url("/loop")), /more than 3 redirects/);
  assert.equal(server.resourceRequests.length, 4);
  assert.deepEqual(browser.opened, ["https://auth.example.com/authorize", server.url("/loop")]);
  assert.equal(browser.pages.length, 0);
});

Deno.test("ScriptedBrowser posts the fragment it keeps across a redirect, as the page script does", async () => {
  await using server = await startAuthServer();
  server.route("/from", () => Response.redirect(server.url("/to"), 303));
  const posted: string[] = [];
  server.route("/to", (request, recorded) => {
    if (request.method === "POST") {
      posted.push(`${request.headers.get("origin")} ${new TextDecoder().decode(recorded.body)}`);
      return new Response("thanks", { status: 201 });
    }
    return new Response("<script></script>");
  });
  await using browser = new ScriptedBrowser();
  await browser.open(`${server.url("/from")}#access_token=x&state=s`);
  assert.deepEqual(posted, [`${server.origin} access_token=x&state=s`]);
  assert.deepEqual(browser.pages, [{ url: server.url("/to"), status: 201, text: "thanks" }]);
});
