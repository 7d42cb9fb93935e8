import assert from "node:assert/strict";
import { ClientAssertion } from "../src/client_assertion.ts";
import { revokeToken } from "../src/revocation.ts";
import { TokenError } from "../src/token_error.ts";
import { decodeJws, formServer, keyPair, verifyJws } from "./_jws.ts";

/** A revocation endpoint that accepts client "id" with secret "secret" (Basic or form). */
function revocationServer() {
  const live = new Set(["rt-1", "at-1"]);
  const server = formServer((form, request) => {
    const basic = request.headers.get("authorization") === `Basic ${btoa("id:secret")}`;
    const posted = form.get("client_id") === "id" && form.get("client_secret") === "secret";
    if (!basic && !posted) return Response.json({ error: "invalid_client" }, { status: 401 });
    const hint = form.get("token_type_hint");
    if (hint !== null && hint !== "access_token" && hint !== "refresh_token") {
      return Response.json({ error: "unsupported_token_type" }, { status: 400 });
    }
    live.delete(form.get("token") ?? ""); // RFC 7009 §2.2: unknown tokens are a success too
    return new Response(null, { status: 200 });
  });
  return Object.assign(server, { live });
}

Deno.test("revokeToken() posts the token and its hint with client_secret_basic", async () => {
  await using server = revocationServer();
  await revokeToken(`${server.url}/revoke`, "rt-1", {
    clientId: "id",
    clientSecret: "secret",
    tokenTypeHint: "refresh_token",
  });
  assert.deepEqual(Object.fromEntries(server.forms[0] ?? []), {
    token: "rt-1",
    token_type_hint: "refresh_token",
  });
  assert.equal(server.requests[0]?.method, "POST");
  assert.equal(
    server.requests[0]?.headers.get("content-type"),
    "application/x-www-form-urlencoded",
  );
  assert.ok(!server.live.has("rt-1"));
  // Revoking again is a success: the server no longer knows the token.
  await revokeToken(`${server.url}/revoke`, "rt-1", { clientId: "id", clientSecret: "secret" });
  assert.equal(server.forms[1]?.has("token_type_hint"), false);
});

Deno.test("revokeToken() authenticates with client_secret_post", async () => {
  await using server = revocationServer();
  await revokeToken(server.url, "at-1", {
    clientId: "id",
    clientSecret: "secret",
    clientAuth: "client_secret_post",
    tokenTypeHint: "access_token",
  });
  assert.equal(server.requests[0]?.headers.get("authorization"), null);
  assert.ok(!server.live.has("at-1"));
});

Deno.test("revokeToken() returns the revocation endpoint's error as a TokenError", async () => {
  await using server = revocationServer();
  await assert.rejects(
    revokeToken(server.url, "rt-1", {
      clientId: "id",
      clientSecret: "secret",
      tokenTypeHint: "id_token",
    }),
    (error) => {
      assert.ok(error instanceof TokenError);
      assert.equal(error.error, "unsupported_token_type");
      assert.equal(error.status, 400);
      assert.equal(
        error.message,
        "Cannot revoke the token: the revocation endpoint answered 400 (unsupported_token_type)",
      );
      return true;
    },
  );
  await assert.rejects(revokeToken(server.url, "rt-1", { clientId: "id", clientSecret: "wrong" }), {
    name: "TokenError",
    error: "invalid_client",
    status: 401,
  });
  assert.ok(server.live.has("rt-1"));
});

Deno.test("revokeToken() reports a 503 (RFC 7009 §2.2.1: try again later) with its status", async () => {
  await using server = formServer(() =>
    new Response("maintenance", { status: 503, headers: { "Retry-After": "30" } })
  );
  await assert.rejects(revokeToken(server.url, "t", { clientId: "id" }), (error) => {
    assert.ok(error instanceof TokenError);
    assert.equal(error.code, "http_error");
    assert.equal(error.status, 503);
    assert.equal(error.headers?.get("retry-after"), "30");
    assert.equal(error.body, "maintenance");
    assert.equal(error.message, "Cannot revoke the token: the revocation endpoint answered 503");
    return true;
  });
  assert.equal(server.forms[0]?.get("client_id"), "id"); // a public client names itself
});

Deno.test("revokeToken() keeps the token and secret out of an echoed error body", async () => {
  // An echo service at a wrong URL: it sends back what it was given.
  await using server = formServer((form, request) =>
    Response.json({
      error: "invalid_request",
      got: form.toString(),
      auth: request.headers.get("authorization"),
    }, { status: 400 })
  );
  const token = "rt-secret-0123456789";
  const error = await revokeToken(server.url, token, {
    clientId: "id",
    clientSecret: "s3cret-value",
  })
    .catch((error) => error);
  assert.ok(error instanceof TokenError);
  assert.equal(error.code, "http_error");
  assert.equal(error.error, "invalid_request");
  assert.ok(error.body?.includes("[redacted]"));
  for (const secret of [token, "s3cret-value", btoa("id:s3cret-value")]) {
    assert.equal(error.body?.includes(secret), false, secret);
  }
});

