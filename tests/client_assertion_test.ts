import assert from "node:assert/strict";
import {
  addClientAuthentication,
  ClientAssertion,
  type ClientAssertionOptions,
  type ClientCredentials,
} from "../src/client_assertion.ts";
import { ManualClock } from "./_helpers.ts";
import {
  type Alg,
  base64urlDecode,
  decodeJws,
  der,
  formServer,
  innerKey,
  keyPair,
  pem,
  pkcs8Pem,
  verifyJws,
} from "./_jws.ts";

const ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/**
 * A token endpoint that authenticates clients by assertion, as RFC 7523 §3
 * says a server does: registered key, iss = sub = client id, its own
 * audience, an unexpired assertion, each jti once.
 */
function assertionServer(
  clients: Record<string, { key: CryptoKey | string; alg: Alg | "HS256" }>,
  audiences: (url: string) => string[],
  clock: () => number,
) {
  const seen = new Set<string>();
  const refuse = (description: string) =>
    Response.json({ error: "invalid_client", error_description: description }, { status: 401 });
  const server = formServer(async (form) => {
    if (form.get("client_assertion_type") !== ASSERTION_TYPE) return refuse("assertion type");
    const jws = form.get("client_assertion") ?? "";
    const clientId = String(decodeJws(jws).claims.sub);
    const client = clients[clientId];
    if (client === undefined) return refuse("unknown client");
    let claims: Record<string, unknown>;
    try {
      ({ claims } = await verifyJws(jws, client.key, client.alg));
    } catch (error) {
      return refuse(String(error));
    }
    const now = Math.floor(clock() / 1000);
    if (claims.iss !== clientId) return refuse("iss");
    if (form.has("client_id") && form.get("client_id") !== clientId) return refuse("client_id");
    if (!audiences(server.url).includes(String(claims.aud))) return refuse(`aud ${claims.aud}`);
    if (typeof claims.exp !== "number" || claims.exp <= now) return refuse("expired");
    if (seen.has(String(claims.jti))) return refuse("replayed jti");
    seen.add(String(claims.jti));
    return Response.json({ access_token: `token-for-${clientId}`, token_type: "Bearer" });
  });
  return server;
}

/** Sends one authenticated form POST, the way the token and revocation endpoints do. */
async function post(
  url: string,
  credentials: ClientCredentials,
  issuer?: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const headers = new Headers({ "Content-Type": "application/x-www-form-urlencoded" });
  const form = new URLSearchParams({ grant_type: "client_credentials" });
  await addClientAuthentication(credentials, { endpoint: url, issuer }, headers, form);
  const response = await fetch(url, { method: "POST", headers, body: form });
  return { status: response.status, body: await response.json() };
}

for (const alg of ["RS256", "PS256", "ES256", "EdDSA"] as const) {
  Deno.test(`ClientAssertion signs ${alg} with a CryptoKey, a JWK and a PKCS#8 PEM`, async () => {
    const clock = new ManualClock();
    const { privateKey, publicKey } = await keyPair(alg);
    await using server = assertionServer(
      { svc: { key: publicKey, alg } },
      (url) => [url],
      clock.now,
    );
    const jwk = await crypto.subtle.exportKey("jwk", privateKey);
    const forms: ClientAssertionOptions["clientKey"][] = [
      privateKey,
      jwk,
      await pkcs8Pem(privateKey),
    ];
    for (const clientKey of forms) {
      // An RSA key given as JWK or PEM signs PS256 only when asked.
      const algorithm = alg === "PS256" && !(clientKey instanceof CryptoKey) ? alg : undefined;
      const clientAssertion = new ClientAssertion({
        clientId: "svc",
        clientKey,
        algorithm,
        now: clock.now,
      });
      assert.equal(clientAssertion.algorithm, alg);
      const result = await post(server.url, {
        clientId: "svc",
        clientAuth: "private_key_jwt",
        clientAssertion,
      });
      assert.equal(result.status, 200, JSON.stringify(result.body));
    }
  });
}

