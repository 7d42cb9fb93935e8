// DPoP proofs are checked here as a server would check them (RFC 9449 §4.3), with code written
// from the RFCs independently of src/_jwt.ts: decode, import the embedded jwk, verify, read claims.

import assert from "node:assert/strict";
import { accessTokenHash, DpopKey, jwkThumbprint } from "../src/dpop.ts";
import { base64urlDecode, decodeJws, keyPair } from "./_jws.ts";
import { ManualClock } from "./_helpers.ts";

type Alg = "ES256" | "EdDSA" | "RS256" | "PS256";

const IMPORT: Record<Alg, RsaHashedImportParams | EcKeyImportParams | Algorithm> = {
  ES256: { name: "ECDSA", namedCurve: "P-256" },
  EdDSA: { name: "Ed25519" },
  RS256: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
  PS256: { name: "RSA-PSS", hash: "SHA-256" },
};
const VERIFY: Record<Alg, AlgorithmIdentifier | RsaPssParams | EcdsaParams> = {
  ES256: { name: "ECDSA", hash: "SHA-256" },
  EdDSA: { name: "Ed25519" },
  RS256: { name: "RSASSA-PKCS1-v1_5" },
  PS256: { name: "RSA-PSS", saltLength: 32 },
};

/** Verifies a proof's signature with the jwk of its own header; returns header and claims. */
async function verifyProof(proof: string) {
  const parts = proof.split(".");
  assert.equal(parts.length, 3);
  const { header, claims } = decodeJws(proof);
  const alg = header.alg as Alg;
  assert(alg in IMPORT, `unexpected alg ${alg}`);
  const jwk = header.jwk as JsonWebKey;
  const key = await crypto.subtle.importKey("jwk", jwk, IMPORT[alg], false, ["verify"]);
  const ok = await crypto.subtle.verify(
    VERIFY[alg],
    key,
    base64urlDecode(parts[2]!),
    new TextEncoder().encode(`${parts[0]}.${parts[1]}`),
  );
  assert(ok, "the signature does not verify with the embedded jwk");
  return { header, claims, jwk };
}

/** base64url(SHA-256(text)), computed here with btoa rather than the source's encoder. */
async function sha256b64url(text: string): Promise<string> {
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)),
  );
  return btoa(String.fromCharCode(...digest)).replace(/\+/g, "-").replace(/\//g, "_")
    .replace(/=+$/, "");
}

Deno.test("DpopKey.proof() signs a proof with every header member and claim of RFC 9449 §4.2", async () => {
  const clock = new ManualClock();
  const key = await DpopKey.generate({ now: clock.now });
  const proof = await key.proof({ method: "POST", url: "https://auth.example/token" });
  const { header, claims, jwk } = await verifyProof(proof);
  assert.deepEqual(Object.keys(header).sort(), ["alg", "jwk", "typ"]);
  assert.equal(header.typ, "dpop+jwt");
  assert.equal(header.alg, "ES256");
  assert.deepEqual(Object.keys(jwk).sort(), ["crv", "kty", "x", "y"]);
  assert.equal(jwk.kty, "EC");
  assert.equal(jwk.crv, "P-256");
  assert.deepEqual(Object.keys(claims).sort(), ["htm", "htu", "iat", "jti"]);
  assert.equal(claims.htm, "POST");
  assert.equal(claims.htu, "https://auth.example/token");
  assert.equal(claims.iat, Math.floor(clock.time / 1000));
  assert.match(String(claims.jti), /^[0-9a-f-]{36}$/);
  clock.advance(61_000);
  const later = decodeJws(await key.proof({ method: "POST", url: "https://auth.example/token" }));
  assert.equal(later.claims.iat, Math.floor(clock.time / 1000));
});

Deno.test("DpopKey.proof() strips query and fragment from htu", async () => {
  const key = await DpopKey.generate();
  const proof = await key.proof({
    method: "GET",
    url: new URL("https://API.example:443/a/b?page=2&x=%20#frag"),
  });
  const { claims } = await verifyProof(proof);
  assert.equal(claims.htu, "https://api.example/a/b");
  const bare = decodeJws(await key.proof({ method: "GET", url: "http://127.0.0.1:8080/r#x" }));
  assert.equal(bare.claims.htu, "http://127.0.0.1:8080/r");
});