Deno.test("revokeToken() reports an unreachable endpoint and an abort by their codes", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const url = `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}/revoke`;
  listener.close();
  await assert.rejects(revokeToken(url, "t", { clientId: "id" }), {
    name: "TokenError",
    code: "network_error",
  });
  await assert.rejects(revokeToken(url, "t", { clientId: "id", signal: AbortSignal.abort() }), {
    name: "TokenError",
    code: "aborted",
  });
});

Deno.test("revokeToken() does not follow a redirect with the token and credentials", async () => {
  await using elsewhere = formServer(() => new Response(null, { status: 200 }));
  await using server = formServer(() =>
    new Response(null, { status: 307, headers: { Location: elsewhere.url } })
  );
  await assert.rejects(
    revokeToken(server.url, "rt-1", { clientId: "id", clientSecret: "secret" }),
    { name: "TokenError", status: 307 },
  );
  assert.equal(elsewhere.forms.length, 0);
});

Deno.test("revokeToken() ignores the body of a success", async () => {
  await using server = formServer(() => new Response("x".repeat(200_000), { status: 200 }));
  await revokeToken(server.url, "t", { clientId: "id" });
});

Deno.test("revokeToken() times out as a TokenError", async () => {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => release = resolve);
  await using server = formServer(async () => {
    await gate;
    return new Response(null, { status: 200 });
  });
  await assert.rejects(revokeToken(server.url, "t", { clientId: "id", timeout: 30 }), {
    name: "TokenError",
    code: "timeout",
    message: "Cannot revoke the token: the revocation endpoint did not answer within 30 ms",
  });
  release();
});

Deno.test("revokeToken() authenticates with private_key_jwt, aud by the assertion's choice", async () => {
  const { privateKey, publicKey } = await keyPair("ES256");
  await using server = formServer(async (form) => {
    const { claims } = await verifyJws(form.get("client_assertion") ?? "", publicKey, "ES256");
    return claims.sub === "svc"
      ? new Response(null, { status: 200 })
      : Response.json({ error: "invalid_client" }, { status: 401 });
  });
  const revoke = `${server.url}/revoke`;
  const issuerAud = new ClientAssertion({ clientId: "svc", clientKey: privateKey });
  await revokeToken(revoke, "t", {
    clientId: "svc",
    clientAssertion: issuerAud,
    issuer: "https://issuer.example",
    tokenEndpoint: `${server.url}/token`,
  });
  const endpointAud = new ClientAssertion({
    clientId: "svc",
    clientKey: privateKey,
    audience: "endpoint",
  });
  await revokeToken(revoke, "t", {
    clientId: "svc",
    clientAssertion: endpointAud,
    clientAuth: "private_key_jwt",
    issuer: "https://issuer.example",
  });
  const [first, second] = server.forms.map((form) => decodeJws(form.get("client_assertion") ?? ""));
  assert.equal(first?.claims.aud, "https://issuer.example");
  assert.equal(second?.claims.aud, revoke); // Okta: "the endpoint invoked for the request"
  assert.equal(server.forms[0]?.get("client_id"), "svc");
});

Deno.test("revokeToken() checks its arguments", async () => {
  const assertion = new ClientAssertion({ clientId: "other", clientSecret: "s" });
  const cases: [string, string, object, RegExp][] = [
    ["http://as.example/revoke", "t", { clientId: "id" }, /"endpoint" must use https:/],
    ["https://as.example/revoke", "", { clientId: "id" }, /"token" must be a non-empty string/],
    ["https://as.example/revoke", "t", {}, /"clientId" must be a non-empty string/],
    ["https://as.example/revoke", "t", { clientId: "id", clientAuth: "basic" }, /must be one of/],
    [
      "https://as.example/revoke",
      "t",
      { clientId: "id", clientAuth: "client_secret_post" },
      /client_secret_post needs a "clientSecret"/,
    ],
    [
      "https://as.example/revoke",
      "t",
      { clientId: "id", clientAuth: "private_key_jwt" },
      /private_key_jwt needs a "clientAssertion"/,
    ],
    [
      "https://as.example/revoke",
      "t",
      { clientId: "id", clientAssertion: assertion },
      /"clientAssertion" is for another client id/,
    ],
  ];
  for (const [endpoint, token, options, message] of cases) {
    await assert.rejects(
      revokeToken(endpoint, token, options as { clientId: string }),
      { name: "TypeError", message },
    );
  }
});

Deno.test("revokeToken() refuses a misspelled option before sending anything", async () => {
  await using server = revocationServer();
  const options = { clientId: "id", clientSecrt: "secret" };
  await assert.rejects(
    revokeToken(`${server.url}/revoke`, "rt-1", options),
    new TypeError(
      'Cannot create the revocation request: unknown option "clientSecrt"; did you mean "clientSecret"?',
    ),
  );
  assert.equal(server.forms.length, 0);
});
