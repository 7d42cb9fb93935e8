// A Client with DPoP (RFC 9449) against a hand-written server that checks
// every proof on its own (WebCrypto), independently of the client's code and
// of the testing kit: proofs on token and resource requests, nonces at both,
// the replays (nonce, renewal, at most three sends), the strict token types,
// and records kept apart by key.

import assert from "node:assert/strict";
import { Client, MemoryTokenStorage, type Token, TokenError } from "../mod.ts";
import { base64urlDecode, decodeJws, verifyJws } from "./_jws.ts";
import { ManualClock, serve } from "./_helpers.ts";

const encoder = new TextEncoder();

async function sha256(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(text)));
  return btoa(String.fromCharCode(...digest)).replace(/\+/g, "-").replace(/\//g, "_")
    .replace(/=+$/, "");
}

/** RFC 7638 thumbprint, written here from the RFC. */
function thumbprint(jwk: JsonWebKey): Promise<string> {
  const members = jwk.kty === "EC"
    ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }
    : jwk.kty === "OKP"
    ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x }
    : { e: jwk.e, kty: jwk.kty, n: jwk.n };
  return sha256(JSON.stringify(members));
}

interface Proof {
  jkt: string;
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
}

/** Checks a proof's signature, typ, jwk, htm and htu; returns it with its key's thumbprint. */
async function checkProof(request: Request, proof: string | null): Promise<Proof> {
  assert(proof, "the request carries a DPoP proof");
  const { header } = decodeJws(proof);
  assert.equal(header.typ, "dpop+jwt");
  const jwk = header.jwk as JsonWebKey;
  assert.equal((jwk as { d?: string }).d, undefined, "no private member in the proof's jwk");
  const alg = header.alg as "ES256" | "EdDSA";
  const params = alg === "ES256" ? { name: "ECDSA", namedCurve: "P-256" } : { name: "Ed25519" };
  const key = await crypto.subtle.importKey("jwk", jwk, params, false, ["verify"]);
  const { claims } = await verifyJws(proof, key, alg);
  const url = new URL(request.url);
  assert.equal(claims.htm, request.method);
  assert.equal(claims.htu, url.origin + url.pathname);
  assert.match(String(claims.jti), /^.{16,}$/);
  assert.equal(typeof claims.iat, "number");
  return { jkt: await thumbprint(jwk), header, claims };
}

interface Sent {
  path: string;
  authorization: string | null;
  proof?: Proof;
  body: string;
  form: URLSearchParams;
}

/**
 * A token endpoint and a resource that bind tokens to the proof's key and
 * check the binding; `tokenAnswers` and `resourceAnswers` script answers
 * before the normal ones.
 */
function dpopServer() {
  const sent: Sent[] = [];
  const bound = new Map<string, string>(); // token → jkt
  const jtis = new Set<string>();
  const state = {
    sent,
    issued: [] as string[],
    tokenType: "DPoP",
    tokenAnswers: [] as (() => Response)[],
    resourceAnswers: [] as (() => Response)[],
    resourceNonce: undefined as string | undefined,
  };
  const server = serve(async (request) => {
    const url = new URL(request.url);
    const body = await request.text();
    const header = request.headers.get("DPoP");
    const proof = header === null ? undefined : await checkProof(request, header);
    if (proof) {
      assert(!jtis.has(String(proof.claims.jti)), "a jti is never used twice");
      jtis.add(String(proof.claims.jti));
    }
    const authorization = request.headers.get("Authorization");
    sent.push({ path: url.pathname, authorization, proof, body, form: new URLSearchParams(body) });
    if (url.pathname === "/token") {
      const scripted = state.tokenAnswers.shift();
      if (scripted) return scripted();
      const token = `t${state.issued.length + 1}-${crypto.randomUUID()}`;
      state.issued.push(token);
      if (proof) bound.set(token, proof.jkt);
      return Response.json({ access_token: token, token_type: state.tokenType, expires_in: 3600 });
    }
    const scripted = state.resourceAnswers.shift();
    if (scripted) return scripted();
    const [scheme, token = ""] = (authorization ?? "").split(" ");
    const jkt = bound.get(token);
    if (scheme !== "DPoP" || !proof || jkt !== proof.jkt) {
      return new Response(null, {
        status: 401,
        headers: { "WWW-Authenticate": 'DPoP error="invalid_token"' },
      });
    }
    assert.equal(proof.claims.ath, await sha256(token), "ath is the token's hash");
    const headers: Record<string, string> = state.resourceNonce === undefined
      ? {}
      : { "DPoP-Nonce": state.resourceNonce };
    return Response.json({ ok: true, body }, { headers });
  });
  return Object.assign(state, {
    url: server.url,
    tokenEndpoint: `${server.url}/token`,
    resource: `${server.url}/resource`,
    tokenRequests: () => sent.filter((request) => request.path === "/token"),
    resourceRequests: () => sent.filter((request) => request.path !== "/token"),
    [Symbol.asyncDispose]: () => server.close(),
  });
}

