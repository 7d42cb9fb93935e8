// The mix-up defence of browser logins (RFC 9207): the redirect's `iss` against the issuer of the
// metadata, with and without the server's promise to send it.

import assert from "node:assert/strict";
import {
  AuthorizationCodeGrant,
  type AuthorizationServerMetadata,
  Client,
  type Grant,
  ImplicitGrant,
  TokenError,
} from "../../mod.ts";
import { checkResponseIssuer } from "../../src/login/_response_issuer.ts";
import {
  type AuthServer,
  type AuthServerOptions,
  ScriptedBrowser,
  startAuthServer,
} from "../../testing.ts";

type GrantClass = typeof AuthorizationCodeGrant | typeof ImplicitGrant;

/** A client of `server` found from its issuer, with a grant of `Grant` (par off: one request less). */
function issuerClient(server: AuthServer, Grant: GrantClass, browser: ScriptedBrowser): Client {
  const login = { openBrowser: browser.open, portRange: [0, 0] as [number, number] };
  const grant: Grant = Grant === AuthorizationCodeGrant
    ? new AuthorizationCodeGrant({ ...login, par: false })
    : new ImplicitGrant(login);
  return new Client({ issuer: server.issuer, clientId: "cli", grant });
}

/** Whether `metadata` promises `iss`: the kit does, unless told to leave the member out. */
function serverOptions(
  advertised: boolean,
  issuers: (string | null)[],
  more: AuthServerOptions = {},
): AuthServerOptions {
  return {
    authorizationResponseIssuers: issuers,
    ...(advertised
      ? {}
      : { metadata: { omit: ["authorization_response_iss_parameter_supported"] } }),
    ...more,
  };
}

const WRONG = "https://attacker.example";

for (const Grant of [AuthorizationCodeGrant, ImplicitGrant]) {
  Deno.test(`${Grant.name}.obtain() accepts a redirect whose iss is the issuer`, async () => {
    await using server = await startAuthServer();
    await using browser = new ScriptedBrowser();
    await using client = issuerClient(server, Grant, browser);
    const token = await client.getToken();
    assert.equal(token.accessToken, server.issuedTokens[0]);
    // The iss of the redirect is not a member of the token (the implicit grant's fragment).
    assert.equal(token.extra?.iss, undefined);
    await browser.close();
    assert.equal(browser.pages[0]?.status, 200);
  });

  Deno.test(`${Grant.name}.obtain() refuses a redirect from another issuer, and ends the login`, async () => {
    await using server = await startAuthServer(serverOptions(true, [WRONG]));
    await using browser = new ScriptedBrowser();
    await using client = issuerClient(server, Grant, browser);
    await assert.rejects(client.getToken(), (error: TokenError) => {
      assert.equal(error.code, "login_failed");
      assert.equal(
        error.message,
        `Cannot log in: the authorization response comes from "${WRONG}", not from the issuer ${server.issuer}: a possible mix-up (RFC 9207 §2.4)`,
      );
      return true;
    });
    assert.equal(server.tokenRequests.length, 0, "the code is never exchanged");
    await browser.close();
    assert.equal(browser.pages[0]?.status, 400);
    assert.match(browser.pages[0]!.text, /a possible mix-up/);
  });
}

Deno.test("AuthorizationCodeGrant.obtain() refuses a redirect without iss when the metadata promises it", async () => {
  // cloudflare/mcp-server-cloudflare#449: advertised, then left out.
  await using server = await startAuthServer(serverOptions(true, [null]));
  await using browser = new ScriptedBrowser();
  await using client = issuerClient(server, AuthorizationCodeGrant, browser);
  await assert.rejects(
    client.getToken(),
    new TokenError(
      `Cannot log in: the authorization response has no "iss", although the metadata of ${server.issuer} says authorization_response_iss_parameter_supported (RFC 9207 §2.4)`,
      { code: "login_failed" },
    ),
  );
  assert.equal(server.tokenRequests.length, 0);
});

Deno.test("AuthorizationCodeGrant.obtain() accepts a redirect without iss from a server that does not promise it", async () => {
  await using server = await startAuthServer(serverOptions(false, [null]));
  await using browser = new ScriptedBrowser();
  await using client = issuerClient(server, AuthorizationCodeGrant, browser);
  await client.getToken();
  assert.equal(server.tokenRequests.length, 1);
});

