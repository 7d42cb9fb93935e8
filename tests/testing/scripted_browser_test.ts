import assert from "node:assert/strict";
import { AuthorizationCodeGrant, Client } from "../../mod.ts";
import { ScriptedBrowser, startAuthServer } from "../../testing.ts";

Deno.test("ScriptedBrowser completes a login at the stand-in authorization endpoint", async () => {
  await using server = await startAuthServer();
  await using browser = new ScriptedBrowser();
  await using client = new Client({
    tokenEndpoint: server.tokenEndpoint,
    clientId: "cli",
    grant: new AuthorizationCodeGrant({
      authorizationEndpoint: server.authorizationEndpoint,
      openBrowser: browser.open,
      portRange: [0, 0],
    }),
  });
  const token = await client.getToken();
  await browser.close();
  assert.equal(browser.opened.length, 1);
  assert.equal(server.authorizationRequests.length, 1);
  assert.equal(token.accessToken, server.issuedTokens[0]);
  assert.equal(token.refreshToken, server.issuedRefreshTokens[0]);
});
