// The token response parser (src/token_response.ts): responses of
// [RFC 6749 §5.1](https://www.rfc-editor.org/rfc/rfc6749#section-5.1) and
// [§5.2](https://www.rfc-editor.org/rfc/rfc6749#section-5.2) on their own, then through a client
// whose token endpoint sends responses that carry no usable token.

import assert from "node:assert/strict";
import { fc } from "./_dev_deps.ts";
import { Client, MemoryTokenStorage, TokenError } from "../mod.ts";
import { startAuthServer } from "../testing.ts";
import { parseErrorResponse, parseTokenResponse } from "../src/token_response.ts";
import {
  assertRecovers,
  clientFor,
  fetchText,
  flakyEndpoint,
  recordingResource,
  serve,
} from "./_helpers.ts";
import { RUNS } from "./_arbitraries.ts";

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
    ["an empty error member", '{"error":""}', /"access_token" is missing/],
    [
      "an error member next to an unusable token",
      '{"access_token":"a b","error":"server_error"}',
      /200 \(server_error\)/,
    ],
  ] as const
) {
  Deno.test(`parseTokenResponse() rejects ${name} with a TokenError`, () => {
    assert.throws(() => parseTokenResponse(body, AT, 200), (error) => {
      assert.ok(error instanceof TokenError);
      assert.match(error.message, message);
      assert.equal(error.code, "invalid_response");
      assert.equal(error.status, 200);
      return true;
    });
  });
}

// RFC 6749 §5.1: a usable token is a success; an error member beside it is ignored like any
// unknown member (kept in `extra`).
for (
  const [name, error] of [
    ['"error": ""', ""],
    ['"error": "server_error"', "server_error"],
    ['"error": null', null],
    ['"error": {}', {}],
  ] as const
) {
  Deno.test(`parseTokenResponse() takes a usable token next to ${name}`, () => {
    const body = JSON.stringify({ access_token: "tok-1", expires_in: 60, error });
    const token = parseTokenResponse(body, AT, 200);
    assert.equal(token.accessToken, "tok-1");
    assert.equal(token.expiresAt, AT + 60_000);
    assert.deepEqual(token.extra, { error });
  });
}

const FORM = "application/x-www-form-urlencoded; charset=utf-8";

Deno.test("parseTokenResponse() reads a form-encoded response when the content type says so", () => {
  // GitHub's answer without Accept: application/json.
  const token = parseTokenResponse(
    "access_token=gho_16C7e42F&scope=repo%2Cgist&token_type=bearer&expires_in=28800&refresh_token=ghr_1",
    AT,
    200,
    FORM,
  );
  assert.deepEqual(token, {
    accessToken: "gho_16C7e42F",
    tokenType: "Bearer",
    issuedAt: AT,
    expiresAt: AT + 28_800_000,
    refreshToken: "ghr_1",
    scope: "repo,gist",
  });
  // The same body under another content type is not read as a form.
  assert.throws(() => parseTokenResponse("access_token=a", AT, 200, "text/plain"), {
    name: "TokenError",
    code: "invalid_response",
    message: "Cannot parse token response: the body is not a JSON object",
  });
});

Deno.test("parseTokenResponse() turns a form-encoded error answered with 200 into its TokenError", () => {
  // GitHub answers a bad code with 200 and the error as a form.
  assert.throws(
    () =>
      parseTokenResponse(
        "error=bad_verification_code&error_description=The+code+passed+is+incorrect+or+expired.",
        AT,
        200,
        FORM,
      ),
    (error) => {
      assert.ok(error instanceof TokenError);
      assert.equal(error.code, "invalid_response");
      assert.equal(error.error, "bad_verification_code");
      assert.equal(error.errorDescription, "The code passed is incorrect or expired.");
      return true;
    },
  );
  assert.throws(() => parseTokenResponse("access_token=a&access_token=b", AT, 200, FORM), {
    name: "TokenError",
    message: "Cannot parse token response: the body is not a form with each member once",
  });
});

