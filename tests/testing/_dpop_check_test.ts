// The stand-in server's DPoP proof checks (RFC 9449 §4.3, §8, §11.1), through real requests to its
// token endpoint: each check accepted and refused.

import assert from "node:assert/strict";
import { DpopKey } from "../../src/dpop.ts";
import { DpopCheck } from "../../src/testing/_dpop_check.ts";
import type { RecordedRequest } from "../../src/testing/recorded_request.ts";
import { type AuthServer, startAuthServer } from "../../testing.ts";
import { ManualClock } from "../_helpers.ts";
import {
  CLIENT_CREDENTIALS,
  handKey,
  handProof,
  post,
  proofClaims,
  unsignedProof,
} from "./_dpop_proofs.ts";
import { sign } from "./_sign.ts";

/** A client credentials request with `proof` in the DPoP header: status, headers, body. */
function withProof(server: AuthServer, proof: string, url = server.tokenEndpoint) {
  return post(url, CLIENT_CREDENTIALS, { DPoP: proof });
}

/** Asserts a 400 invalid_dpop_proof whose description names `check`, as recorded. */
function assertRefused(
  server: AuthServer,
  answer: { status: number; json: Record<string, unknown> },
  check: RegExp,
): void {
  assert.equal(answer.status, 400);
  assert.equal(answer.json.error, "invalid_dpop_proof");
  assert.match(String(answer.json.error_description), check);
  const recorded = server.tokenRequests.at(-1);
  assert.equal(recorded?.dpop, undefined);
  assert.equal(recorded?.dpopRefusal?.error, "invalid_dpop_proof");
}

Deno.test("DpopCheck.verify() accepts a DpopKey proof: the token is DPoP, bound to its thumbprint", async () => {
  await using server = await startAuthServer();
  const key = await DpopKey.generate();
  const answer = await withProof(
    server,
    await key.proof({ method: "POST", url: server.tokenEndpoint }),
  );
  assert.equal(answer.status, 200);
  assert.equal(answer.json.token_type, "DPoP");
  assert.equal(answer.json.access_token, server.issuedTokens[0]);
  const dpop = server.tokenRequests[0]?.dpop;
  assert.equal(dpop?.jkt, await key.thumbprint());
  assert.equal(dpop?.header.typ, "dpop+jwt");
  assert.equal(dpop?.payload.htu, server.tokenEndpoint);
  assert.equal(server.tokenRequests[0]?.dpopRefusal, undefined);
  assert.equal(answer.headers.get("DPoP-Nonce"), null); // no nonce demanded
});

Deno.test("DpopCheck.verify() accepts each of ES256, EdDSA, RS256 and PS256", async () => {
  await using server = await startAuthServer();
  for (const algorithm of ["ES256", "EdDSA", "RS256", "PS256"] as const) {
    const key = await DpopKey.generate({ algorithm });
    const proof = await key.proof({ method: "POST", url: server.tokenEndpoint });
    const answer = await withProof(server, proof);
    assert.equal(answer.json.token_type, "DPoP", algorithm);
    assert.equal(server.tokenRequests.at(-1)?.dpop?.jkt, await key.thumbprint(), algorithm);
  }
});

Deno.test("DpopCheck.verify() leaves a request without a DPoP header to Bearer", async () => {
  await using server = await startAuthServer();
  const answer = await post(server.tokenEndpoint, CLIENT_CREDENTIALS);
  assert.equal(answer.json.token_type, "Bearer");
  assert.equal(server.tokenRequests[0]?.dpop, undefined);
  assert.equal(server.tokenRequests[0]?.dpopRefusal, undefined);
});

Deno.test("DpopCheck.verify() refuses a typ other than dpop+jwt, or none", async () => {
  await using server = await startAuthServer();
  const key = await handKey();
  for (const typ of ["JWT", "at+jwt", undefined]) {
    const claims = proofClaims("POST", server.tokenEndpoint);
    const answer = await withProof(server, await handProof(key, claims, { typ }));
    assertRefused(server, answer, /"typ" is not dpop\+jwt/);
  }
});

