import assert from "node:assert/strict";
import { challengeError, parseChallenges } from "../src/www_authenticate.ts";

Deno.test("parseChallenges() reads a Bearer challenge with quoted and token values", () => {
  const [challenge] = parseChallenges(
    'Bearer realm="example", error="invalid_token", error_description="The access token expired"',
  );
  assert.equal(challenge?.scheme, "bearer");
  assert.deepEqual({ ...challenge?.params }, {
    realm: "example",
    error: "invalid_token",
    error_description: "The access token expired",
  });
});

Deno.test("parseChallenges() splits several challenges in one header", () => {
  const challenges = parseChallenges(
    'Basic realm="a, b", Bearer error=insufficient_scope, scope="read write", DPoP algs="ES256"',
  );
  assert.deepEqual(challenges.map((c) => c.scheme), ["basic", "bearer", "dpop"]);
  assert.equal(challenges[0]?.params.realm, "a, b");
  assert.equal(challenges[1]?.params.error, "insufficient_scope");
  assert.equal(challenges[1]?.params.scope, "read write");
  assert.equal(challenges[2]?.params.algs, "ES256");
});

Deno.test("parseChallenges() reads token68 credentials and bare schemes", () => {
  const challenges = parseChallenges("Negotiate YWxhZGRpbjpvcGVuc2VzYW1l==, Bearer");
  assert.equal(challenges[0]?.token68, "YWxhZGRpbjpvcGVuc2VzYW1l==");
  assert.equal(challenges[1]?.scheme, "bearer");
  assert.deepEqual({ ...challenges[1]?.params }, {});
});

Deno.test("parseChallenges() unescapes quoted pairs and lower-cases names", () => {
  const [challenge] = parseChallenges('BEARER ERROR = "a\\"b\\\\c"');
  assert.equal(challenge?.scheme, "bearer");
  assert.equal(challenge?.params.error, 'a"b\\c');
});

Deno.test("parseChallenges() survives malformed input without throwing", () => {
  for (
    const header of [
      "",
      ",,,",
      "=",
      'Bearer error="unterminated',
      "Bearer error=, realm=x",
      "a=b",
      "Bearer @@@, Basic realm=x",
      '"quoted" Bearer',
    ]
  ) {
    assert.doesNotThrow(() => parseChallenges(header), header);
  }
  assert.deepEqual(parseChallenges(null), []);
  assert.equal(parseChallenges("Bearer @@@, Basic realm=x")[1]?.params.realm, "x");
});

Deno.test("parseChallenges() keeps the first of a repeated parameter", () => {
  const [challenge] = parseChallenges("Bearer error=invalid_token, error=insufficient_scope");
  assert.equal(challenge?.params.error, "invalid_token");
});

Deno.test("parseChallenges() does not let __proto__ reach the prototype", () => {
  const [challenge] = parseChallenges('Bearer __proto__="x", error="invalid_token"');
  assert.equal(challenge?.params.error, "invalid_token");
  assert.equal(Object.getPrototypeOf(challenge?.params), null);
});

Deno.test("challengeError() reads only the error parameter of the scheme asked for", () => {
  assert.equal(
    challengeError(
      'Bearer error="invalid_token", error_description="insufficient_scope"',
      "bearer",
    ),
    "invalid_token",
  );
  assert.equal(
    challengeError('Bearer realm="insufficient_scope", foo="error=insufficient_scope"', "bearer"),
    undefined,
  );
  assert.equal(challengeError('DPoP error="use_dpop_nonce"', "bearer"), undefined);
  assert.equal(challengeError('DPoP error="use_dpop_nonce"', "dpop"), "use_dpop_nonce");
  assert.equal(challengeError(null, "bearer"), undefined);
});

Deno.test("challengeError() ignores insufficient_scope in a description, another parameter or another scheme", () => {
  for (
    const header of [
      'Bearer error="invalid_token", error_description="not error=\\"insufficient_scope\\""',
      'Bearer error_uri="https://as.example/error=insufficient_scope", error="invalid_token"',
      'Basic error=insufficient_scope, Bearer error="invalid_token"',
    ]
  ) {
    assert.equal(challengeError(header, "bearer"), "invalid_token", header);
  }
  assert.equal(
    challengeError('Basic realm="api", Bearer error="insufficient_scope"', "bearer"),
    "insufficient_scope",
  );
});
