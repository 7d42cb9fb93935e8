// Dynamic client registration (RFC 7591) on its own, against a hand-written
// registration endpoint: what is sent, what is read, every refusal.

import assert from "node:assert/strict";
import { registerClient, TokenError } from "../mod.ts";
import { serve } from "./_helpers.ts";

const METADATA = {
  redirect_uris: ["http://127.0.0.1:32000/callback"],
  token_endpoint_auth_method: "none",
  grant_types: ["authorization_code", "refresh_token"],
  client_name: "Test CLI",
};

function registrationServer(answer: (request: Request, body: unknown) => Response) {
  const received: { headers: Headers; body: unknown }[] = [];
  const server = serve(async (request) => {
    const body = JSON.parse(await request.text());
    received.push({ headers: request.headers, body });
    return answer(request, body);
  });
  return Object.assign(server, { received, endpoint: `${server.url}/register` });
}

Deno.test("registerClient() posts the metadata as JSON and returns the registration", async () => {
  await using server = registrationServer((_, body) =>
    Response.json({ ...(body as object), client_id: "c-1", client_id_issued_at: 1 }, {
      status: 201,
    })
  );
  const registration = await registerClient(server.endpoint, METADATA);
  assert.equal(registration.client_id, "c-1");
  assert.deepEqual(registration.redirect_uris, METADATA.redirect_uris);
  assert(Object.isFrozen(registration));
  const [sent] = server.received;
  assert.deepEqual(sent?.body, METADATA);
  assert.equal(sent?.headers.get("content-type"), "application/json");
  assert.equal(sent?.headers.get("authorization"), null);
});

Deno.test("registerClient() sends an initial access token as a Bearer token", async () => {
  await using server = registrationServer(() => Response.json({ client_id: "c" }, { status: 201 }));
  await registerClient(server.endpoint, METADATA, { initialAccessToken: "iat-123" });
  assert.equal(server.received[0]?.headers.get("authorization"), "Bearer iat-123");
});

Deno.test("registerClient() reports the server's refusal with its error (RFC 7591 §3.2.2)", async () => {
  await using server = registrationServer(() =>
    Response.json({
      error: "invalid_redirect_uri",
      error_description: "Loopback only",
    }, { status: 400 })
  );
  await assert.rejects(registerClient(server.endpoint, METADATA), (error: TokenError) => {
    assert(error instanceof TokenError);
    assert.equal(error.code, "http_error");
    assert.equal(error.status, 400);
    assert.equal(error.error, "invalid_redirect_uri");
    assert.match(error.message, /answered 400 \(invalid_redirect_uri: Loopback only\)/);
    return true;
  });
});

Deno.test("registerClient() refuses an answer without client_id, or a page", async () => {
  for (
    const answer of [
      () => Response.json({ client_secret: "s" }, { status: 201 }),
      () => Response.json({ client_id: "" }, { status: 201 }),
      () => new Response("<html>", { status: 200 }),
    ]
  ) {
    await using server = registrationServer(answer);
    await assert.rejects(registerClient(server.endpoint, METADATA), (error: TokenError) => {
      assert.equal(error.code, "invalid_response");
      assert.match(error.message, /answered no "client_id"/);
      assert(!error.message.includes('"s"'));
      return true;
    });
  }
});

Deno.test("registerClient() does not follow a redirect: the metadata is not posted elsewhere", async () => {
  let elsewhere = 0;
  await using other = serve(() => {
    elsewhere++;
    return Response.json({ client_id: "stolen" }, { status: 201 });
  });
  await using server = registrationServer(() =>
    new Response(null, { status: 307, headers: { Location: `${other.url}/register` } })
  );
  await assert.rejects(registerClient(server.endpoint, METADATA), {
    name: "TokenError",
    message: /answered 307/,
  });
  assert.equal(elsewhere, 0);
});

Deno.test("registerClient() ends a request past its timeout, and one aborted", async () => {
  // Answers after the client's timeout.
  await using server = serve(async () => {
    await new Promise((resolve) => setTimeout(resolve, 300));
    return new Response(null);
  });
  await assert.rejects(registerClient(`${server.url}/register`, METADATA, { timeout: 50 }), {
    name: "TokenError",
    code: "timeout",
    message: /did not answer within 50 ms/,
  } as never);
  await assert.rejects(
    registerClient(`${server.url}/register`, METADATA, { signal: AbortSignal.abort() }),
    { name: "TokenError", code: "aborted" } as never,
  );
});

Deno.test("registerClient() refuses bad input before any request", async () => {
  await assert.rejects(
    () => registerClient("http://auth.example.com/register", METADATA),
    TypeError,
  );
  await assert.rejects(
    () => registerClient("https://a.example/r", METADATA, { tiemout: 1 } as never),
    /tiemout.*timeout/,
  );
  await assert.rejects(
    () => registerClient("https://a.example/r", METADATA, { timeout: -1 }),
    RangeError,
  );
});
