import assert from "node:assert/strict";
import { TokenError } from "../mod.ts";
import { parseErrorResponse, parseTokenResponse } from "../src/token_response.ts";

const AT = 1_000_000;

Deno.test("parseTokenResponse() reads the RFC 6749 §5.1 members and keeps unknown ones", () => {
  const token = parseTokenResponse(
    JSON.stringify({
      access_token: "abc",
      token_type: "bearer",
      expires_in: 3600,
      refresh_token: "r",
      scope: "read write",
      id_token: "x.y.z",
    }),
    AT,
    200,
  );
  assert.deepEqual(token, {
    accessToken: "abc",
    tokenType: "Bearer",
    issuedAt: AT,
    expiresAt: AT + 3_600_000,
    refreshToken: "r",
    scope: "read write",
    extra: { id_token: "x.y.z" },
  });
});

Deno.test("parseTokenResponse() treats a missing token_type as Bearer, in any case", () => {
  assert.equal(parseTokenResponse('{"access_token":"a"}', AT, 200).tokenType, "Bearer");
  assert.equal(
    parseTokenResponse('{"access_token":"a","token_type":"BEARER"}', AT, 200).tokenType,
    "Bearer",
  );
});

Deno.test("parseTokenResponse() accepts expires_in as a numeric string", () => {
  const token = parseTokenResponse('{"access_token":"a","expires_in":"60"}', AT, 200);
  assert.equal(token.expiresAt, AT + 60_000);
});

Deno.test("parseTokenResponse() leaves expiresAt out when expires_in is missing", () => {
  const token = parseTokenResponse('{"access_token":"a"}', AT, 200);
  assert.equal(token.expiresAt, undefined);
});

Deno.test("parseTokenResponse() keeps zero and negative lifetimes as already expired", () => {
  assert.equal(parseTokenResponse('{"access_token":"a","expires_in":0}', AT, 200).expiresAt, AT);
  assert.equal(
    parseTokenResponse('{"access_token":"a","expires_in":-5}', AT, 200).expiresAt,
    AT - 5000,
  );
});

Deno.test("parseTokenResponse() caps a huge expires_in to ten years", () => {
  const token = parseTokenResponse('{"access_token":"a","expires_in":1e300}', AT, 200);
  assert.equal(token.expiresAt, AT + 10 * 365 * 24 * 3600 * 1000);
});

for (
  const [name, body, message] of [
    ["a body that is not JSON", "<html>", /not a JSON object/],
    ["a JSON array", "[1,2]", /not a JSON object/],
    ["JSON null", "null", /not a JSON object/],
    ["a missing access_token", '{"token_type":"Bearer"}', /"access_token" is missing/],
    ["an empty access_token", '{"access_token":""}', /"access_token" is missing/],
    ["a numeric access_token", '{"access_token":42}', /"access_token" is missing/],
    ["an access_token with a space", '{"access_token":"a b"}', /characters a header/],
    ["an access_token with a newline", '{"access_token":"a\\nb"}', /characters a header/],
    ["an unsupported token_type", '{"access_token":"a","token_type":"mac"}', /"mac" is not/],
    ["a non-string token_type", '{"access_token":"a","token_type":7}', /7 is not supported/],
    ["expires_in as text", '{"access_token":"a","expires_in":"soon"}', /"expires_in" is not/],
    ["expires_in as an object", '{"access_token":"a","expires_in":{}}', /"expires_in" is not/],
    ["an error member", '{"error":"invalid_scope"}', /200 \(invalid_scope\)/],
  ] as const
) {
  Deno.test(`parseTokenResponse() rejects ${name} with a TokenError`, () => {
    assert.throws(() => parseTokenResponse(body, AT, 200), (error) => {
      assert.ok(error instanceof TokenError);
      assert.match(error.message, message);
      assert.equal(error.status, 200);
      return true;
    });
  });
}

Deno.test("parseErrorResponse() carries the RFC 6749 §5.2 fields", () => {
  const error = parseErrorResponse(
    JSON.stringify({
      error: "invalid_client",
      error_description: "Unknown client",
      error_uri: "https://auth.example.com/errors",
    }),
    401,
  );
  assert.equal(error.error, "invalid_client");
  assert.equal(error.errorDescription, "Unknown client");
  assert.equal(error.errorUri, "https://auth.example.com/errors");
  assert.equal(error.status, 401);
  assert.equal(
    error.message,
    "Cannot obtain a token: the token endpoint answered 401 (invalid_client: Unknown client)",
  );
});

Deno.test("parseErrorResponse() names the status when the body is not an error object", () => {
  const error = parseErrorResponse("<html>Bad gateway</html>", 502);
  assert.equal(error.error, undefined);
  assert.equal(error.status, 502);
  assert.match(error.message, /answered 502$/);
});

Deno.test("parseTokenResponse() caps an expires_in beyond a double (1e400) like a huge one", () => {
  const token = parseTokenResponse('{"access_token":"a","expires_in":1e400}', AT, 200);
  assert.equal(token.expiresAt, AT + 10 * 365 * 24 * 3600 * 1000);
  const past = parseTokenResponse('{"access_token":"a","expires_in":-1e400}', AT, 200);
  assert.equal(past.expiresAt, AT - 10 * 365 * 24 * 3600 * 1000);
});
