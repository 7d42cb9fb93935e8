import assert from "node:assert/strict";
import { Client } from "../../mod.ts";
import type { GrantContext } from "../../src/grant.ts";
import { type AssertionContext, JwtBearerGrant } from "../../src/grants/jwt_bearer.ts";
import { signJwt } from "../../src/_jwt.ts";
import { TokenEndpoint } from "../../src/token_endpoint.ts";
import { TokenError } from "../../src/token_error.ts";
import { ManualClock } from "../_helpers.ts";
import { decodeJws, formServer, keyPair, verifyJws } from "../_jws.ts";

const GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/** A token endpoint that trades an assertion for a token, or answers invalid_grant. */
function bearerServer(accept: (assertion: string) => boolean | Promise<boolean>) {
  let issued = 0;
  return formServer(async (form) => {
    if (form.get("grant_type") !== GRANT_TYPE) {
      return Response.json({ error: "unsupported_grant_type" }, { status: 400 });
    }
    if (!await accept(form.get("assertion") ?? "")) {
      return Response.json(
        { error: "invalid_grant", error_description: "assertion refused" },
        { status: 400 },
      );
    }
    return Response.json({ access_token: `at-${++issued}`, token_type: "Bearer", expires_in: 60 });
  });
}

function contextFor(url: string, clock = new ManualClock(), params = new URLSearchParams()) {
  const endpoint = new TokenEndpoint({
    url: new URL(url),
    clientId: "svc",
    clientAuth: "none",
    fetch,
    now: clock.now,
    timeout: 5_000,
  });
  return { endpoint, params, signal: new AbortController().signal } satisfies GrantContext;
}

Deno.test("JwtBearerGrant sends a fixed assertion with the client's parameters", async () => {
  await using server = bearerServer((assertion) => assertion === "eyJ.fixed.jwt");
  const grant = new JwtBearerGrant({ assertion: "eyJ.fixed.jwt" });
  const params = new URLSearchParams({ scope: "read", assertion: "smuggled", audience: "api" });
  const result = await grant.obtain(contextFor(server.url, undefined, params));
  assert.ok("token" in result);
  assert.equal(result.token.accessToken, "at-1");
  assert.deepEqual([...server.forms[0] ?? []], [
    ["grant_type", GRANT_TYPE],
    ["assertion", "eyJ.fixed.jwt"],
    ["scope", "read"],
    ["audience", "api"],
    ["client_id", "svc"],
  ]);
});

Deno.test("JwtBearerGrant calls its function for each token request, with the client's clock", async () => {
  const { privateKey, publicKey } = await keyPair("RS256");
  const clock = new ManualClock();
  await using server = bearerServer(async (assertion) => {
    const { claims } = await verifyJws(assertion, publicKey, "RS256");
    return claims.exp === Math.floor(clock.time / 1000) + 300;
  });
  const seen: AssertionContext[] = [];
  const grant = new JwtBearerGrant({
    assertion: (context) => {
      seen.push(context);
      const iat = Math.floor(context.now / 1000);
      const claims = {
        iss: context.clientId,
        aud: context.tokenEndpoint.href,
        iat,
        exp: iat + 300,
      };
      return signJwt({ typ: "JWT" }, claims, privateKey, "RS256");
    },
  });
  const context = contextFor(server.url, clock);
  assert.ok("token" in await grant.obtain(context));
  clock.advance(120_000);
  assert.ok("token" in await grant.obtain(context));
  assert.equal(seen.length, 2);
  assert.equal(seen[0]?.tokenEndpoint.href, `${server.url}/`);
  assert.equal(seen[0]?.clientId, "svc");
  assert.equal(seen[1]?.now, clock.time);
  const [first, second] = server.forms.map((form) => decodeJws(form.get("assertion") ?? ""));
  assert.notEqual(first?.claims.iat, second?.claims.iat);
});