Deno.test("ClientAssertion signs client_secret_jwt with HS256 over the secret", async () => {
  const clock = new ManualClock();
  await using server = assertionServer(
    { app: { key: "a secret of at least thirty-two bytes", alg: "HS256" } },
    (url) => [url],
    clock.now,
  );
  const clientAssertion = new ClientAssertion({
    clientId: "app",
    clientSecret: "a secret of at least thirty-two bytes",
    now: clock.now,
  });
  assert.equal(clientAssertion.method, "client_secret_jwt");
  const ok = await post(server.url, {
    clientId: "app",
    clientAuth: "client_secret_jwt",
    clientAssertion,
  });
  assert.equal(ok.status, 200);
  assert.equal(server.forms[0]?.get("client_secret"), null); // the secret never travels

  const wrong = new ClientAssertion({ clientId: "app", clientSecret: "wrong", now: clock.now });
  const refused = await post(server.url, {
    clientId: "app",
    clientAuth: "client_secret_jwt",
    clientAssertion: wrong,
  });
  assert.equal(refused.status, 401);
  assert.equal(refused.body.error, "invalid_client");
});

Deno.test("ClientAssertion claims: iss = sub = client id, fresh jti, iat, nbf, exp a minute ahead", async () => {
  const clock = new ManualClock();
  clock.time = 1_700_000_000_500;
  const { privateKey, publicKey } = await keyPair("ES256");
  const assertion = new ClientAssertion({
    clientId: "svc",
    clientKey: privateKey,
    clientKeyId: "k1",
    now: clock.now,
  });
  const first = await verifyJws(
    await assertion.sign({ endpoint: "https://as.example/token" }),
    publicKey,
    "ES256",
  );
  const second = decodeJws(await assertion.sign({ endpoint: "https://as.example/token" }));
  assert.deepEqual(first.header, { typ: "JWT", kid: "k1", alg: "ES256" });
  const { jti, ...rest } = first.claims;
  assert.deepEqual(rest, {
    iss: "svc",
    sub: "svc",
    aud: "https://as.example/token",
    iat: 1_700_000_000,
    nbf: 1_700_000_000,
    exp: 1_700_000_060,
  });
  assert.match(String(jti), /^[0-9a-f-]{36}$/);
  assert.notEqual(second.claims.jti, jti);
});

Deno.test("ClientAssertion takes the kid of a JWK, and the lifetime from its option", async () => {
  const { privateKey } = await keyPair("EdDSA");
  const jwk = { ...await crypto.subtle.exportKey("jwk", privateKey), kid: "from-jwk" };
  const assertion = new ClientAssertion({ clientId: "svc", clientKey: jwk, lifetime: 300_000 });
  const { header, claims } = decodeJws(await assertion.sign({ endpoint: "https://as.example/t" }));
  assert.equal(header.kid, "from-jwk");
  assert.equal(Number(claims.exp) - Number(claims.iat), 300);
});

Deno.test("ClientAssertion.audienceFor() picks the issuer, the token endpoint or the endpoint", () => {
  const target = {
    endpoint: "https://as.example/oauth/revoke",
    tokenEndpoint: new URL("https://as.example/oauth/token"),
    issuer: "https://as.example",
  };
  const make = (audience?: "issuer" | "token_endpoint" | "endpoint") =>
    new ClientAssertion({ clientId: "c", clientSecret: "s", audience });
  assert.equal(make().audienceFor(target), "https://as.example");
  assert.equal(
    make("issuer").audienceFor({ ...target, issuer: undefined }),
    "https://as.example/oauth/token",
  );
  assert.equal(
    make("issuer").audienceFor({ endpoint: "https://as.example/oauth/token" }),
    "https://as.example/oauth/token",
  );
  assert.equal(make("token_endpoint").audienceFor(target), "https://as.example/oauth/token");
  assert.equal(make("endpoint").audienceFor(target), "https://as.example/oauth/revoke");
});