Deno.test("parseErrorResponse() reads the fields of a form-encoded error", () => {
  const error = parseErrorResponse("error=invalid_client&error_description=No+such+client", 401, {
    "Content-Type": FORM,
  });
  assert.equal(error.error, "invalid_client");
  assert.equal(error.errorDescription, "No such client");
  assert.equal(error.code, "http_error");
  assert.equal(parseErrorResponse("error=invalid_client", 401).error, undefined);
});

Deno.test("Client.fetch() sends the token of a form-encoded token response", async () => {
  await using endpoint = serve(() =>
    new Response("access_token=gho_form1&token_type=bearer&expires_in=60", {
      headers: { "Content-Type": FORM },
    })
  );
  await using resource = recordingResource();
  await using client = new Client({ tokenEndpoint: endpoint.url, clientId: "id" });
  assert.equal((await fetchText(client.fetch, resource.url)).status, 200);
  assert.deepEqual(resource.tokens, ["Bearer gho_form1"]);
});

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
  assert.equal(error.code, "http_error");
  assert.equal(
    error.message,
    "Cannot obtain a token: the token endpoint answered 401 (invalid_client: Unknown client)",
  );
});

Deno.test("parseErrorResponse() names the status when the body is not an error object", () => {
  const error = parseErrorResponse("<html>Bad gateway</html>", 502, { "Retry-After": "5" });
  assert.equal(error.error, undefined);
  assert.equal(error.code, "http_error");
  assert.equal(error.status, 502);
  assert.equal(error.body, "<html>Bad gateway</html>");
  assert.equal(error.headers?.get("retry-after"), "5");
  assert.match(error.message, /answered 502$/);
});

Deno.test("parseTokenResponse() caps an expires_in beyond a double (1e400) like a huge one", () => {
  const token = parseTokenResponse('{"access_token":"a","expires_in":1e400}', AT, 200);
  assert.equal(token.expiresAt, AT + 10 * 365 * 24 * 3600 * 1000);
  const past = parseTokenResponse('{"access_token":"a","expires_in":-1e400}', AT, 200);
  assert.equal(past.expiresAt, AT - 10 * 365 * 24 * 3600 * 1000);
});

// Through a client: a 2xx response without a usable token is a TokenError, and
// the resource is never called.
for (
  const [name, handler, message] of [
    ["200 with an error member", () => Response.json({ error: "access_denied" }), /access_denied/],
    ["200 without access_token", () => Response.json({ token_type: "Bearer" }), /"access_token"/],
    ["200 with a body that is not JSON", () => new Response("<html>"), /not a JSON object/],
    ["200 with a JSON array", () => Response.json([]), /not a JSON object/],
    [
      "200 with an unsupported token type",
      () => Response.json({ access_token: "a", token_type: "mac" }),
      /"mac" is not supported/,
    ],
    [
      "200 with a DPoP-bound token for a client without DPoP",
      () => Response.json({ access_token: "a", token_type: "DPoP" }),
      /it is bound to a DPoP key, and the client has none; set "dpop"/,
    ],
    [
      "200 with a garbage expires_in",
      () => Response.json({ access_token: "a", expires_in: "tomorrow" }),
      /"expires_in" is not a number/,
    ],
  ] as const
) {
  Deno.test(`Client.fetch() rejects with a TokenError for ${name}`, async () => {
    await using endpoint = serve(handler);
    await using resource = await startAuthServer();
    await using client = clientFor(resource, { tokenEndpoint: `${endpoint.url}/token` });
    await assert.rejects(client.fetch(resource.resourceUrl), (error) => {
      assert.ok(error instanceof TokenError, String(error));
      assert.match(error.message, message);
      assert.equal(error.code, "invalid_response");
      assert.equal(error.status, 200);
      return true;
    });
    assert.equal(resource.resourceRequests.length, 0);
  });
}

// 2xx responses that carry no usable token: a TokenError, and no request goes out.
const unusable: [string, string, RegExp][] = [
  ["access_token as a number", '{"access_token":12345}', /"access_token" is missing/],
  ["access_token as an object", '{"access_token":{"v":"a"}}', /"access_token" is missing/],
  ["access_token as a list", '{"access_token":["a"]}', /"access_token" is missing/],
  ["access_token as null", '{"access_token":null}', /"access_token" is missing/],
  ["access_token as true", '{"access_token":true}', /"access_token" is missing/],
  ["an empty access_token", '{"access_token":""}', /"access_token" is missing/],
  ["expires_in NaN", '{"access_token":"a","expires_in":"NaN"}', /"expires_in" is not a number/],
  ["expires_in in exponent text", '{"access_token":"a","expires_in":"1e3"}', /"expires_in"/],
];