const nonceAtToken = (nonce: string) => () =>
  Response.json({ error: "use_dpop_nonce", error_description: "Use a nonce" }, {
    status: 400,
    headers: { "DPoP-Nonce": nonce },
  });
const nonceAtResource = (nonce: string) => () =>
  new Response(null, {
    status: 401,
    headers: {
      "WWW-Authenticate":
        'DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof"',
      "DPoP-Nonce": nonce,
    },
  });
const rejected = () =>
  new Response(null, {
    status: 401,
    headers: { "WWW-Authenticate": 'DPoP error="invalid_token"' },
  });

function dpopClient(server: { tokenEndpoint: string }, options: Record<string, unknown> = {}) {
  return new Client({
    tokenEndpoint: server.tokenEndpoint,
    clientId: "id",
    clientSecret: "secret",
    storage: new MemoryTokenStorage(),
    dpop: true,
    ...options,
  });
}

async function text(response: Response): Promise<string> {
  return await response.text();
}

/** The status, the body read. */
async function status(response: Response): Promise<number> {
  await response.body?.cancel();
  return response.status;
}

Deno.test("Client with dpop: true signs a proof for the token request and for each resource request", async () => {
  await using server = dpopServer();
  await using client = dpopClient(server);
  const response = await client.fetch(`${server.resource}/items?page=2#top`, {
    method: "POST",
    body: "hello",
  });
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), { ok: true, body: "hello" });
  const [token] = server.tokenRequests();
  const [resource] = server.resourceRequests();
  assert(token?.proof && resource?.proof);
  assert.equal(token.proof.claims.htm, "POST");
  assert.equal(token.proof.claims.htu, server.tokenEndpoint);
  assert.equal(token.proof.claims.ath, undefined, "no ath at the token endpoint");
  assert.equal(token.proof.header.alg, "ES256");
  assert.equal(resource.authorization, `DPoP ${server.issued[0]}`);
  assert.equal(resource.proof.claims.htu, `${server.resource}/items`, "no query, no fragment");
  assert.equal(resource.proof.jkt, token.proof.jkt, "one key for both");
  assert.equal(token.authorization?.startsWith("Basic "), true, "client authentication unchanged");
});

Deno.test("Client with dpop signs a new proof for each request, each with a new jti", async () => {
  await using server = dpopServer();
  await using client = dpopClient(server);
  for (let i = 0; i < 3; i++) {
    assert.equal((await text(await client.fetch(server.resource))).length > 0, true);
  }
  const jtis = server.sent.map((request) => request.proof?.claims.jti);
  assert.equal(new Set(jtis).size, 4);
  assert.equal(server.tokenRequests().length, 1);
});

Deno.test("Client with dpop retries a token request once with the nonce of a use_dpop_nonce answer", async () => {
  await using server = dpopServer();
  server.tokenAnswers.push(nonceAtToken("n-1"));
  const clock = new ManualClock();
  await using client = dpopClient(server, { clientAuth: "client_secret_post", now: clock.now });
  assert.equal(await status(await client.fetch(server.resource)), 200);
  const [first, second] = server.tokenRequests();
  assert.equal(first?.proof?.claims.nonce, undefined);
  assert.equal(second?.proof?.claims.nonce, "n-1");
  assert.equal(second?.form.get("client_secret"), "secret", "the form is sent again whole");
  // The nonce is kept for the next token request.
  clock.advance(3_600_000);
  await client.getToken();
  assert.equal(server.tokenRequests()[2]?.proof?.claims.nonce, "n-1");
});

Deno.test("Client with dpop does not loop on a token endpoint that demands a nonce twice", async () => {
  await using server = dpopServer();
  server.tokenAnswers.push(nonceAtToken("n-1"), nonceAtToken("n-2"), nonceAtToken("n-3"));
  await using client = dpopClient(server);
  const response = await client.fetch(server.resource);
  assert.equal(response.status, 400);
  assert.equal((await response.json()).error, "use_dpop_nonce");
  assert.equal(server.tokenRequests().length, 2, "one retry");
  assert.equal(server.resourceRequests().length, 0);
});