Deno.test("JwtBearerGrant returns the server's invalid_grant as its error response", async () => {
  await using server = bearerServer(() => false);
  const result = await new JwtBearerGrant({ assertion: "refused" }).obtain(contextFor(server.url));
  assert.ok("errorResponse" in result);
  assert.equal(result.errorResponse.status, 400);
  assert.equal(result.errorResponse.error.error, "invalid_grant");
  assert.equal(result.errorResponse.error.errorDescription, "assertion refused");
});

Deno.test("JwtBearerGrant turns a failing assertion function into a TokenError", async () => {
  await using server = bearerServer(() => true);
  const context = contextFor(server.url);
  const failing = new JwtBearerGrant({
    assertion: () => {
      throw new Error("the HSM is offline");
    },
  });
  await assert.rejects(failing.obtain(context), (error) => {
    assert.ok(error instanceof TokenError);
    assert.equal(
      error.message,
      'Cannot obtain a token: the "assertion" function failed: the HSM is offline',
    );
    assert.equal((error.cause as Error).message, "the HSM is offline");
    return true;
  });
  const upstream = new TokenError("Cannot obtain a token: upstream", { error: "invalid_grant" });
  const passing = new JwtBearerGrant({ assertion: () => Promise.reject(upstream) });
  await assert.rejects(passing.obtain(context), (error) => error === upstream);
  const empty = new JwtBearerGrant({ assertion: () => "" });
  await assert.rejects(empty.obtain(context), {
    name: "TokenError",
    message: 'Cannot obtain a token: the "assertion" function returned no non-empty string',
  });
  assert.equal(server.forms.length, 0);
});

Deno.test("JwtBearerGrant identity: the fixed assertion, a given one, else unique per grant", () => {
  assert.equal(new JwtBearerGrant({ assertion: "a.b.c" }).identity(), "a.b.c");
  assert.equal(new JwtBearerGrant({ assertion: () => "x", identity: "alice" }).identity(), "alice");
  const one = new JwtBearerGrant({ assertion: () => "x" });
  const two = new JwtBearerGrant({ assertion: () => "x" });
  assert.equal(one.identity(), one.identity());
  assert.notEqual(one.identity(), two.identity());
});

Deno.test("JwtBearerGrant checks its options and never shows the assertion", () => {
  for (const options of [null, {}, { assertion: "" }, { assertion: 42 }]) {
    assert.throws(
      () => new JwtBearerGrant(options as unknown as { assertion: string }),
      { name: "TypeError", message: /^Cannot create the JwtBearerGrant: / },
    );
  }
  const grant = new JwtBearerGrant({ assertion: "secret.assertion.value" });
  assert.equal(Deno.inspect(grant), 'JwtBearerGrant { name: "jwt_bearer" }');
  assert.equal(JSON.stringify(grant), '{"name":"jwt_bearer"}');
});

Deno.test("Client with a JwtBearerGrant gets, uses and renews a token", async () => {
  await using server = bearerServer((assertion) => assertion.startsWith("jwt-"));
  const clock = new ManualClock();
  let signed = 0;
  await using client = new Client({
    tokenEndpoint: server.url,
    clientId: "svc",
    now: clock.now,
    renewalMargin: 0,
    scope: "read",
    grant: new JwtBearerGrant({ assertion: () => `jwt-${++signed}` }),
  });
  assert.equal((await client.getToken()).accessToken, "at-1");
  assert.equal((await client.getToken()).accessToken, "at-1");
  clock.advance(60_000);
  assert.equal((await client.getToken()).accessToken, "at-2");
  assert.deepEqual(server.forms.map((form) => form.get("assertion")), ["jwt-1", "jwt-2"]);
  assert.equal(server.forms[0]?.get("scope"), "read");
});

Deno.test("new JwtBearerGrant() refuses a misspelled option, naming the one meant", () => {
  const options = { assertion: () => "jwt", identiy: "alice" };
  assert.throws(
    () => new JwtBearerGrant(options),
    new TypeError(
      'Cannot create the JwtBearerGrant: unknown option "identiy"; did you mean "identity"?',
    ),
  );
});