Deno.test("ClientAssertion sends aud = the issuer when it is known, as one string", async () => {
  const clock = new ManualClock();
  const { privateKey, publicKey } = await keyPair("RS256");
  await using server = assertionServer(
    { svc: { key: publicKey, alg: "RS256" } },
    () => ["https://issuer.example"],
    clock.now,
  );
  const clientAssertion = new ClientAssertion({
    clientId: "svc",
    clientKey: privateKey,
    now: clock.now,
  });
  const credentials: ClientCredentials = {
    clientId: "svc",
    clientAuth: "private_key_jwt",
    clientAssertion,
  };
  assert.equal((await post(server.url, credentials, "https://issuer.example")).status, 200);
  const refused = await post(server.url, credentials); // aud falls back to the endpoint
  assert.equal(refused.status, 401);
  assert.match(String(refused.body.error_description), /^aud http:\/\/127\.0\.0\.1:\d+$/);
  // client_id travels alongside the assertion (RFC 7521 §4.2 allows it; Entra ID expects it).
  assert.equal(server.forms[0]?.get("client_id"), "svc");
});

Deno.test("ClientAssertion: the server refuses a replayed jti and an expired assertion", async () => {
  const clock = new ManualClock();
  const { privateKey, publicKey } = await keyPair("ES256");
  await using server = assertionServer(
    { svc: { key: publicKey, alg: "ES256" } },
    (url) => [url],
    clock.now,
  );
  const assertion = new ClientAssertion({ clientId: "svc", clientKey: privateKey, now: clock.now });
  const jws = await assertion.sign({ endpoint: server.url });
  const send = (value: string) =>
    fetch(server.url, {
      method: "POST",
      body: new URLSearchParams({ client_assertion_type: ASSERTION_TYPE, client_assertion: value }),
    }).then(async (r) => ({ status: r.status, body: await r.json() }));
  assert.equal((await send(jws)).status, 200);
  assert.equal((await send(jws)).body.error_description, "replayed jti");
  clock.advance(60_000);
  assert.equal((await send(await assertion.sign({ endpoint: server.url }))).status, 200);
  const old = new ClientAssertion({
    clientId: "svc",
    clientKey: privateKey,
    now: () => clock.time - 61_000,
  });
  assert.equal(
    (await send(await old.sign({ endpoint: server.url }))).body.error_description,
    "expired",
  );
});

Deno.test("ClientAssertion accepts PKCS#1 RSA, SEC1 EC and RSA-PSS PKCS#8 PEM keys", async () => {
  const rsa = await keyPair("RS256");
  const rsaPkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", rsa.privateKey));
  const pkcs1 = pem("RSA PRIVATE KEY", innerKey(rsaPkcs8));
  const fromPkcs1 = new ClientAssertion({ clientId: "c", clientKey: pkcs1 });
  await verifyJws(await fromPkcs1.sign({ endpoint: "https://as.example" }), rsa.publicKey, "RS256");

  // openssl genpkey -algorithm RSA-PSS: the id-RSASSA-PSS OID, which WebCrypto does not import.
  const pss = await keyPair("PS256");
  const pssInner = innerKey(new Uint8Array(await crypto.subtle.exportKey("pkcs8", pss.privateKey)));
  const pssOid = Uint8Array.of(0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a);
  const pssPkcs8 = der(
    0x30,
    Uint8Array.of(0x02, 0x01, 0x00),
    der(0x30, der(0x06, pssOid)),
    der(0x04, pssInner),
  );
  const fromPss = new ClientAssertion({ clientId: "c", clientKey: pem("PRIVATE KEY", pssPkcs8) });
  assert.equal(fromPss.algorithm, "PS256");
  await verifyJws(await fromPss.sign({ endpoint: "https://as.example" }), pss.publicKey, "PS256");

  // openssl ecparam -genkey: SEC1 with the curve as [0] parameters.
  const ec = await keyPair("ES256");
  const sec1 = innerKey(new Uint8Array(await crypto.subtle.exportKey("pkcs8", ec.privateKey)));
  const content = sec1.subarray(2); // version, private key, [1] public key: no [0] curve
  const privateKey = content.subarray(0, 3 + 34);
  const curve = der(0xa0, der(0x06, Uint8Array.of(0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07)));
  const withCurve = der(0x30, privateKey, curve, content.subarray(3 + 34));
  const fromSec1 = new ClientAssertion({
    clientId: "c",
    clientKey: pem("EC PRIVATE KEY", withCurve),
  });
  await verifyJws(await fromSec1.sign({ endpoint: "https://as.example" }), ec.publicKey, "ES256");
  assert.throws(
    () => new ClientAssertion({ clientId: "c", clientKey: pem("EC PRIVATE KEY", sec1) }),
    { name: "TypeError", message: /"clientKey" is an EC key without the P-256 curve/ },
  );
});