Deno.test("Client with dpop does not retry a use_dpop_nonce answer that names the nonce just sent", async () => {
  await using server = dpopServer();
  server.tokenAnswers.push(nonceAtToken("same"), nonceAtToken("same"));
  await using client = dpopClient(server);
  await assert.rejects(client.getToken(), (error: TokenError) => error.error === "use_dpop_nonce");
  assert.equal(server.tokenRequests().length, 2);
});

Deno.test("Client with dpop replays a resource request once with the resource's nonce, same token, no renewal", async () => {
  await using server = dpopServer();
  server.resourceAnswers.push(nonceAtResource("r-1"));
  const events: string[] = [];
  await using client = dpopClient(server, {
    onEvent: (event: { type: string }) => events.push(event.type),
  });
  const response = await client.fetch(server.resource, { method: "PUT", body: stream(["a", "b"]) });
  assert.equal(response.status, 200);
  assert.equal((await response.json()).body, "ab");
  const [first, second] = server.resourceRequests();
  assert.equal(first?.proof?.claims.nonce, undefined);
  assert.equal(second?.proof?.claims.nonce, "r-1");
  assert.equal(second?.authorization, first?.authorization, "the same token");
  assert.equal(server.tokenRequests().length, 1, "no renewal");
  assert(!events.includes("replay"), "not the renewal replay");
  // The next request carries the nonce from the start.
  await text(await client.fetch(server.resource));
  assert.equal(server.resourceRequests()[2]?.proof?.claims.nonce, "r-1");
});

Deno.test("Client with dpop returns a resource's second nonce challenge instead of looping", async () => {
  await using server = dpopServer();
  server.resourceAnswers.push(
    nonceAtResource("r-1"),
    nonceAtResource("r-2"),
    nonceAtResource("r-3"),
  );
  await using client = dpopClient(server);
  const response = await client.fetch(server.resource);
  assert.equal(response.status, 401);
  await response.body?.cancel();
  assert.equal(server.resourceRequests().length, 2);
  assert.equal(server.tokenRequests().length, 1, "a nonce challenge is not a rejected token");
});

function stream(chunks: string[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    pull(controller) {
      const next = chunks.shift();
      if (next === undefined) controller.close();
      else controller.enqueue(encoder.encode(next));
    },
  });
}

Deno.test("Client with dpop sends a stream three times at most: nonce, then renewal", async () => {
  await using server = dpopServer();
  server.resourceAnswers.push(nonceAtResource("r-1"), rejected);
  await using client = dpopClient(server);
  const response = await client.fetch(server.resource, {
    method: "POST",
    body: stream(["x", "y", "z"]),
  });
  assert.equal(response.status, 200);
  assert.equal((await response.json()).body, "xyz");
  const sends = server.resourceRequests();
  assert.deepEqual(sends.map((request) => request.body), ["xyz", "xyz", "xyz"]);
  assert.equal(server.tokenRequests().length, 2, "one renewal");
  assert.equal(sends[2]?.authorization, `DPoP ${server.issued[1]}`);
});

Deno.test("Client with dpop sends a stream three times at most: renewal, then nonce", async () => {
  await using server = dpopServer();
  server.resourceAnswers.push(rejected, nonceAtResource("r-1"), nonceAtResource("r-2"));
  await using client = dpopClient(server);
  const response = await client.fetch(server.resource, {
    method: "POST",
    body: stream(["1", "2"]),
  });
  assert.equal(response.status, 401, "the third answer is returned");
  await response.body?.cancel();
  const sends = server.resourceRequests();
  assert.deepEqual(sends.map((request) => request.body), ["12", "12", "12"]);
  assert.equal(sends[2]?.proof?.claims.nonce, "r-1");
  assert.equal(server.tokenRequests().length, 2);
});

Deno.test("Client with dpop keeps the latest nonce a resource sends with a success", async () => {
  await using server = dpopServer();
  server.resourceNonce = "fresh-1";
  await using client = dpopClient(server);
  await text(await client.fetch(server.resource));
  server.resourceNonce = "fresh-2";
  await text(await client.fetch(server.resource));
  await text(await client.fetch(server.resource));
  const nonces = server.resourceRequests().map((request) => request.proof?.claims.nonce);
  assert.deepEqual(nonces, [undefined, "fresh-1", "fresh-2"]);
  assert.equal(
    server.tokenRequests()[0]?.proof?.claims.nonce,
    undefined,
    "token and resource nonces apart",
  );
});