Deno.test("DpopKey.proof() sets ath to the base64url SHA-256 of the access token", async () => {
  const key = await DpopKey.generate();
  const accessToken = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU";
  const proof = await key.proof({ method: "GET", url: "https://api.example/r", accessToken });
  const { claims } = await verifyProof(proof);
  // RFC 9449 §7.1's example: this token's ath.
  assert.equal(claims.ath, "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo");
  assert.equal(claims.ath, await sha256b64url(accessToken));
  assert.equal(await accessTokenHash("other"), await sha256b64url("other"));
});

Deno.test("DpopKey.proof() includes the nonce when given, and only then", async () => {
  const key = await DpopKey.generate();
  const nonce = "eyJ7S_zG.eyJH0-Z.HX4w-7v";
  const { claims } = await verifyProof(
    await key.proof({ method: "POST", url: "https://auth.example/token", nonce }),
  );
  assert.equal(claims.nonce, nonce);
  const without = decodeJws(await key.proof({ method: "POST", url: "https://auth.example/t" }));
  assert.equal("nonce" in without.claims, false);
});

Deno.test("DpopKey.proof() normalizes the method as fetch does", async () => {
  const key = await DpopKey.generate();
  const htm = async (method: string) =>
    decodeJws(await key.proof({ method, url: "https://api.example/" })).claims.htm;
  assert.equal(await htm("post"), "POST");
  assert.equal(await htm("Delete"), "DELETE");
  assert.equal(await htm("patch"), "patch"); // fetch sends "patch" as it is
  assert.equal(await htm("PATCH"), "PATCH");
});

Deno.test("DpopKey.proof() makes a fresh jti for each of 1,000 proofs", async () => {
  const key = await DpopKey.generate();
  const proofs: string[] = [];
  const start = performance.now();
  for (let i = 0; i < 1000; i++) {
    proofs.push(await key.proof({ method: "GET", url: "https://api.example/r", accessToken: "t" }));
  }
  const micros = performance.now() - start; // ms for 1,000 = µs for one
  // A measurement, not an assertion: the cost of a proof (ES256, with ath) on this machine.
  console.log(`ES256 DPoP proof with ath: ${micros.toFixed(0)} µs per proof (1,000 proofs)`);
  const jtis = new Set(proofs.map((proof) => decodeJws(proof).claims.jti));
  assert.equal(jtis.size, 1000);
});

Deno.test("DpopKey.proof() refuses a relative URL, a bad method and a bad nonce", async () => {
  const key = await DpopKey.generate();
  await assert.rejects(
    () => key.proof({ method: "GET", url: "/relative" }),
    new TypeError('Cannot sign the DPoP proof: "url" must be an absolute URL'),
  );
  await assert.rejects(
    () => key.proof({ method: "GET /x", url: "https://api.example/" }),
    new TypeError('Cannot sign the DPoP proof: "method" must be an HTTP method'),
  );
  await assert.rejects(
    () => key.proof({ method: "GET", url: "https://api.example/", nonce: 'a"b' }),
    new TypeError('Cannot sign the DPoP proof: "nonce" is not a valid DPoP nonce'),
  );
});

for (const alg of ["ES256", "EdDSA", "RS256", "PS256"] as const) {
  Deno.test(`DpopKey.fromKeyPair() signs ${alg} proofs with a ${alg} key pair`, async () => {
    const pair = await keyPair(alg);
    const key = await DpopKey.fromKeyPair(pair);
    assert.equal(key.algorithm, alg);
    const { header, jwk } = await verifyProof(
      await key.proof({ method: "GET", url: "https://api.example/", accessToken: "t" }),
    );
    assert.equal(header.alg, alg);
    const members = { ES256: ["crv", "kty", "x", "y"], EdDSA: ["crv", "kty", "x"] }[
      alg as "ES256" | "EdDSA"
    ] ?? ["e", "kty", "n"];
    assert.deepEqual(Object.keys(jwk).sort(), members);
    assert.deepEqual(key.publicJwk, jwk);
    // The embedded jwk is the caller's public key.
    const exported = await crypto.subtle.exportKey("jwk", pair.publicKey);
    for (const name of members) {
      assert.equal(jwk[name as keyof JsonWebKey], exported[name as keyof JsonWebKey]);
    }
  });
}

