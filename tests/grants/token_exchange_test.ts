import assert from "node:assert/strict";
import { Client } from "../../mod.ts";
import type { GrantContext } from "../../src/grant.ts";
import { TokenExchangeGrant } from "../../src/grants/token_exchange.ts";
import { TokenEndpoint } from "../../src/token_endpoint.ts";
import { ManualClock } from "../_helpers.ts";
import { formServer } from "../_jws.ts";

const EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token";
const ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token";
const JWT = "urn:ietf:params:oauth:token-type:jwt";

/**
 * A token endpoint with client credentials (for users' tokens) and token
 * exchange (RFC 8693 §2.1): the new token names the subject and audience.
 */
function exchangeServer(options: { issuedTokenType?: boolean } = {}) {
  let issued = 0;
  return formServer((form) => {
    if (form.get("grant_type") === "client_credentials") {
      return Response.json({ access_token: `user-${++issued}`, token_type: "Bearer" });
    }
    if (form.get("grant_type") !== EXCHANGE) {
      return Response.json({ error: "unsupported_grant_type" }, { status: 400 });
    }
    const subject = form.get("subject_token");
    if (!subject?.startsWith("user-") || form.get("subject_token_type") !== ACCESS_TOKEN) {
      return Response.json({ error: "invalid_grant" }, { status: 400 });
    }
    if (form.has("actor_token") !== form.has("actor_token_type")) {
      return Response.json({ error: "invalid_request" }, { status: 400 });
    }
    const body: Record<string, unknown> = {
      access_token: `for-${subject}-at-${form.get("audience") ?? "any"}-${++issued}`,
      token_type: "Bearer",
      expires_in: 60,
    };
    // Keycloak once left this out (keycloak/keycloak#31548): the client must cope.
    if (options.issuedTokenType !== false) {
      body.issued_token_type = form.get("requested_token_type") ?? ACCESS_TOKEN;
    }
    return Response.json(body);
  });
}

function contextFor(url: string, params = new URLSearchParams()): GrantContext {
  const endpoint = new TokenEndpoint({
    url: new URL(url),
    clientId: "gateway",
    clientSecret: "secret",
    clientAuth: "client_secret_basic",
    fetch,
    now: Date.now,
    timeout: 5_000,
  });
  return { endpoint, params, signal: new AbortController().signal };
}

Deno.test("TokenExchangeGrant sends the subject token, its type and the client's audience", async () => {
  await using server = exchangeServer();
  const grant = new TokenExchangeGrant({ subjectToken: "user-7", subjectTokenType: ACCESS_TOKEN });
  const params = new URLSearchParams({ audience: "orders", subject_token: "smuggled" });
  const result = await grant.obtain(contextFor(server.url, params));
  assert.ok("token" in result);
  assert.equal(result.token.accessToken, "for-user-7-at-orders-1");
  assert.equal(result.token.extra?.issued_token_type, ACCESS_TOKEN);
  assert.deepEqual([...server.forms[0] ?? []], [
    ["grant_type", EXCHANGE],
    ["subject_token", "user-7"],
    ["subject_token_type", ACCESS_TOKEN],
    ["audience", "orders"],
  ]);
});

Deno.test("TokenExchangeGrant sends the actor token and the requested type", async () => {
  await using server = exchangeServer();
  const grant = new TokenExchangeGrant({
    subjectToken: "user-7",
    subjectTokenType: ACCESS_TOKEN,
    actorToken: async () => await Promise.resolve("service-id-token"),
    actorTokenType: ID_TOKEN,
    requestedTokenType: JWT,
  });
  const result = await grant.obtain(contextFor(server.url));
  assert.ok("token" in result);
  assert.equal(result.token.extra?.issued_token_type, JWT);
  const form = server.forms[0];
  assert.equal(form?.get("actor_token"), "service-id-token");
  assert.equal(form?.get("actor_token_type"), ID_TOKEN);
  assert.equal(form?.get("requested_token_type"), JWT);
});

Deno.test("TokenExchangeGrant accepts a response without issued_token_type", async () => {
  await using server = exchangeServer({ issuedTokenType: false });
  const grant = new TokenExchangeGrant({ subjectToken: "user-1", subjectTokenType: ACCESS_TOKEN });
  const result = await grant.obtain(contextFor(server.url));
  assert.ok("token" in result);
  assert.equal(result.token.extra, undefined);
});

Deno.test("TokenExchangeGrant returns the server's refusal as its error response", async () => {
  await using server = exchangeServer();
  const grant = new TokenExchangeGrant({ subjectToken: "stolen", subjectTokenType: ACCESS_TOKEN });
  const result = await grant.obtain(contextFor(server.url));
  assert.ok("errorResponse" in result);
  assert.equal(result.errorResponse.error.error, "invalid_grant");
});

