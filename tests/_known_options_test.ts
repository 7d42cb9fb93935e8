import assert from "node:assert/strict";
import { checkKnownOptions, nearestName } from "../src/_known_options.ts";

const NAMES = ["tokenEndpoint", "clientId", "clientSecret", "scope", "tokenParams", "now"];

Deno.test("nearestName() finds a swap, a missing, an extra or a changed letter, in any case", () => {
  assert.equal(nearestName("clientSecert", NAMES), "clientSecret"); // two letters swapped
  assert.equal(nearestName("scopes", NAMES), "scope");
  assert.equal(nearestName("clientid", NAMES), "clientId");
  assert.equal(nearestName("tokenEndpont", NAMES), "tokenEndpoint");
  assert.equal(nearestName("tokenParam", NAMES), "tokenParams");
  assert.equal(nearestName("scape", NAMES), "scope");
});

Deno.test("nearestName() suggests nothing for a name that is no misspelling", () => {
  assert.equal(nearestName("issuer", NAMES), undefined);
  assert.equal(nearestName("dpop", NAMES), undefined);
  assert.equal(nearestName("", NAMES), undefined);
});

Deno.test("checkKnownOptions() refuses the first unknown name, and only own names count", () => {
  const known = { a: true, scope: true } as const;
  checkKnownOptions({ a: 1, scope: undefined }, known, "thing");
  checkKnownOptions(Object.create({ inherited: 1 }), known, "thing");
  assert.throws(() => checkKnownOptions({ a: 1, scopes: "x" }, known, "thing"), {
    name: "TypeError",
    message: 'Cannot create the thing: unknown option "scopes"; did you mean "scope"?',
  });
  assert.throws(() => checkKnownOptions({ toString: 1 }, known, "thing"), {
    message: 'Cannot create the thing: unknown option "toString"',
  });
});

Deno.test("checkKnownOptions() checks what a spread copies: own enumerable string keys", () => {
  const known = { scope: true } as const;
  const hidden = Object.defineProperty({ scope: "a" }, "scopes", { value: "b", enumerable: false });
  checkKnownOptions(hidden, known, "thing");
  checkKnownOptions({ scope: "a", [Symbol("listener")]: 1 }, known, "thing");
  checkKnownOptions(Object.create({ scopes: "inherited" }), known, "thing");
  // What a spread of those objects holds passes too: the check sees what the copy would.
  checkKnownOptions({ ...hidden, ...Object.create({ scopes: "inherited" }) }, known, "thing");
  assert.throws(() => checkKnownOptions({ ...{ scopes: "x" } }, known, "thing"), {
    message: 'Cannot create the thing: unknown option "scopes"; did you mean "scope"?',
  });
});

Deno.test("checkKnownOptions() refuses options that are not an object, in the caller's words", () => {
  const known = { scope: true } as const;
  for (const options of [null, undefined, "scope", 1]) {
    assert.throws(
      () => checkKnownOptions(options, known, "token storage", "test"),
      new TypeError("Cannot test the token storage: options must be an object"),
    );
  }
  assert.throws(
    () => checkKnownOptions({ scpoe: 1 }, known, "implicit flow", "use"),
    new TypeError('Cannot use the implicit flow: unknown option "scpoe"; did you mean "scope"?'),
  );
});