Deno.test("DpopCheck.verify() refuses alg none and HS256", async () => {
  await using server = await startAuthServer();
  const key = await handKey();
  const none = unsignedProof(key, proofClaims("POST", server.tokenEndpoint));
  assertRefused(server, await withProof(server, none), /"alg" "none" is not one of/);
  const hs256 = await sign(proofClaims("POST", server.tokenEndpoint), "secret", "HS256", {
    typ: "dpop+jwt",
    jwk: { kty: "oct", k: "c2VjcmV0" },
  });
  assertRefused(server, await withProof(server, hs256), /"alg" "HS256" is not one of/);
});

Deno.test("DpopCheck.verify() refuses a jwk with private members, missing, or of another type", async () => {
  await using server = await startAuthServer();
  const key = await handKey();
  const pair = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
  ]) as CryptoKeyPair;
  const privateJwk = await crypto.subtle.exportKey("jwk", pair.privateKey);
  const secret = { ...key, privateKey: pair.privateKey, jwk: privateJwk };
  const claims = () => proofClaims("POST", server.tokenEndpoint);
  assertRefused(
    server,
    await withProof(server, await handProof(secret, claims())),
    /private key material \("d"\)/,
  );
  assertRefused(
    server,
    await withProof(server, await handProof(key, claims(), { jwk: undefined })),
    /no "jwk" object/,
  );
  const ed = await handKey("EdDSA");
  assertRefused(
    server,
    await withProof(server, await handProof(key, claims(), { jwk: ed.jwk })),
    /"jwk" is not a key for ES256/,
  );
  const p384 = { ...key.jwk, crv: "P-384" };
  assertRefused(
    server,
    await withProof(server, await handProof(key, claims(), { jwk: p384 })),
    /not a usable ES256 public key/,
  );
});

Deno.test("DpopCheck.verify() refuses a signature its jwk does not verify", async () => {
  await using server = await startAuthServer();
  const signer = await handKey();
  const other = await handKey();
  const proof = await handProof(signer, proofClaims("POST", server.tokenEndpoint), {
    jwk: other.jwk,
  });
  assertRefused(server, await withProof(server, proof), /signature does not verify/);
  const good = await handProof(signer, proofClaims("POST", server.tokenEndpoint));
  const tampered = good.slice(0, good.lastIndexOf(".") + 1) + "AAAA" + good.slice(-10);
  assertRefused(server, await withProof(server, tampered), /signature does not verify/);
});

Deno.test("DpopCheck.verify() refuses a proof that is not a JWT, and two DPoP headers", async () => {
  await using server = await startAuthServer();
  assertRefused(server, await withProof(server, "not-a-jwt"), /not a JWT/);
  const key = await DpopKey.generate();
  const headers = new Headers();
  headers.append("DPoP", await key.proof({ method: "POST", url: server.tokenEndpoint }));
  headers.append("DPoP", await key.proof({ method: "POST", url: server.tokenEndpoint }));
  const answer = await post(server.tokenEndpoint, CLIENT_CREDENTIALS, headers);
  assertRefused(server, answer, /more than one DPoP header/);
});

Deno.test("DpopCheck.verify() refuses an htm other than the request's method", async () => {
  await using server = await startAuthServer();
  const key = await DpopKey.generate();
  for (const method of ["GET", "post", "PUT"]) {
    const answer = await withProof(server, await key.proof({ method, url: server.tokenEndpoint }));
    if (method === "post") {
      // DpopKey normalizes "post" to "POST", as fetch does: accepted.
      assert.equal(answer.status, 200);
      continue;
    }
    assertRefused(server, answer, new RegExp(`"htm" "${method}" is not the request's method POST`));
  }
});