Deno.test("ClientAssertion reads a PEM whose newlines were written as \\n (environment variables)", async () => {
  const { privateKey, publicKey } = await keyPair("RS256");
  const flattened = (await pkcs8Pem(privateKey)).replaceAll("\n", "\\n");
  const assertion = new ClientAssertion({ clientId: "c", clientKey: flattened });
  await verifyJws(await assertion.sign({ endpoint: "https://as.example" }), publicKey, "RS256");
});

Deno.test("ClientAssertion throws a TypeError at construction for a PEM that is not a private key", async () => {
  const { publicKey } = await keyPair("RS256");
  const spki = pem("PUBLIC KEY", await crypto.subtle.exportKey("spki", publicKey));
  const cases: [string, RegExp][] = [
    [spki, /"clientKey" holds a PUBLIC KEY, not a private key/],
    [pem("CERTIFICATE", Uint8Array.of(0x30, 0x00)), /holds a CERTIFICATE, not a private key/],
    [pem("ENCRYPTED PRIVATE KEY", Uint8Array.of(0x30, 0x00)), /is an encrypted private key/],
    ["not a key at all", /"clientKey" is not a PEM-encoded private key/],
    [pem("PRIVATE KEY", Uint8Array.of(0x30, 0x05, 0x02)), /is not a well-formed private key/],
  ];
  for (const [clientKey, message] of cases) {
    assert.throws(() => new ClientAssertion({ clientId: "c", clientKey }), {
      name: "TypeError",
      message,
    });
  }
});

Deno.test("ClientAssertion refuses public, symmetric and unsupported keys at construction", async () => {
  const rsa = await keyPair("RS256");
  const publicJwk = await crypto.subtle.exportKey("jwk", rsa.publicKey);
  const p384 = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-384" }, true, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  const cases: [unknown, RegExp][] = [
    [rsa.publicKey, /"clientKey" is a public key, not a private key/],
    [publicJwk, /"clientKey" is a public JWK, not a private key/],
    [{ kty: "oct", k: "c2VjcmV0" }, /symmetric JWK; use client_secret_jwt/],
    [
      p384.privateKey,
      /"clientKey" uses ECDSA P-384; supported: RS256, PS256, ES256/,
    ],
    [await pkcs8Pem(p384.privateKey), /curve other than P-256/],
    [42, /must be a CryptoKey, a private JWK or a PEM string/],
  ];
  for (const [clientKey, message] of cases) {
    assert.throws(
      () => new ClientAssertion({ clientId: "c", clientKey: clientKey as CryptoKey }),
      { name: "TypeError", message },
    );
  }
  assert.throws(
    () => new ClientAssertion({ clientId: "c", clientKey: rsa.privateKey, algorithm: "ES256" }),
    { name: "TypeError", message: /"clientKey" signs RS256, not "ES256"/ },
  );
});