// openiddict#2428: Google sends iss without advertising it. Compared rather than discarded.
Deno.test("AuthorizationCodeGrant.obtain() compares an iss the metadata does not promise", async () => {
  await using server = await startAuthServer(serverOptions(false, [WRONG]));
  await using browser = new ScriptedBrowser();
  await using client = issuerClient(server, AuthorizationCodeGrant, browser);
  await assert.rejects(client.getToken(), /a possible mix-up/);
  // The next redirect carries the right issuer, unannounced: accepted.
  await client.getToken();
  assert.equal(server.tokenRequests.length, 1);
});

// modelcontextprotocol/python-sdk#2921: simple string comparison, no normalisation.
Deno.test("AuthorizationCodeGrant.obtain() compares iss and the issuer as exact strings", async (t) => {
  const issuers: string[] = []; // read by the server as it is at each redirect
  await using server = await startAuthServer({
    issuerPath: "/tenant",
    authorizationResponseIssuers: issuers,
  });
  const variants = [
    `${server.issuer}/`,
    server.issuer.toUpperCase(),
    server.issuer.replace("127.0.0.1", "localhost"),
    server.issuer.replace("/tenant", "/%74enant"),
    `${server.issuer} `,
  ];
  for (const variant of variants) {
    await t.step(JSON.stringify(variant), async () => {
      issuers.push(variant);
      await using browser = new ScriptedBrowser();
      await using client = issuerClient(server, AuthorizationCodeGrant, browser);
      await assert.rejects(client.getToken(), /a possible mix-up/);
    });
  }
  assert.equal(server.tokenRequests.length, 0);
});

// modelcontextprotocol/typescript-sdk#2272: an error from the wrong server is not believed either.
Deno.test("AuthorizationCodeGrant.obtain() refuses an error redirect from another issuer as a mix-up", async () => {
  await using server = await startAuthServer(serverOptions(true, [WRONG]));
  server.failAuthorizations(1, { error: "access_denied", errorDescription: "No" });
  await using browser = new ScriptedBrowser();
  await using client = issuerClient(server, AuthorizationCodeGrant, browser);
  await assert.rejects(client.getToken(), (error: TokenError) => {
    assert.equal(error.error, undefined);
    assert.match(error.message, /a possible mix-up/);
    return true;
  });
});

// panva/oauth4webapi#226: a client that names no issuer has nothing to compare with.
Deno.test("AuthorizationCodeGrant.obtain() ignores iss when the client has no issuer", async () => {
  await using server = await startAuthServer(serverOptions(true, [WRONG]));
  await using browser = new ScriptedBrowser();
  await using client = new Client({
    tokenEndpoint: server.tokenEndpoint,
    clientId: "cli",
    grant: new AuthorizationCodeGrant({ openBrowser: browser.open, portRange: [0, 0] }),
  });
  await client.getToken();
  assert.equal(server.metadataRequests.length, 0);
  assert.equal(server.tokenRequests.length, 1);
});

Deno.test("AuthorizationCodeGrant.obtain() checks the iss of a pushed login's redirect", async () => {
  await using server = await startAuthServer(serverOptions(true, [WRONG]));
  await using browser = new ScriptedBrowser();
  await using client = new Client({
    issuer: server.issuer,
    clientId: "cli",
    grant: new AuthorizationCodeGrant({ openBrowser: browser.open, portRange: [0, 0] }),
  });
  await assert.rejects(client.getToken(), /a possible mix-up/);
  assert.equal(server.pushedAuthorizationRequests.length, 1);
  assert.equal(server.tokenRequests.length, 0);
});

Deno.test("checkResponseIssuer() refuses a response with two iss, and reads form-encoded values", () => {
  const metadata: AuthorizationServerMetadata = {
    issuer: "https://as.example/a b",
    token_endpoint: "https://as.example/token",
    authorization_response_iss_parameter_supported: true,
  };
  checkResponseIssuer(new URLSearchParams("code=c&iss=https%3A%2F%2Fas.example%2Fa+b"), metadata);
  assert.throws(
    () =>
      checkResponseIssuer(
        new URLSearchParams("code=c&iss=https%3A%2F%2Fas.example%2Fa+b&iss=https://x"),
        metadata,
      ),
    /has more than one "iss"/,
  );
  // Without metadata there is nothing to compare with.
  checkResponseIssuer(new URLSearchParams("iss=https://x"), undefined);
});