Deno.test("DpopCheck.verify() refuses an htu of another path, trailing slash, host or scheme", async () => {
  await using server = await startAuthServer();
  const key = await DpopKey.generate();
  const port = server.port;
  for (
    const url of [
      server.url("/token/other"),
      server.url("/token/"),
      server.url("/resource"),
      `http://localhost:${port}/token`,
      `https://127.0.0.1:${port}/token`,
      `http://127.0.0.1:${port + 1}/token`,
    ]
  ) {
    const answer = await withProof(server, await key.proof({ method: "POST", url }));
    assertRefused(server, answer, /"htu" .* is not the request's URL/);
  }
  const relative = await handProof(await handKey(), { ...proofClaims("POST", "/token") });
  assertRefused(server, await withProof(server, relative), /"htu" "\/token"/);
});

Deno.test("DpopCheck.verify() compares htu without query and fragment, after URL normalization", async () => {
  await using server = await startAuthServer();
  const key = await handKey();
  const origin = server.origin;
  const cases: [request: string, htu: string][] = [
    [`${server.tokenEndpoint}?tenant=a`, server.tokenEndpoint], // the request's query ignored
    [server.tokenEndpoint, `${server.tokenEndpoint}?x=1#frag`], // the proof's query ignored
    [server.tokenEndpoint, `HTTP://127.0.0.1:${server.port}/token`], // scheme and host case
    [server.tokenEndpoint, `${origin}/./token`], // dot segments
  ];
  for (const [url, htu] of cases) {
    const answer = await withProof(server, await handProof(key, proofClaims("POST", htu)), url);
    assert.equal(answer.status, 200, `${url} with htu ${htu}`);
    assert.equal(answer.json.token_type, "DPoP");
  }
});

Deno.test("DpopCheck.verify() takes an iat within 60 s either way of the server's clock", async () => {
  const clock = new ManualClock();
  await using server = await startAuthServer({ now: clock.now });
  const key = await handKey();
  const at = (offset: number) => proofClaims("POST", server.tokenEndpoint, clock.time + offset);
  for (const offset of [-60_000, 60_000, 0]) {
    const answer = await withProof(server, await handProof(key, at(offset)));
    assert.equal(answer.status, 200, `iat ${offset} ms away`);
  }
  for (const offset of [-61_000, 61_000, -3_600_000]) {
    const answer = await withProof(server, await handProof(key, at(offset)));
    assert.equal(answer.status, 400, `iat ${offset} ms away`);
    assert.match(String(answer.json.error_description), /"iat" .* more than 60 s/);
  }
  const noIat = await handProof(key, { ...at(0), iat: undefined });
  assert.match(String((await withProof(server, noIat)).json.error_description), /"iat"/);
  const textIat = await handProof(key, { ...at(0), iat: String(Math.floor(clock.time / 1000)) });
  assert.equal((await withProof(server, textIat)).status, 400);
});

Deno.test("DpopCheck.verify() refuses a jti used before, or none", async () => {
  await using server = await startAuthServer();
  const key = await DpopKey.generate();
  const proof = await key.proof({ method: "POST", url: server.tokenEndpoint });
  assert.equal((await withProof(server, proof)).status, 200);
  const replay = await withProof(server, proof);
  assert.equal(replay.status, 400);
  assert.match(String(replay.json.error_description), /"jti" was used already/);
  assert.equal(server.issuedTokens.length, 1);
  const hand = await handKey();
  const noJti = await handProof(hand, { ...proofClaims("POST", server.tokenEndpoint), jti: "" });
  assertRefused(server, await withProof(server, noJti), /"jti" is missing/);
});

Deno.test("DpopCheck.verify() remembers a jti as long as its iat can pass, a future iat included", async () => {
  // Keycloak #43505: a replay cache that forgets before the proof's iat window ends lets a
  // proof dated in the future be replayed once its entry is gone.
  const clock = new ManualClock();
  await using server = await startAuthServer({ now: clock.now });
  const key = await handKey();
  const proof = await handProof(
    key,
    proofClaims("POST", server.tokenEndpoint, clock.time + 50_000),
  );
  assert.equal((await withProof(server, proof)).status, 200);
  clock.advance(100_000); // the iat is now 50 s in the past: still within the window
  const replay = await withProof(server, proof);
  assert.equal(replay.status, 400);
  assert.match(String(replay.json.error_description), /"jti" was used already/);
});

Deno.test("DpopCheck.verify() demands the current nonce at the token endpoint when asked to", async () => {
  await using server = await startAuthServer({ dpopNonce: { token: true } });
  const key = await DpopKey.generate();
  const url = server.tokenEndpoint;
  const missing = await withProof(server, await key.proof({ method: "POST", url }));
  assert.equal(missing.status, 400);
  assert.equal(missing.json.error, "use_dpop_nonce");
  assert.equal(missing.headers.get("DPoP-Nonce"), server.dpopNonce);
  assert.equal(server.tokenRequests[0]?.dpopRefusal?.error, "use_dpop_nonce");
  assert.equal(server.issuedTokens.length, 0);

  const first = server.dpopNonce;
  const answer = await withProof(server, await key.proof({ method: "POST", url, nonce: first }));
  assert.equal(answer.status, 200);
  assert.equal(answer.json.token_type, "DPoP");
  assert.equal(answer.headers.get("DPoP-Nonce"), first); // §8.2: successes carry it too
  assert.equal(server.tokenRequests[1]?.dpop?.payload.nonce, first);

  const second = server.rotateDpopNonce();
  assert.notEqual(second, first);
  assert.equal(server.dpopNonce, second);
  const stale = await withProof(server, await key.proof({ method: "POST", url, nonce: first }));
  assert.equal(stale.status, 400);
  assert.equal(stale.json.error, "use_dpop_nonce");
  assert.match(String(stale.json.error_description), /not the server's current nonce/);
  assert.equal(stale.headers.get("DPoP-Nonce"), second);
  const fresh = await withProof(server, await key.proof({ method: "POST", url, nonce: second }));
  assert.equal(fresh.status, 200);
  const challenges = server.tokenRequests.filter((r) => r.dpopRefusal?.error === "use_dpop_nonce");
  assert.equal(challenges.length, 2);
});

Deno.test("DpopCheck.verify() ignores a nonce where none is demanded", async () => {
  await using server = await startAuthServer({ dpopNonce: { resource: true } });
  const key = await DpopKey.generate();
  const url = server.tokenEndpoint;
  const answer = await withProof(server, await key.proof({ method: "POST", url, nonce: "old" }));
  assert.equal(answer.status, 200);
  assert.equal(answer.headers.get("DPoP-Nonce"), null);
});

Deno.test("DpopCheck.verify() does not use up the jti of a proof refused for its nonce", async () => {
  await using server = await startAuthServer({ dpopNonce: { token: true } });
  const key = await handKey();
  const claims = proofClaims("POST", server.tokenEndpoint);
  assert.equal(
    (await withProof(server, await handProof(key, claims))).json.error,
    "use_dpop_nonce",
  );
  const retry = await handProof(key, { ...claims, nonce: server.dpopNonce });
  assert.equal((await withProof(server, retry)).status, 200);
});

Deno.test("DpopCheck.verify() forgets expired jtis before the oldest when its memory is full", async () => {
  const clock = new ManualClock();
  const check = new DpopCheck({}, clock.now, 2);
  const key = await handKey();
  const url = "http://127.0.0.1:1/token";
  const verify = async (proof: string) => {
    const recorded: RecordedRequest = {
      method: "POST",
      url,
      headers: new Headers({ DPoP: proof }),
      body: new Uint8Array(),
      form: new URLSearchParams(),
    };
    const outcome = await check.verify(recorded, "token");
    return outcome && "proof" in outcome ? "accepted" : outcome?.refusal.description;
  };
  const lasting = await handProof(key, proofClaims("POST", url, clock.time + 60_000));
  const brief = await handProof(key, proofClaims("POST", url, clock.time - 60_000));
  assert.equal(await verify(lasting), "accepted");
  assert.equal(await verify(brief), "accepted");
  clock.advance(1_000); // brief's iat has left the window; lasting's has not
  assert.equal(
    await verify(await handProof(key, proofClaims("POST", url, clock.time))),
    "accepted",
  );
  assert.match(String(await verify(lasting)), /"jti" was used already/);
});

Deno.test("startAuthServer() refuses a malformed or misspelled dpopNonce", async () => {
  await assert.rejects(
    // @ts-expect-error: a string where a boolean belongs
    startAuthServer({ dpopNonce: { token: "yes" } }),
    (error: Error) =>
      error instanceof TypeError &&
      error.message === 'Cannot start the AuthServer: "dpopNonce.token" must be a boolean',
  );
  await assert.rejects(
    // @ts-expect-error: a misspelled member
    startAuthServer({ dpopNonce: { tokn: true } }),
    (error: Error) => error instanceof TypeError && /"tokn".*"token"/.test(error.message),
  );
  await assert.rejects(
    // @ts-expect-error: a misspelled option
    startAuthServer({ dpopNonces: {} }),
    (error: Error) => error instanceof TypeError && /"dpopNonces".*"dpopNonce"/.test(error.message),
  );
});