Deno.test("Client exchanges the token of another Client, and exchanges again after the user's renewal", async () => {
  await using server = exchangeServer();
  const clock = new ManualClock();
  await using user = new Client({
    tokenEndpoint: server.url,
    clientId: "web",
    clientSecret: "secret",
    now: clock.now,
  });
  await using gateway = new Client({
    tokenEndpoint: server.url,
    clientId: "gateway",
    clientSecret: "secret",
    tokenParams: { audience: "orders" },
    now: clock.now,
    renewalMargin: 0,
    grant: new TokenExchangeGrant({
      subjectToken: async ({ signal }) => (await user.getToken({ signal })).accessToken,
      subjectTokenType: ACCESS_TOKEN,
    }),
  });
  const token = await gateway.getToken();
  assert.equal(token.accessToken, "for-user-1-at-orders-2");
  assert.equal(token.extra?.issued_token_type, ACCESS_TOKEN);
  clock.advance(60_000);
  assert.equal((await gateway.getToken()).accessToken, "for-user-1-at-orders-3");
  assert.deepEqual(server.forms.map((form) => form.get("grant_type")), [
    "client_credentials",
    EXCHANGE,
    EXCHANGE,
  ]);
});

Deno.test("TokenExchangeGrant identity: fixed tokens, a given one, else unique per grant", () => {
  const fixed = (subjectToken: string) =>
    new TokenExchangeGrant({ subjectToken, subjectTokenType: ACCESS_TOKEN }).identity();
  assert.equal(fixed("alice"), fixed("alice"));
  assert.notEqual(fixed("alice"), fixed("bob"));
  const source = () => "token";
  const one = new TokenExchangeGrant({ subjectToken: source, subjectTokenType: ACCESS_TOKEN });
  const two = new TokenExchangeGrant({ subjectToken: source, subjectTokenType: ACCESS_TOKEN });
  assert.notEqual(one.identity(), two.identity());
  const named = new TokenExchangeGrant({
    subjectToken: source,
    subjectTokenType: ACCESS_TOKEN,
    identity: "alice",
  });
  assert.equal(named.identity(), "alice");
});

Deno.test("TokenExchangeGrant checks its options and never shows the tokens", () => {
  const cases: [object, RegExp][] = [
    [{ subjectTokenType: ACCESS_TOKEN }, /"subjectToken" must be a non-empty string or a function/],
    [{ subjectToken: "t" }, /"subjectTokenType" must be a token type URI/],
    [
      { subjectToken: "t", subjectTokenType: "access_token" },
      /"subjectTokenType" must be a token type URI, such as "urn:ietf:params:oauth:token-type:access_token"/,
    ],
    [
      { subjectToken: "t", subjectTokenType: ACCESS_TOKEN, actorToken: "a" },
      /give "actorToken" and "actorTokenType" together/,
    ],
    [
      { subjectToken: "t", subjectTokenType: ACCESS_TOKEN, actorTokenType: ID_TOKEN },
      /give "actorToken" and "actorTokenType" together/,
    ],
    [
      { subjectToken: "t", subjectTokenType: ACCESS_TOKEN, requestedTokenType: "" },
      /"requestedTokenType" must be a token type URI/,
    ],
  ];
  for (const [options, message] of cases) {
    assert.throws(
      () => new TokenExchangeGrant(options as { subjectToken: string; subjectTokenType: string }),
      { name: "TypeError", message },
    );
  }
  const grant = new TokenExchangeGrant({
    subjectToken: "user-secret-token",
    subjectTokenType: ACCESS_TOKEN,
    actorToken: "actor-secret-token",
    actorTokenType: ID_TOKEN,
  });
  const shown = `${Deno.inspect(grant)}\n${JSON.stringify(grant)}`;
  assert.ok(!shown.includes("secret-token"));
  assert.match(shown, /subjectTokenType/);
});

Deno.test("new TokenExchangeGrant() refuses a misspelled option, naming the one meant", () => {
  const options = {
    subjectToken: "user-token",
    subjectTokenType: "urn:ietf:params:oauth:token-type:access_token",
    requestedTokenTyp: "urn:ietf:params:oauth:token-type:jwt",
  };
  assert.throws(
    () => new TokenExchangeGrant(options),
    new TypeError(
      'Cannot create the TokenExchangeGrant: unknown option "requestedTokenTyp"; did you mean "requestedTokenType"?',
    ),
  );
});
