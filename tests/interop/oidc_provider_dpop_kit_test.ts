// The testing kit's DPoP proof checks against npm:oidc-provider (panva), an independent
// implementation of RFC 9449: the same hand-made proofs sent to both token endpoints get the same
// verdict, so that the kit refuses what a real server refuses and accepts what it accepts.

import assert from "node:assert/strict";
import { DpopKey } from "../../src/dpop.ts";
import { startAuthServer } from "../../testing.ts";
import {
  type HandKey,
  handKey,
  handProof,
  post,
  proofClaims,
  unsignedProof,
} from "../testing/_dpop_proofs.ts";
import { sign } from "../testing/_sign.ts";
import { startProvider } from "./_oidc_provider.ts";

const SECRET = "basic-secret";
const BASIC = { Authorization: `Basic ${btoa(`basic:${SECRET}`)}` };
const FORM = { grant_type: "client_credentials", scope: "read" };

/** A proof for `url` (a token endpoint): what each case sends. */
type Make = (url: string, key: HandKey) => Promise<string> | string;

/** Each case, and whether both servers take it: oidc-provider's `iat` window is 300 s, the kit's 60 s. */
const CASES: [name: string, accepted: boolean, make: Make][] = [
  ["a valid ES256 proof", true, (url, key) => handProof(key, proofClaims("POST", url))],
  ["an htu with a query", true, (url, key) => handProof(key, proofClaims("POST", `${url}?a=1`))],
  [
    "an iat 30 s ahead",
    true,
    (url, key) => handProof(key, proofClaims("POST", url, Date.now() + 30_000)),
  ],
  ["typ JWT", false, (url, key) => handProof(key, proofClaims("POST", url), { typ: "JWT" })],
  ["alg none", false, (url, key) => unsignedProof(key, proofClaims("POST", url))],
  [
    "HS256",
    false,
    (url) =>
      sign(proofClaims("POST", url), "a secret of thirty-two bytes or more", "HS256", {
        typ: "dpop+jwt",
        jwk: { kty: "oct", k: "c2VjcmV0" },
      }),
  ],
  [
    "another key's jwk",
    false,
    async (url, key) => handProof(key, proofClaims("POST", url), { jwk: (await handKey()).jwk }),
  ],
  ["htm GET", false, (url, key) => handProof(key, proofClaims("GET", url))],
  ["htu of another path", false, (url, key) => handProof(key, proofClaims("POST", `${url}/x`))],
  [
    "an iat 10 min old",
    false,
    (url, key) => handProof(key, proofClaims("POST", url, Date.now() - 600_000)),
  ],
  [
    "an iat 10 min ahead",
    false,
    (url, key) => handProof(key, proofClaims("POST", url, Date.now() + 600_000)),
  ],
  ["a private jwk", false, async (url) => {
    const pair = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
      "sign",
    ]) as CryptoKeyPair;
    const jwk = await crypto.subtle.exportKey("jwk", pair.privateKey);
    return handProof({ alg: "ES256", privateKey: pair.privateKey, jwk }, proofClaims("POST", url));
  }],
  ["no jti", false, (url, key) => handProof(key, { ...proofClaims("POST", url), jti: undefined })],
];

/** oidc-provider with DPoP on, the kit's algorithms enabled, and one confidential client. */
function startOp() {
  return startProvider({
    configuration: {
      clients: [{
        client_id: "basic",
        client_secret: SECRET,
        token_endpoint_auth_method: "client_secret_basic",
        grant_types: ["client_credentials"],
        response_types: [],
        redirect_uris: [],
        scope: "read",
      }],
      scopes: ["read"],
      features: {
        clientCredentials: { enabled: true },
        dPoP: { enabled: true },
        devInteractions: { enabled: false },
      },
      enabledJWA: { dPoPSigningAlgValues: ["ES256", "EdDSA", "RS256", "PS256"] },
    },
    resource: () => new Response(null, { status: 404 }),
  });
}

Deno.test("DpopCheck.verify() agrees with oidc-provider on which proofs to refuse", async () => {
  await using op = await startOp();
  await using kit = await startAuthServer({ clientId: "basic", clientSecret: SECRET });
  const key = await handKey();
  for (const [name, accepted, make] of CASES) {
    for (const endpoint of [`${op.issuer}/token`, kit.tokenEndpoint]) {
      const answer = await post(endpoint, FORM, { ...BASIC, DPoP: await make(endpoint, key) });
      const verdict = answer.status === 200
        ? String(answer.json.token_type)
        : String(answer.json.error);
      assert.equal(verdict, accepted ? "DPoP" : "invalid_dpop_proof", `${name} at ${endpoint}`);
    }
  }
});

Deno.test("DpopCheck.verify() refuses a replayed proof, as oidc-provider does", async () => {
  await using op = await startOp();
  await using kit = await startAuthServer({ clientId: "basic", clientSecret: SECRET });
  const key = await DpopKey.generate();
  for (const endpoint of [`${op.issuer}/token`, kit.tokenEndpoint]) {
    const proof = await key.proof({ method: "POST", url: endpoint });
    const first = await post(endpoint, FORM, { ...BASIC, DPoP: proof });
    assert.equal(first.json.token_type, "DPoP", endpoint);
    const replay = await post(endpoint, FORM, { ...BASIC, DPoP: proof });
    assert.equal(replay.status, 400, endpoint);
    // oidc-provider answers a replay invalid_grant (its replay check sits in the grant); the kit
    // answers invalid_dpop_proof, as §4.3 lists jti among the proof's checks.
    assert.match(String(replay.json.error), /^(invalid_grant|invalid_dpop_proof)$/, endpoint);
  }
});