Deno.test("Client with dpop refuses a Bearer token: no silent downgrade", async () => {
  await using server = dpopServer();
  server.tokenType = "Bearer";
  await using client = dpopClient(server);
  await assert.rejects(client.getToken(), (error: TokenError) => {
    assert(error instanceof TokenError);
    assert.equal(error.code, "invalid_response");
    assert.match(
      error.message,
      /Bearer token, and the client asked for a DPoP-bound one \(RFC 9449 §5\)/,
    );
    assert(!error.message.includes(server.issued[0]!), "the token is not in the message");
    return true;
  });
  await assert.rejects(client.fetch(server.resource), TokenError);
  assert.equal(server.resourceRequests().length, 0);
});

Deno.test("Client without dpop refuses a DPoP-bound token and never sends it as Bearer", async () => {
  await using server = dpopServer();
  await using client = dpopClient(server, { dpop: false });
  await assert.rejects(
    client.fetch(server.resource),
    /bound to a DPoP key, and the client has none; set "dpop"/,
  );
  assert.equal(server.resourceRequests().length, 0);
  assert.equal(server.tokenRequests()[0]?.proof, undefined);
});

Deno.test("Client with dpop takes the token type in any case", async () => {
  await using server = dpopServer();
  server.tokenType = "dpop";
  await using client = dpopClient(server);
  assert.equal((await client.getToken()).tokenType, "DPoP");
  assert.equal(await status(await client.fetch(server.resource)), 200);
});

Deno.test("Client with dpop ignores a stored Bearer record, reports it, and never sends it", async () => {
  await using server = dpopServer();
  const bearer: Token = { accessToken: "stolen-bearer", tokenType: "Bearer", issuedAt: Date.now() };
  // A storage that answers every key with a Bearer record (tampered, or another client's).
  const storage = new MemoryTokenStorage();
  storage.get = () => Promise.resolve(structuredClone(bearer));
  const events: { type: string; phase?: string }[] = [];
  await using client = dpopClient(server, {
    storage,
    onEvent: (event: never) => events.push(event),
  });
  assert.equal(await status(await client.fetch(server.resource)), 200);
  assert.deepEqual(
    server.resourceRequests().map((request) => request.authorization),
    [`DPoP ${server.issued[0]}`],
  );
  assert(events.some((event) => event.type === "error" && event.phase === "storage"));
});

Deno.test("Client with dpop: { keyPair } proves with that key; EdDSA and the key's own algorithm", async () => {
  await using server = dpopServer();
  const keyPair = await crypto.subtle.generateKey({ name: "Ed25519" }, true, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  await using client = dpopClient(server, { dpop: { keyPair } });
  assert.equal(await status(await client.fetch(server.resource)), 200);
  const jwk = await crypto.subtle.exportKey("jwk", keyPair.publicKey);
  const [token] = server.tokenRequests();
  assert.equal(token?.proof?.header.alg, "EdDSA");
  assert.equal(token?.proof?.jkt, await thumbprint(jwk));
});

Deno.test("Clients with dpop share one storage by key: another key never gets these tokens", async () => {
  await using server = dpopServer();
  const storage = new MemoryTokenStorage();
  const keyPair = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, [
    "sign",
    "verify",
  ]);
  const options = { storage, dpop: { keyPair } };
  await using first = dpopClient(server, options);
  await using sameKey = dpopClient(server, options);
  await using otherKey = dpopClient(server, { storage });
  await using bearer = new Client({
    tokenEndpoint: server.tokenEndpoint,
    clientId: "id",
    clientSecret: "secret",
    storage,
  });
  server.tokenType = "DPoP";
  for (const client of [first, sameKey, otherKey]) {
    assert.equal(await status(await client.fetch(server.resource)), 200);
  }
  assert.equal(server.tokenRequests().length, 2, "one token per key");
  assert.equal(storage.size, 2);
  // Every resource request used its token with the key it is bound to (the server checks).
  assert.deepEqual(server.resourceRequests().map((request) => request.proof?.jkt !== undefined), [
    true,
    true,
    true,
  ]);
  server.tokenType = "Bearer";
  assert.equal(
    (await bearer.getToken()).tokenType,
    "Bearer",
    "a client without DPoP has its own record",
  );
  assert.equal(storage.size, 3);
});