Deno.test("ClientAssertion checks its options", () => {
  const bad: [unknown, RegExp][] = [
    [null, /options must be an object/],
    [{ clientSecret: "s" }, /"clientId" must be a non-empty string/],
    [{ clientId: "c" }, /give either "clientKey" or "clientSecret"/],
    [{ clientId: "c", clientSecret: "s", clientKey: "k" }, /give either/],
    [{ clientId: "c", clientSecret: "" }, /"clientSecret" must be a non-empty string/],
    [
      { clientId: "c", clientSecret: "s", algorithm: "RS256" },
      /"algorithm" applies to a "clientKey"/,
    ],
    [{ clientId: "c", clientSecret: "s", audience: "aud" }, /"audience" must be one of/],
    [
      { clientId: "c", clientSecret: "s", certificate: "x" },
      /"certificate" applies to a "clientKey"/,
    ],
  ];
  for (const [options, message] of bad) {
    assert.throws(() => new ClientAssertion(options as ClientAssertionOptions), {
      name: "TypeError",
      message,
    });
  }
  assert.throws(() => new ClientAssertion({ clientId: "c", clientSecret: "s", lifetime: 10 }), {
    name: "RangeError",
  });
});

Deno.test("ClientAssertion sends the certificate's thumbprints as x5t#S256 and x5t", async () => {
  const { privateKey } = await keyPair("PS256");
  const certificate = crypto.getRandomValues(new Uint8Array(300)); // only hashed, never parsed
  const assertion = new ClientAssertion({
    clientId: "c",
    clientKey: await pkcs8Pem(privateKey),
    algorithm: "PS256",
    certificate: pem("CERTIFICATE", certificate),
  });
  const { header } = decodeJws(await assertion.sign({ endpoint: "https://login.example/token" }));
  const sha256 = new Uint8Array(await crypto.subtle.digest("SHA-256", certificate));
  const sha1 = new Uint8Array(await crypto.subtle.digest("SHA-1", certificate));
  assert.deepEqual(base64urlDecode(String(header["x5t#S256"])), sha256);
  assert.deepEqual(base64urlDecode(String(header.x5t)), sha1);
  assert.equal(header.alg, "PS256");
  assert.throws(
    () =>
      new ClientAssertion({ clientId: "c", clientKey: privateKey, certificate: "-----BEGIN X" }),
    { name: "TypeError", message: /"certificate" must be a PEM-encoded X.509 certificate/ },
  );
});

Deno.test("ClientAssertion never shows its key or secret in inspect, JSON or errors", async () => {
  const { privateKey } = await keyPair("EdDSA");
  const jwk = await crypto.subtle.exportKey("jwk", privateKey);
  const secret = "hunter2-hunter2-hunter2-hunter2!";
  for (
    const assertion of [
      new ClientAssertion({ clientId: "c", clientKey: jwk }),
      new ClientAssertion({ clientId: "c", clientSecret: secret }),
    ]
  ) {
    const shown = [Deno.inspect(assertion, { depth: 10 }), JSON.stringify(assertion)].join("\n");
    assert.ok(!shown.includes(String(jwk.d)));
    assert.ok(!shown.includes(secret));
    assert.match(shown, /ClientAssertion \{/);
  }
  const broken = { ...jwk, d: "AAAA" }; // imports fail only when used
  const assertion = new ClientAssertion({ clientId: "c", clientKey: broken });
  await assert.rejects(assertion.sign({ endpoint: "https://as.example" }), (error: Error) => {
    assert.equal(error.name, "TypeError");
    assert.match(error.message, /^Cannot import the private key for EdDSA/);
    assert.ok(!error.message.includes("AAAA"));
    return true;
  });
});

Deno.test("addClientAuthentication() keeps the secret methods and needs an assertion for *_jwt", async () => {
  const headers = new Headers();
  const form = new URLSearchParams();
  await addClientAuthentication(
    { clientId: "id", clientAuth: "client_secret_basic", clientSecret: "s" },
    { endpoint: "https://as.example/token" },
    headers,
    form,
  );
  assert.equal(headers.get("authorization"), `Basic ${btoa("id:s")}`);
  await assert.rejects(
    addClientAuthentication(
      { clientId: "id", clientAuth: "private_key_jwt" },
      { endpoint: "https://as.example/token" },
      headers,
      form,
    ),
    {
      name: "TypeError",
      message: "Cannot authenticate the client: private_key_jwt needs a ClientAssertion",
    },
  );
});
