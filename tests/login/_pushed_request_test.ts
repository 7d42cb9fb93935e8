// Pushed authorization requests (RFC 9126) of the authorization code grant: when a login pushes,
// what the browser then gets, and every way the push can fail before the browser opens.

import assert from "node:assert/strict";
import {
  AuthorizationCodeGrant,
  type AuthorizationCodeGrantOptions,
  Client,
  type ClientOptions,
  ImplicitGrant,
  MemoryTokenStorage,
  TokenError,
  useAuthorizationCodeFlow,
  useImplicitFlow,
} from "../../mod.ts";
import { parsePushedAnswer } from "../../src/login/_pushed_request.ts";
import {
  type AuthServer,
  type AuthServerOptions,
  ScriptedBrowser,
  startAuthServer,
  type TokenFailure,
} from "../../testing.ts";
import { paramsOf } from "../_browser_login.ts";
import { fetchText, ManualClock } from "../_helpers.ts";
import { keyPair, pkcs8Pem } from "../_jws.ts";

const SECRET = "s3cret-that-must-not-leak";
const REQUEST_URI = /^urn:ietf:params:oauth:request_uri:[0-9a-f-]{36}$/;

/** A client of `server` found by discovery, logging in with the authorization code grant. */
function discoveredClient(
  server: AuthServer,
  grant: AuthorizationCodeGrantOptions,
  options: Partial<ClientOptions> = {},
): Client {
  return new Client({
    issuer: server.issuer,
    clientId: "cli",
    grant: new AuthorizationCodeGrant({ portRange: [0, 0], ...grant }),
    ...options,
  });
}

Deno.test("AuthorizationCodeGrant.obtain() pushes the request with the client's authentication and opens the browser with client_id and request_uri only", async () => {
  await using server = await startAuthServer({ clientId: "cli", clientSecret: SECRET });
  await using browser = new ScriptedBrowser();
  await using client = discoveredClient(server, { openBrowser: browser.open }, {
    clientSecret: SECRET,
    scope: "read",
  });
  const token = await client.getToken();
  assert.equal(token.accessToken, server.issuedTokens[0]);

  const [push] = server.pushedAuthorizationRequests;
  assert(push);
  assert.equal(push.method, "POST");
  assert.equal(push.url, server.url("/par"));
  assert.equal(push.headers.get("authorization"), `Basic ${btoa(`cli:${SECRET}`)}`);
  assert.deepEqual([...push.form.keys()], [
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
  ]);
  assert.equal(push.form.get("response_type"), "code");
  assert.equal(push.form.get("code_challenge_method"), "S256");
  // The browser carries the reference only (RFC 9126 §4).
  const opened = paramsOf(browser.opened[0]);
  assert.deepEqual([...opened.keys()], ["client_id", "request_uri"]);
  assert.equal(opened.get("client_id"), "cli");
  assert.match(opened.get("request_uri")!, REQUEST_URI);
  assert.equal(new URL(browser.opened[0]!).origin + "/authorize", server.authorizationEndpoint);
  // The exchange uses the pushed redirect_uri.
  const [exchange] = server.tokenRequests;
  assert.equal(exchange?.form.get("redirect_uri"), push.form.get("redirect_uri"));
  assert.equal(server.pushedAuthorizationRequests.length, 1);
});

Deno.test("AuthorizationCodeGrant.obtain() pushes to the pushedAuthorizationRequestEndpoint given, without discovery", async () => {
  await using server = await startAuthServer();
  await using browser = new ScriptedBrowser();
  await using client = new Client({
    tokenEndpoint: server.tokenEndpoint,
    clientId: "cli",
    grant: new AuthorizationCodeGrant({
      authorizationEndpoint: server.authorizationEndpoint,
      pushedAuthorizationRequestEndpoint: server.url("/par"),
      openBrowser: browser.open,
      portRange: [0, 0],
    }),
  });
  await client.getToken();
  assert.equal(server.metadataRequests.length, 0);
  assert.equal(server.pushedAuthorizationRequests[0]?.form.get("client_id"), "cli");
  assert.deepEqual([...paramsOf(browser.opened[0]).keys()], ["client_id", "request_uri"]);
});

