// Browser logins in a real headless Chromium: the stand-in authorization
// server redirects to the loopback listener, and the browser runs the page.

import assert from "node:assert/strict";
import {
  AuthorizationCodeGrant,
  Client,
  ImplicitGrant,
  MemoryTokenStorage,
  TokenError,
  useImplicitFlow,
} from "../../mod.ts";
import { startAuthServer } from "../../testing.ts";
import { browserClient, paramsOf } from "../_browser_login.ts";
import { fetchText } from "../_helpers.ts";
import { HeadlessChromium, withChromium } from "./_chromium.ts";

/** Long enough for a cold Chromium start on a busy machine; the login ends sooner. */
const LOGIN_TIMEOUT = 90_000;

Deno.test(
  "useImplicitFlow() logs in through Chromium: the page posts the fragment back and clears it",
  withChromium,
  async () => {
    await using server = await startAuthServer({ expiresIn: 600 });
    await using chromium = new HeadlessChromium();
    const storage = new MemoryTokenStorage();
    await using flow = await useImplicitFlow(storage, undefined, {
      openBrowser: chromium.open,
      loginTimeout: LOGIN_TIMEOUT,
    });
    await using client = new Client({
      tokenEndpoint: server.tokenEndpoint,
      clientId: "glBQ3nYU/8/kaVi/bIgXGA==",
      clientSecret: "",
    });
    const { status } = await fetchText(client.fetch, server.resourceUrl);
    assert.equal(status, 200);
    assert(flow.port >= 32000 && flow.port <= 32009, "the default range");
    const [request] = server.resourceRequests;
    assert(request);
    assert.equal(request.token, server.issuedTokens[0]);
    const token = await client.getToken();
    assert.equal(token.expiresAt! - token.issuedAt, 600_000, "expires_in from the fragment");
    assert.equal(storage.size, 1);

    const page = await chromium.settledPage("Completing the login");
    assert.equal(page.title, "Login complete");
    assert.equal(page.text, "Login complete, you can close this tab");
    assert.equal(page.href, flow.redirectUri, "the token left the address bar");
    assert.equal(chromium.opened.length, 1);
  },
);

Deno.test("AuthorizationCodeGrant logs in through Chromium with PKCE", withChromium, async () => {
  await using server = await startAuthServer();
  await using chromium = new HeadlessChromium();
  await using client = browserClient(server, AuthorizationCodeGrant, {
    openBrowser: chromium.open,
    loginTimeout: LOGIN_TIMEOUT,
  }, { scope: "read" });
  const { status } = await fetchText(client.fetch, server.resourceUrl);
  assert.equal(status, 200);
  const [exchange] = server.tokenRequests;
  assert(exchange);
  assert.equal(exchange.form.get("grant_type"), "authorization_code");
  assert.match(exchange.form.get("code_verifier")!, /^[A-Za-z0-9_-]{43}$/);
  assert.equal((await client.getToken()).refreshToken, server.issuedRefreshTokens[0]);

  const page = await chromium.settledPage("Completing the login");
  assert.equal(page.title, "Login complete");
  assert.equal(page.text, "Login complete, you can close this tab");
  assert.match(page.href, /^http:\/\/127\.0\.0\.1:\d+\/callback\?code=/);
});

Deno.test(
  "ImplicitGrant shows a refused login in Chromium and rejects with its error",
  withChromium,
  async () => {
    await using server = await startAuthServer();
    server.failAuthorizations(1, { error: "access_denied", errorDescription: "No thanks" });
    await using chromium = new HeadlessChromium();
    await using client = browserClient(server, ImplicitGrant, {
      openBrowser: chromium.open,
      loginTimeout: LOGIN_TIMEOUT,
    });
    await assert.rejects(client.getToken(), (error: TokenError) => {
      assert(error instanceof TokenError);
      assert.equal(error.error, "access_denied");
      return true;
    });
    const page = await chromium.settledPage("Completing the login");
    assert.equal(page.title, "Login failed");
    assert.equal(
      page.text,
      "Cannot log in: the authorization server answered access_denied: No thanks. You can close this tab.",
    );
  },
);

Deno.test(
  "AuthorizationCodeGrant ignores a redirect Chromium sends to a rebound name (DNS rebinding)",
  withChromium,
  async () => {
    await using server = await startAuthServer();
    // Another site's name that now resolves to 127.0.0.1.
    await using chromium = new HeadlessChromium([
      "--host-resolver-rules=MAP rebind.test 127.0.0.1",
    ]);
    await using client = browserClient(server, AuthorizationCodeGrant, {
      // The other site's page sends the browser to the listener under its own name.
      openBrowser: (url) => {
        const redirect = new URL(paramsOf(url).get("redirect_uri")!);
        const state = paramsOf(url).get("state")!;
        return chromium.open(
          `http://rebind.test:${redirect.port}/callback?code=forged&state=${state}`,
        );
      },
      loginTimeout: LOGIN_TIMEOUT,
    });
    const login = client.getToken();
    const refused = assert.rejects(login, /Cannot log in: the login was aborted/);
    const page = await chromium.pageWhen((state) => state.text !== "");
    assert.equal(page.text, "Cannot answer this request: it is addressed to another host");
    assert.equal(server.tokenRequests.length, 0, "the forged code was not exchanged");
    await client.close();
    await refused;
  },
);