for (const [name, body, message] of unusable) {
  Deno.test(`Client.fetch() rejects a 200 with ${name} and the next call works`, async () => {
    await using resource = await startAuthServer();
    await using endpoint = flakyEndpoint(
      resource,
      () => new Response(body, { headers: { "Content-Type": "application/json" } }),
    );
    await using client = clientFor(resource, { tokenEndpoint: endpoint.tokenEndpoint });
    await assert.rejects(client.fetch(resource.resourceUrl), {
      name: "TokenError",
      message,
      code: "invalid_response",
      status: 200,
    });
    assert.equal(resource.resourceRequests.length, 0);
    await assertRecovers(client, resource);
  });
}

for (const error of ["", "server_error"]) {
  Deno.test(`Client.fetch() sends a usable token from a 200 with "error": "${error}"`, async () => {
    await using endpoint = serve(() =>
      Response.json({ access_token: "usable-1", token_type: "Bearer", expires_in: 60, error })
    );
    await using resource = recordingResource();
    await using client = clientFor({ tokenEndpoint: `${endpoint.url}/token` });
    const { status, text } = await fetchText(client.fetch, resource.url);
    assert.deepEqual([status, text], [200, "ok"]);
    assert.deepEqual(resource.tokens, ["Bearer usable-1"]);
  });
}

Deno.test("Client.fetch() uses a token with a negative expires_in for the waiting call only", async () => {
  let count = 0;
  await using endpoint = serve(() =>
    Response.json({ access_token: `neg-${++count}`, expires_in: -30 })
  );
  await using resource = recordingResource();
  await using client = clientFor({ tokenEndpoint: `${endpoint.url}/t` });
  await fetchText(client.fetch, resource.url);
  await fetchText(client.fetch, resource.url);
  // Never cached: each call obtains its own, and none is sent twice.
  assert.deepEqual(resource.tokens, ["Bearer neg-1", "Bearer neg-2"]);
});

Deno.test("Client.fetch() caps a huge expires_in and keeps the token", async () => {
  let count = 0;
  await using endpoint = serve(() =>
    Response.json({ access_token: `huge-${++count}`, expires_in: 1e300 })
  );
  await using resource = recordingResource();
  const now = 1_700_000_000_000;
  await using client = clientFor({ tokenEndpoint: `${endpoint.url}/t` }, { now: () => now });
  await fetchText(client.fetch, resource.url);
  await fetchText(client.fetch, resource.url);
  assert.deepEqual(resource.tokens, ["Bearer huge-1", "Bearer huge-1"]);
  assert.equal((await client.getToken()).expiresAt, now + 10 * 365 * 24 * 3600 * 1000);
});

// Property: whatever the token endpoint answers, only a well-formed response's token is sent.

/** Characters an access token may carry in a header (VSCHAR without space). */
const TOKEN_CHARS = Array.from(
  { length: 0x7e - 0x21 + 1 },
  (_, i) => String.fromCharCode(0x21 + i),
);
const goodToken = fc.string({ unit: fc.constantFrom(...TOKEN_CHARS), minLength: 1, maxLength: 40 });
const anyText = fc.string({ unit: "binary", maxLength: 30 });
const anyJson = fc.jsonValue({ maxDepth: 2 });

/** A header value any server could send: Latin-1 without controls. */
const headerValue = fc.string({
  unit: fc.integer({ min: 0x20, max: 0xff }).filter((c) => c !== 0x7f).map((c) =>
    String.fromCharCode(c)
  ),
  maxLength: 30,
});
const HEADER_NAMES = [
  "content-type",
  "cache-control",
  "www-authenticate",
  "retry-after",
  "set-cookie",
  "location",
  "content-language",
  "pragma",
  "x-custom",
];
const headers = (names: string[]) =>
  fc.array(fc.tuple(fc.constantFrom(...names), headerValue), { maxLength: 4 });