Deno.test("AuthorizationCodeGrant.obtain() pushes with a private_key_jwt assertion the server verifies", async () => {
  const keys = await keyPair("ES256");
  await using server = await startAuthServer({ clientId: "cli", clientKeys: [keys.publicKey] });
  await using browser = new ScriptedBrowser();
  await using client = discoveredClient(server, { openBrowser: browser.open }, {
    clientKey: await pkcs8Pem(keys.privateKey),
  });
  await client.getToken();
  const [push] = server.pushedAuthorizationRequests;
  assert.equal(push?.clientAuthMethod, "private_key_jwt");
  assert.equal(push?.clientAssertion?.claims.aud, server.issuer);
  assert.equal(server.tokenRequests.length, 1);
});

Deno.test("AuthorizationCodeGrant.obtain() with par: false sends the whole request through the browser", async () => {
  await using server = await startAuthServer();
  await using browser = new ScriptedBrowser();
  await using client = discoveredClient(server, { openBrowser: browser.open, par: false });
  await client.getToken();
  assert.equal(server.pushedAuthorizationRequests.length, 0);
  const opened = paramsOf(browser.opened[0]);
  assert.equal(opened.get("response_type"), "code");
  assert.equal(opened.get("request_uri"), null);
  assert.ok(opened.get("code_challenge"));
});

Deno.test("AuthorizationCodeGrant.obtain() does not push when no endpoint is given or discovered", async () => {
  await using server = await startAuthServer({
    metadata: { omit: ["pushed_authorization_request_endpoint"] },
  });
  await using browser = new ScriptedBrowser();
  await using client = discoveredClient(server, { openBrowser: browser.open });
  await client.getToken();
  assert.equal(server.pushedAuthorizationRequests.length, 0);
  assert.equal(paramsOf(browser.opened[0]).get("response_type"), "code");
});

Deno.test("AuthorizationCodeGrant.obtain() pushes at a server that requires it, whose /authorize refuses the rest", async () => {
  const options: AuthServerOptions = { pushedAuthorizationRequests: { required: true } };
  await using server = await startAuthServer(options);
  await using browser = new ScriptedBrowser();
  await using client = discoveredClient(server, { openBrowser: browser.open });
  await client.getToken();
  assert.equal(server.pushedAuthorizationRequests.length, 1);
  // The same server refuses a login that is not pushed (a client without discovery).
  await using unpushed = new Client({
    tokenEndpoint: server.tokenEndpoint,
    clientId: "cli",
    grant: new AuthorizationCodeGrant({ openBrowser: browser.open, portRange: [0, 0] }),
  });
  await assert.rejects(unpushed.getToken(), (error: TokenError) => {
    assert.equal(error.error, "invalid_request");
    assert.match(error.message, /pushed authorization requests only/);
    return true;
  });
});

Deno.test("AuthorizationCodeGrant.obtain() with par: false at a server that requires pushing fails before sending anything", async () => {
  await using server = await startAuthServer({ pushedAuthorizationRequests: { required: true } });
  await using browser = new ScriptedBrowser();
  await using client = discoveredClient(server, { openBrowser: browser.open, par: false });
  await assert.rejects(
    client.getToken(),
    new TokenError(
      'Cannot log in: the authorization server requires pushed authorization requests (require_pushed_authorization_requests, RFC 9126 §5), and "par" is false',
    ),
  );
  assert.equal(browser.opened.length, 0);
  assert.equal(server.pushedAuthorizationRequests.length, 0);
  assert.equal(server.authorizationRequests.length, 0);
});

