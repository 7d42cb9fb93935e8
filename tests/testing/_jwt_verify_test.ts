import assert from "node:assert/strict";
import { checkClaims, decodeJwt, KeyRing } from "../../src/testing/_jwt_verify.ts";
import { keyPair } from "../_jws.ts";
import { base64url, sign } from "./_sign.ts";

Deno.test("decodeJwt() decodes a compact JWS of two JSON objects, else gives undefined", () => {
  const part = (value: unknown) => base64url(JSON.stringify(value));
  assert.deepEqual(decodeJwt(`${part({ alg: "ES256" })}.${part({ iss: "a" })}.sig`), {
    header: { alg: "ES256" },
    claims: { iss: "a" },
  });
  for (
    const jws of [
      `${part({})}.${part({})}`, // two parts
      `${part({})}.${part({})}.s.x`, // four
      `${part({})}.${part([1])}.s`, // an array
      `${part({})}.${base64url("not json")}.s`,
      `${part({})}.e+30.s`, // not base64url
    ]
  ) {
    assert.equal(decodeJwt(jws), undefined, jws);
  }
});

Deno.test("KeyRing.verify() refuses a tampered JWS and matches kid", async () => {
  const { publicKey, privateKey } = await keyPair("ES256");
  const ring = await KeyRing.import([{
    ...await crypto.subtle.exportKey("jwk", publicKey),
    kid: "a",
  }], "keys");
  const jws = await sign({ iss: "x" }, privateKey, "ES256", { kid: "a" });
  const header = { alg: "ES256", kid: "a" };
  assert.equal(await ring.verify(jws, header), undefined);
  const [h, , s] = jws.split(".");
  const tampered = `${h}.${base64url(JSON.stringify({ iss: "y" }))}.${s}`;
  assert.equal(
    await ring.verify(tampered, header),
    "its signature does not verify with the registered ES256 keys",
  );
  assert.equal(
    await ring.verify(jws, { alg: "ES256", kid: "b" }),
    "no registered key verifies ES256",
  );
  assert.equal(await ring.verify(`${h}.e30.a+b`, header), "its signature is not base64url");
});

Deno.test("KeyRing.import() registers a private JWK's public half", async () => {
  const { privateKey } = await keyPair("EdDSA");
  const jwk = await crypto.subtle.exportKey("jwk", privateKey);
  assert.equal(typeof jwk.d, "string");
  const ring = await KeyRing.import([jwk], "keys");
  assert.deepEqual(ring.algorithms, ["EdDSA"]);
  const jws = await sign({ iss: "x" }, privateKey, "EdDSA");
  assert.equal(await ring.verify(jws, { alg: "EdDSA" }), undefined);
});

Deno.test("checkClaims() passes an aud list holding an accepted value, and records jti only on success", () => {
  const now = 1_700_000_000_000;
  const seen = new Set<string>();
  const rules = {
    audiences: ["https://as"],
    audienceName: "the issuer",
    now,
    requireJti: true,
    seen,
  };
  const exp = now / 1000 + 60;
  assert.equal(
    checkClaims({ iss: "c", aud: ["x", "https://as"], exp, jti: "1" }, rules),
    undefined,
  );
  assert.deepEqual([...seen], ["c\n1"]);
  assert.equal(
    checkClaims({ iss: "c", aud: ["x"], exp, jti: "2" }, rules),
    '"aud" ["x"] is not the issuer',
  );
  assert.deepEqual([...seen], ["c\n1"]);
  // The same jti of another issuer is another assertion.
  assert.equal(checkClaims({ iss: "d", aud: "https://as", exp, jti: "1" }, rules), undefined);
  assert.equal(
    checkClaims({ iss: "c", aud: "https://as", exp: now / 1000 + 0.001, jti: "3" }, rules),
    undefined,
  );
});