interface Scripted {
  status: number;
  headers: [string, string][];
  body: string;
  /** A well-formed token response: the request must go out with its token. */
  valid: boolean;
}

const tokenObject = fc.record({
  access_token: fc.oneof(goodToken, anyText, anyJson),
  token_type: fc.oneof(fc.constantFrom("Bearer", "bearer", "BEARER", "mac", "DPoP", ""), anyJson),
  expires_in: fc.oneof(fc.integer(), fc.double(), fc.integer().map(String), anyText, anyJson),
  refresh_token: fc.oneof(goodToken, anyJson),
  scope: fc.oneof(anyText, anyJson),
  error: fc.oneof(fc.constantFrom("invalid_client", "server_error"), anyJson),
  id_token: anyJson,
}, { requiredKeys: [] });

const validResponse: fc.Arbitrary<Scripted> = fc.record({
  status: fc.integer({ min: 200, max: 299 }).filter((s) => s !== 204 && s !== 205),
  headers: headers(HEADER_NAMES),
  body: fc.record({
    access_token: goodToken,
    token_type: fc.constantFrom("Bearer", "bearer", "BEARER", undefined),
    expires_in: fc.option(fc.integer({ min: 1, max: 10 ** 9 }), { nil: undefined }),
    scope: fc.option(anyText, { nil: undefined }),
    refresh_token: fc.option(goodToken, { nil: undefined }),
  }).map((body) => JSON.stringify(body)),
  valid: fc.constant(true),
});

const anyResponse: fc.Arbitrary<Scripted> = fc.record({
  status: fc.oneof(
    fc.constant(200),
    fc.integer({ min: 200, max: 599 }).filter((s) => ![204, 205, 304].includes(s)),
  ),
  // A Content-Encoding the body does not have breaks the read, not the client.
  headers: headers([...HEADER_NAMES, "content-encoding"]),
  body: fc.oneof(
    tokenObject.map((body) => JSON.stringify(body)),
    anyJson.map((body) => JSON.stringify(body)),
    anyText,
    fc.constant(""),
  ),
  valid: fc.constant(false),
});

Deno.test("Client.fetch() sends only the token of a well-formed response, whatever the token endpoint answers", async () => {
  let scripted: Scripted | undefined;
  await using endpoint = serve(() =>
    new Response(scripted!.body, { status: scripted!.status, headers: scripted!.headers })
  );
  const sent: (string | null)[] = [];
  await using resource = serve((request) => {
    sent.push(request.headers.get("authorization"));
    return new Response("ok");
  });
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(validResponse, anyResponse),
      fc.constantFrom("return" as const, "throw" as const),
      async (response, tokenErrors) => {
        scripted = response;
        sent.length = 0;
        await using client = new Client({
          tokenEndpoint: `${endpoint.url}/token`,
          clientId: "id",
          clientSecret: "secret",
          tokenErrors,
          // Its own storage: each run must start without a token.
          storage: new MemoryTokenStorage(),
        });
        let outcome: { status: number; text: string } | { error: unknown };
        try {
          const answer = await client.fetch(resource.url);
          outcome = { status: answer.status, text: await answer.text() };
        } catch (error) {
          outcome = { error };
        }
        if ("error" in outcome) {
          assert.ok(outcome.error instanceof TokenError, String(outcome.error));
        }
        assert.ok(sent.length <= 1);
        if (sent.length === 1) {
          const token = JSON.parse(response.body).access_token;
          assert.equal(typeof token, "string");
          assert.notEqual(token, "");
          assert.equal(sent[0], `Bearer ${token}`);
          assert.ok(response.status >= 200 && response.status < 300);
          assert.deepEqual(outcome, { status: 200, text: "ok" });
        } else if ("status" in outcome) {
          // Not sent: the caller got the token endpoint's own error response.
          assert.equal(outcome.status, response.status);
          assert.ok(response.status >= 300);
          assert.equal(tokenErrors, "return");
        }
        if (response.valid) assert.equal(sent.length, 1);
      },
    ),
    { numRuns: RUNS },
  );
});