Deno.test("AuthorizationCodeGrant.obtain() fails when it must push and knows no endpoint", async (t) => {
  await t.step("par: true, no issuer", async () => {
    await using server = await startAuthServer();
    await using browser = new ScriptedBrowser();
    await using client = new Client({
      tokenEndpoint: server.tokenEndpoint,
      clientId: "cli",
      grant: new AuthorizationCodeGrant({
        openBrowser: browser.open,
        par: true,
        portRange: [0, 0],
      }),
    });
    await assert.rejects(client.getToken(), (error: TokenError) => {
      assert.equal(error.code, "grant_failed");
      assert.match(error.message, /^Cannot log in: "par" is true, but no pushed authorization/);
      return true;
    });
    assert.equal(browser.opened.length, 0);
  });
  // authlib#814: require_pushed_authorization_requests without an endpoint to push to.
  await t.step("required by metadata that names no endpoint", async () => {
    await using server = await startAuthServer({
      pushedAuthorizationRequests: { required: true },
      metadata: { omit: ["pushed_authorization_request_endpoint"] },
    });
    await using browser = new ScriptedBrowser();
    await using client = discoveredClient(server, { openBrowser: browser.open });
    await assert.rejects(
      client.getToken(),
      /^TokenError: Cannot log in: the authorization server requires pushed authorization requests, but no pushed authorization request endpoint is known/,
    );
    assert.equal(browser.opened.length, 0);
  });
});

Deno.test("AuthorizationCodeGrant.obtain() ends with a TokenError, before the browser opens, when the push fails", async (t) => {
  const cases: [string, TokenFailure, Partial<TokenError>, RegExp][] = [
    [
      "400 invalid_request",
      {
        status: 400,
        body: JSON.stringify({ error: "invalid_request", error_description: "Bad scope" }),
      },
      { code: "http_error", status: 400, error: "invalid_request", errorDescription: "Bad scope" },
      /^Cannot log in: the pushed authorization request endpoint answered 400 \(invalid_request: Bad scope\)$/,
    ],
    [
      "401 invalid_client",
      { status: 401, body: JSON.stringify({ error: "invalid_client" }) },
      { code: "http_error", status: 401, error: "invalid_client" },
      /answered 401 \(invalid_client\)$/,
    ],
    [
      "500 page",
      { status: 500, body: "<html>oops</html>", headers: { "Content-Type": "text/html" } },
      { code: "http_error", status: 500, error: undefined },
      /answered 500$/,
    ],
    [
      "201 not JSON",
      { status: 201, body: "request_uri=x" },
      { code: "invalid_response", status: 201 },
      /answer is not a JSON object \(RFC 9126 §2\.2\)$/,
    ],
    [
      "201 without request_uri",
      { status: 201, body: JSON.stringify({ expires_in: 60 }) },
      { code: "invalid_response" },
      /answer has no "request_uri" string/,
    ],
    [
      "201 with expires_in as a string",
      { status: 201, body: JSON.stringify({ request_uri: "urn:x", expires_in: "60" }) },
      { code: "invalid_response" },
      /answer has no "expires_in" positive integer/,
    ],
    [
      "200 instead of 201",
      { status: 200, body: JSON.stringify({ request_uri: "urn:x", expires_in: 60 }) },
      { code: "invalid_response", status: 200 },
      /answer has status 200, not 201/,
    ],
  ];
  for (const [name, failure, expected, message] of cases) {
    await t.step(name, async () => {
      await using server = await startAuthServer({
        clientSecret: SECRET,
        pushedAuthorizationRequests: { failures: [failure] },
      });
      await using browser = new ScriptedBrowser();
      await using client = discoveredClient(server, { openBrowser: browser.open }, {
        clientSecret: SECRET,
      });
      const error = await client.getToken().then(
        () => assert.fail("a token"),
        (error: unknown) => error,
      );
      assert(error instanceof TokenError);
      assert.match(error.message, message);
      for (const [field, value] of Object.entries(expected)) {
        assert.equal(error[field as keyof TokenError], value, field);
      }
      assert(!error.message.includes(SECRET) && !Deno.inspect(error).includes(SECRET));
      assert.equal(browser.opened.length, 0);
      assert.equal(server.authorizationRequests.length, 0);
      assert.equal(server.tokenRequests.length, 0);
    });
  }
});