Deno.test("DpopKey.generate() makes a key of each algorithm, ES256 by default", async () => {
  assert.equal((await DpopKey.generate()).algorithm, "ES256");
  for (const algorithm of ["EdDSA", "RS256", "PS256"] as const) {
    const key = await DpopKey.generate({ algorithm });
    const { header } = await verifyProof(await key.proof({ method: "GET", url: "https://a.b/" }));
    assert.equal(header.alg, algorithm);
  }
  await assert.rejects(
    () => DpopKey.generate({ algorithm: "HS256" as "ES256" }),
    new TypeError(
      'Cannot generate the DPoP key: "algorithm" must be one of ES256, EdDSA, RS256, PS256',
    ),
  );
});

Deno.test("DpopKey.fromKeyPair() refuses halves of two different pairs", async () => {
  const one = await keyPair("ES256");
  const two = await keyPair("ES256");
  await assert.rejects(
    () => DpopKey.fromKeyPair({ privateKey: one.privateKey, publicKey: two.publicKey }),
    new TypeError(
      'Cannot use the DPoP key pair: "publicKey" is not the public key of "privateKey"',
    ),
  );
  await assert.rejects(
    () => DpopKey.fromKeyPair({ privateKey: one.publicKey, publicKey: one.publicKey }),
    new TypeError('Cannot use the DPoP key pair: "privateKey" is a public key, not a private key'),
  );
});

Deno.test("DpopKey.fromKeyPair() refuses a key type it cannot sign DPoP proofs with", async () => {
  const p384 = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-384" }, false, [
    "sign",
    "verify",
  ]);
  await assert.rejects(
    () => DpopKey.fromKeyPair(p384),
    (error: Error) =>
      error instanceof TypeError &&
      error.message.startsWith('Cannot use the DPoP key pair: "privateKey" uses ECDSA P-384'),
  );
});

Deno.test("DpopKey inspect and JSON show the algorithm only", async () => {
  const pair = await keyPair("ES256"); // extractable: the private JWK exists and must not show
  const key = await DpopKey.fromKeyPair(pair);
  const d = (await crypto.subtle.exportKey("jwk", pair.privateKey)).d!;
  assert.equal(Deno.inspect(key), 'DpopKey { algorithm: "ES256" }');
  assert.equal(JSON.stringify(key), '{"algorithm":"ES256"}');
  assert(!Deno.inspect(key, { showHidden: true, depth: 10 }).includes(d));
  assert.equal("d" in key.publicJwk, false);
});

Deno.test("jwkThumbprint() gives RFC 7638 §3.1's thumbprint", async () => {
  const jwk = {
    kty: "RSA",
    n: "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
    e: "AQAB",
    alg: "RS256",
    kid: "2011-04-29",
  };
  assert.equal(await jwkThumbprint(jwk), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
  await assert.rejects(
    () => jwkThumbprint({ kty: "EC", crv: "P-256", x: "x" }),
    new TypeError('Cannot compute the JWK thumbprint: "y" is missing'),
  );
});

Deno.test("DpopKey.thumbprint() is the RFC 7638 thumbprint of the proofs' jwk", async () => {
  const key = await DpopKey.generate();
  const { jwk } = await verifyProof(await key.proof({ method: "GET", url: "https://a.b/" }));
  const expected = await sha256b64url(
    `{"crv":"${jwk.crv}","kty":"EC","x":"${jwk.x}","y":"${jwk.y}"}`,
  );
  assert.equal(await key.thumbprint(), expected);
  const other = await DpopKey.generate();
  assert.notEqual(await other.thumbprint(), expected);
});