Deno.test("new Client() refuses a malformed dpop option, naming it", async () => {
  const base = { tokenEndpoint: "https://auth.example/token", clientId: "id" };
  const hmac = await crypto.subtle.generateKey({ name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const ec = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, [
    "sign",
    "verify",
  ]);
  const p384 = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-384" }, false, [
    "sign",
    "verify",
  ]);
  const rsa = (name: string, modulusLength: number, hash: string) =>
    crypto.subtle.generateKey(
      { name, modulusLength, publicExponent: new Uint8Array([1, 0, 1]), hash },
      false,
      ["sign", "verify"],
    ) as Promise<CryptoKeyPair>;
  const rsa1024 = await rsa("RSASSA-PKCS1-v1_5", 1024, "SHA-256");
  const rsaSha512 = await rsa("RSA-PSS", 2048, "SHA-512");
  const cases: [unknown, RegExp][] = [
    ["yes", /"dpop" must be a boolean or an object/],
    [null, /"dpop" must be a boolean or an object/],
    [{ keypair: ec }, /keypair.*keyPair/],
    [{ keyPair: { privateKey: "k", publicKey: "k" } }, /"dpop.keyPair" must be a CryptoKeyPair/],
    [
      { keyPair: { privateKey: ec.publicKey, publicKey: ec.privateKey } },
      /must hold a private and a public key, not a public and a private key/,
    ],
    [
      { keyPair: { privateKey: hmac, publicKey: ec.publicKey } },
      /must hold a private and a public key, not a secret and a public key/,
    ],
    [
      { keyPair: rsa1024 },
      /2048 bits or more\) key pair, not RSASSA-PKCS1-v1_5 with SHA-256 \(1024 bits\)/,
    ],
    [{ keyPair: rsaSha512 }, /not RSA-PSS with SHA-512 \(2048 bits\)/],
    [{ keyPair: p384 }, /must be an ECDSA P-256, Ed25519, .* key pair, not ECDSA P-384/],
    [{ algorithm: "HS256" }, /"dpop.algorithm" must be one of ES256, EdDSA, RS256, PS256/],
    [{ keyPair: ec, algorithm: "ES256" }, /not both/],
  ];
  for (const [dpop, message] of cases) {
    assert.throws(() => new Client({ ...base, dpop } as never), { name: "TypeError", message });
  }
});

Deno.test("Client with a keyPair whose public key does not match fails the request with a clear error", async () => {
  await using server = dpopServer();
  const one = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, [
    "sign",
    "verify",
  ]);
  const two = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ]);
  await using client = dpopClient(server, {
    dpop: { keyPair: { privateKey: one.privateKey, publicKey: two.publicKey } },
  });
  await assert.rejects(client.getToken(), /"publicKey" is not the public key of "privateKey"/);
  assert.equal(server.tokenRequests().length, 0, "nothing sent");
});

Deno.test("Client with dpop shows no key material when inspected", async () => {
  await using server = dpopServer();
  await using client = dpopClient(server);
  await text(await client.fetch(server.resource));
  const shown = Deno.inspect(client, { depth: 10, showHidden: true });
  assert.match(shown, /dpop: true/);
  const jwk = server.tokenRequests()[0]?.proof?.header.jwk as { x: string };
  assert(!shown.includes(jwk.x), "not even the public key");
  assert(!shown.includes(server.issued[0]!));
});

Deno.test("Client with dpop replaces a caller's own DPoP and Authorization headers", async () => {
  await using server = dpopServer();
  await using client = dpopClient(server);
  for (
    const headers of [
      { dpop: "forged", authorization: "Bearer x" },
      new Headers({ DPoP: "forged" }),
    ]
  ) {
    assert.equal(await status(await client.fetch(server.resource, { headers })), 200);
  }
  assert.equal(server.resourceRequests().length, 2);
});

Deno.test("Client with dpop dates its proofs by its clock", async () => {
  await using server = dpopServer();
  const clock = new ManualClock();
  await using client = dpopClient(server, { now: clock.now });
  await text(await client.fetch(server.resource));
  assert.equal(server.tokenRequests()[0]?.proof?.claims.iat, Math.floor(clock.time / 1000));
  assert.equal(base64urlDecode("AQ")[0], 1); // the decoder the checks rely on
});

Deno.test("Client with dpop returns a redirect instead of carrying the proof to another URL", async () => {
  await using server = dpopServer();
  const elsewhere: (string | null)[] = [];
  await using other = serve((request) => {
    elsewhere.push(request.headers.get("DPoP"));
    return new Response("other");
  });
  server.resourceAnswers.push(() =>
    new Response(null, { status: 307, headers: { Location: `${other.url}/next` } })
  );
  await using client = dpopClient(server);
  const response = await client.fetch(server.resource, { method: "POST", body: "pay=1" });
  assert.equal(response.status, 307, "a proof names one URL (RFC 9449 §4.2)");
  await response.body?.cancel();
  assert.deepEqual(elsewhere, [], "nothing went to the other origin");
  // The caller's own redirect mode other than "follow" is kept.
  server.resourceAnswers.push(() =>
    new Response(null, { status: 307, headers: { Location: `${other.url}/next` } })
  );
  await assert.rejects(client.fetch(server.resource, { redirect: "error" }), TypeError);
});