Deno.test("parsePushedAnswer() takes a 201 with request_uri and a positive integer expires_in only", () => {
  const answer = (status: number, body: unknown) => ({
    status,
    headers: new Headers(),
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  assert.deepEqual(parsePushedAnswer(answer(201, { request_uri: "urn:r", expires_in: 90 })), {
    requestUri: "urn:r",
    expiresIn: 90,
  });
  for (
    const body of [
      { request_uri: "", expires_in: 60 },
      { request_uri: 7, expires_in: 60 },
      { request_uri: "urn:r", expires_in: 0 },
      { request_uri: "urn:r", expires_in: 1.5 },
      { request_uri: "urn:r" },
      [{ request_uri: "urn:r", expires_in: 60 }],
      "null",
    ]
  ) {
    assert.throws(
      () => parsePushedAnswer(answer(201, body)),
      (error: TokenError) => error.code === "invalid_response",
      JSON.stringify(body),
    );
  }
  // A redirect is not followed: the credentials stay with the endpoint configured.
  assert.throws(
    () => parsePushedAnswer(answer(302, "")),
    (error: TokenError) =>
      error.code === "http_error" && error.status === 302 &&
      error.message === "Cannot log in: the pushed authorization request endpoint answered 302",
  );
});

Deno.test("AuthorizationCodeGrant.obtain() fails the login when the request_uri expired before the browser came", async () => {
  const clock = new ManualClock();
  await using server = await startAuthServer({ now: clock.now });
  await using browser = new ScriptedBrowser();
  await using client = discoveredClient(server, {
    openBrowser: (url) => {
      clock.advance(60_000); // the user took longer than the 60 s expires_in
      return browser.open(url);
    },
  }, { now: clock.now });
  await assert.rejects(client.getToken(), (error: TokenError) => {
    assert.equal(error.error, "invalid_request_uri");
    assert.equal(error.code, "login_failed");
    return true;
  });
  assert.equal(server.tokenRequests.length, 0);
});

Deno.test("AuthorizationCodeGrant.obtain() pushes a new request for every login", async () => {
  await using server = await startAuthServer();
  await using browser = new ScriptedBrowser();
  await using client = discoveredClient(server, { openBrowser: browser.open });
  await client.getToken();
  server.revoke();
  server.revokeRefreshTokens(); // the 401 then ends in a new login
  assert.equal((await fetchText(client.fetch, server.resourceUrl)).status, 200);
  const uris = browser.opened.map((url) => paramsOf(url).get("request_uri"));
  const states = server.pushedAuthorizationRequests.map((r) => r.form.get("state"));
  assert.equal(uris.length, 2);
  assert.equal(server.pushedAuthorizationRequests.length, 2);
  assert.notEqual(uris[0], uris[1]);
  assert.notEqual(states[0], states[1]);
});

Deno.test("AuthorizationCodeGrant refuses a malformed par or pushedAuthorizationRequestEndpoint", () => {
  assert.throws(
    () => new AuthorizationCodeGrant({ par: "yes" as unknown as boolean }),
    new TypeError('Cannot create the AuthorizationCodeGrant: "par" must be a boolean'),
  );
  assert.throws(
    () =>
      new AuthorizationCodeGrant({ pushedAuthorizationRequestEndpoint: "http://auth.example/par" }),
    TypeError,
  );
  assert.throws(
    () => new AuthorizationCodeGrant({ parr: true } as AuthorizationCodeGrantOptions),
    new TypeError(
      'Cannot create the AuthorizationCodeGrant: unknown option "parr"; did you mean "par"?',
    ),
  );
  assert.throws(
    () => new ImplicitGrant({ par: false } as AuthorizationCodeGrantOptions),
    TypeError,
  );
});

Deno.test("useAuthorizationCodeFlow() takes the push options, useImplicitFlow() refuses them", async () => {
  await using server = await startAuthServer();
  await using browser = new ScriptedBrowser();
  await assert.rejects(
    useImplicitFlow(new MemoryTokenStorage(), [0, 0], { par: false } as never),
    TypeError,
  );
  await using _flow = await useAuthorizationCodeFlow(new MemoryTokenStorage(), [0, 0], {
    openBrowser: browser.open,
    pushedAuthorizationRequestEndpoint: server.url("/par"),
  });
  await using client = new Client({ tokenEndpoint: server.tokenEndpoint, clientId: "cli" });
  await client.getToken();
  assert.equal(server.pushedAuthorizationRequests.length, 1);
  assert.deepEqual([...paramsOf(browser.opened[0]).keys()], ["client_id", "request_uri"]);
});

Deno.test("ImplicitGrant.obtain() never pushes, and fails before the browser at a server that requires it", async () => {
  await using server = await startAuthServer();
  await using browser = new ScriptedBrowser();
  await using client = new Client({
    issuer: server.issuer,
    clientId: "cli",
    grant: new ImplicitGrant({ openBrowser: browser.open, portRange: [0, 0] }),
  });
  await client.getToken();
  assert.equal(server.pushedAuthorizationRequests.length, 0);
  assert.equal(paramsOf(browser.opened[0]).get("response_type"), "token");

  await using strict = await startAuthServer({ pushedAuthorizationRequests: { required: true } });
  await using refused = new Client({
    issuer: strict.issuer,
    clientId: "cli",
    grant: new ImplicitGrant({ openBrowser: browser.open, portRange: [0, 0] }),
  });
  await assert.rejects(refused.getToken(), /which the implicit grant does not send/);
  assert.equal(browser.opened.length, 1);
});

Deno.test("AuthorizationCodeGrant.obtain() with DPoP pushes with a proof (RFC 9449 §10.1), and gets a DPoP-bound token", async () => {
  await using server = await startAuthServer({ clientId: "cli", clientSecret: SECRET });
  await using browser = new ScriptedBrowser();
  await using client = discoveredClient(server, { openBrowser: browser.open }, {
    clientSecret: SECRET,
    dpop: true,
  });
  const token = await client.getToken();
  assert.equal(token.tokenType, "DPoP");
  const [push] = server.pushedAuthorizationRequests;
  const proof = push?.headers.get("DPoP");
  assert(proof, "the push carries a proof");
  const claims = JSON.parse(atob(proof.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/")));
  assert.equal(claims.htm, "POST");
  assert.equal(claims.htu, server.url("/par"));
  assert.equal(server.tokenRequests[0]?.dpop?.jkt !== undefined, true, "the exchange too");
});

Deno.test("AuthorizationCodeGrant.obtain() with DPoP pushes once more with the nonce a use_dpop_nonce answer names", async () => {
  await using server = await startAuthServer({
    clientId: "cli",
    clientSecret: SECRET,
    pushedAuthorizationRequests: {
      failures: [{
        status: 400,
        body: JSON.stringify({ error: "use_dpop_nonce", error_description: "Use the nonce" }),
        headers: { "DPoP-Nonce": "par-nonce-1", "Content-Type": "application/json" },
      }],
    },
  });
  await using browser = new ScriptedBrowser();
  await using client = discoveredClient(server, { openBrowser: browser.open }, {
    clientSecret: SECRET,
    dpop: true,
  });
  await client.getToken();
  const nonces = server.pushedAuthorizationRequests.map((push) => {
    const proof = push.headers.get("DPoP")!;
    return JSON.parse(atob(proof.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/"))).nonce;
  });
  assert.deepEqual(nonces, [undefined, "par-nonce-1"]);
  assert.equal(browser.opened.length, 1, "one login");
});
