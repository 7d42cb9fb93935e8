// TokenError (src/token_error.ts): its stable code, what it keeps of the token endpoint's
// answer, and TokenError.fromResponse(), which tells the token endpoint's answer returned by
// client.fetch from the resource's own.

import assert from "node:assert/strict";
import { TokenError } from "../mod.ts";
import { startAuthServer } from "../testing.ts";
import { clientFor, fetchText, serve } from "./_helpers.ts";

const PAGE = "<!doctype html><title>Not Found</title><h1>Not Found</h1>";

Deno.test("TokenError.fromResponse() returns the error behind a wrong token endpoint's 404 page", async () => {
  await using wrong = serve(() =>
    new Response(PAGE, { status: 404, headers: { "Content-Type": "text/html" } })
  );
  await using resource = await startAuthServer();
  await using client = clientFor(resource, { tokenEndpoint: `${wrong.url}/no-such-path` });
  const { status, text, response } = await fetchText(client.fetch, resource.resourceUrl);
  assert.deepEqual([status, text], [404, PAGE]); // still the endpoint's answer, as before
  const error = TokenError.fromResponse(response);
  assert.ok(error instanceof TokenError);
  assert.equal(error.code, "http_error");
  assert.equal(error.status, 404);
  assert.equal(error.body, PAGE);
  assert.equal(error.headers?.get("content-type"), "text/html");
  assert.equal(error.message, "Cannot obtain a token: the token endpoint answered 404");
  assert.equal(resource.resourceRequests.length, 0);
});

Deno.test("TokenError.fromResponse() returns undefined for the resource's own 401", async () => {
  await using server = await startAuthServer();
  await using resource = serve(() =>
    new Response("no", {
      status: 401,
      headers: { "WWW-Authenticate": 'Bearer error="invalid_token"' },
    })
  );
  await using client = clientFor(server);
  const { status, response } = await fetchText(client.fetch, resource.url);
  assert.equal(status, 401);
  assert.equal(response.headers.get("www-authenticate"), 'Bearer error="invalid_token"');
  assert.equal(TokenError.fromResponse(response), undefined);
  assert.equal(TokenError.fromResponse(new Response("x", { status: 401 })), undefined);
});

Deno.test("TokenError.fromResponse() recognizes each waiter's own copy of a shared error", async () => {
  await using server = await startAuthServer();
  server.failTokenRequests(1, { status: 503, body: "maintenance" });
  await using client = clientFor(server);
  const responses = await Promise.all(
    Array.from({ length: 3 }, () => client.fetch(server.resourceUrl)),
  );
  assert.equal(new Set(responses).size, 3);
  const errors = responses.map((response) => TokenError.fromResponse(response));
  assert.deepEqual(errors.map((error) => [error?.code, error?.status]), [
    ["http_error", 503],
    ["http_error", 503],
    ["http_error", 503],
  ]);
  // A clone is another Response: only the one the client returned is recognized.
  assert.equal(TokenError.fromResponse(responses[0]!.clone()), undefined);
  await Promise.all(responses.map((response) => response.body?.cancel()));
  assert.equal(server.tokenRequests.length, 1);
});

Deno.test("TokenError() keeps the fields it was given and defaults the code to grant_failed", () => {
  const cause = new Error("underneath");
  const error = new TokenError("Cannot obtain a token: x", {
    error: "invalid_client",
    errorDescription: "bad",
    errorUri: "https://e.example/x",
    status: 401,
    cause,
  });
  assert.equal(error.name, "TokenError");
  assert.equal(error.code, "grant_failed");
  assert.deepEqual(
    [error.error, error.errorDescription, error.errorUri, error.status, error.cause],
    ["invalid_client", "bad", "https://e.example/x", 401, cause],
  );
  assert.equal(error.headers, undefined);
  assert.equal(error.body, undefined);
  assert.equal(new TokenError("x", { code: "timeout" }).code, "timeout");
});

Deno.test("TokenError() keeps a copy of the headers without cookies, and hands out copies", () => {
  const headers = new Headers({ "Retry-After": "60", "WWW-Authenticate": 'Basic realm="t"' });
  headers.append("Set-Cookie", "session=abc");
  headers.append("Set-Cookie2", "old=abc");
  const error = new TokenError("Cannot obtain a token: x", { code: "http_error", headers });
  headers.set("Retry-After", "1");
  assert.deepEqual([...error.headers!], [
    ["retry-after", "60"],
    ["www-authenticate", 'Basic realm="t"'],
  ]);
  error.headers!.set("Retry-After", "2");
  assert.equal(error.headers!.get("retry-after"), "60");
});

Deno.test("TokenError() leaves a page-long body out of its printed form", () => {
  const body = `<html>${"x".repeat(10_000)}</html>`;
  const error = new TokenError("Cannot obtain a token: the token endpoint answered 502", {
    code: "http_error",
    status: 502,
    headers: { "X-Trace": "t1" },
    body,
  });
  assert.equal(error.body, body);
  const printed = Deno.inspect(error);
  assert.ok(!printed.includes("xxxxxxxxxx"), printed);
  assert.match(printed, /code: "http_error"/);
});
