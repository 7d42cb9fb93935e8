import assert from "node:assert/strict";
import { Client, MemoryTokenStorage, TokenEndpoint } from "../mod.ts";
import { createMtlsFetch, parseClientCertificate } from "../src/mtls.ts";
import { fetchText } from "./_helpers.ts";
import {
  makeTlsFixtures,
  type MtlsServer,
  startMtlsAuthServer,
  startMtlsServer,
} from "./_tls_fixtures.ts";

const fixtures = await makeTlsFixtures();
const { selfSigned, stranger, pkiClient, serverCa } = fixtures;
const serverTls = { cert: fixtures.server.cert, key: fixtures.server.key };

Deno.test("createMtlsFetch() presents the certificate to a server that requests one", async () => {
  await using server = await startMtlsServer(serverTls, () => ({ status: 200, json: {} }));
  using mtls = createMtlsFetch(selfSigned.cert, selfSigned.key, { caCerts: [serverCa] });
  await (await mtls.fetch(`${server.url}/a`)).body?.cancel();
  await (await mtls.fetch(`${server.url}/b`, { method: "POST", body: "x=1" })).body?.cancel();
  assert.deepEqual(server.requests.map((r) => [r.path, r.body, r.peer?.thumbprint]), [
    ["/a", "", selfSigned.thumbprint],
    ["/b", "x=1", selfSigned.thumbprint],
  ]);
  assert.equal(server.requests[0]?.peer?.subject, "CN=client-id");
});

Deno.test("createMtlsFetch() presents a CA-issued certificate the server verifies", async () => {
  await using server = await startMtlsServer(
    { ...serverTls, clientCa: fixtures.clientCa },
    () => ({ status: 204 }),
  );
  using mtls = createMtlsFetch(pkiClient.cert, pkiClient.key, { caCerts: [serverCa] });
  await (await mtls.fetch(server.url)).body?.cancel();
  assert.deepEqual(server.requests[0]?.peer, {
    thumbprint: pkiClient.thumbprint,
    subject: "CN=client-id, O=Alf",
    authorized: true,
  });
});

Deno.test("createMtlsFetch() sends through the given fetch, with the HttpClient in init", async () => {
  await using server = await startMtlsServer(serverTls, () => ({ status: 200, json: {} }));
  const seen: unknown[] = [];
  using mtls = createMtlsFetch(selfSigned.cert, selfSigned.key, {
    caCerts: [serverCa],
    fetch: (input, init) => {
      seen.push((init as { client?: unknown } | undefined)?.client);
      return fetch(input, init);
    },
  });
  await (await mtls.fetch(server.url, { headers: { "x-test": "1" } })).body?.cancel();
  assert.equal(seen.length, 1);
  assert.ok(seen[0] instanceof Deno.HttpClient);
  assert.equal(server.requests[0]?.headers["x-test"], "1");
  assert.equal(server.requests[0]?.peer?.thumbprint, selfSigned.thumbprint);
});

Deno.test("createMtlsFetch() without the server's CA refuses the server's certificate", async () => {
  await using server = await startMtlsServer(serverTls, () => ({ status: 200, json: {} }));
  using mtls = createMtlsFetch(selfSigned.cert, selfSigned.key);
  await assert.rejects(() => mtls.fetch(server.url), TypeError);
  assert.equal(server.requests.length, 0);
});

Deno.test("createMtlsFetch().close() ends the transport: later requests fail", async () => {
  await using server = await startMtlsServer(serverTls, () => ({ status: 200, json: {} }));
  const mtls = createMtlsFetch(selfSigned.cert, selfSigned.key, { caCerts: [serverCa] });
  await (await mtls.fetch(server.url)).body?.cancel();
  mtls.close();
  mtls.close(); // twice is fine
  await assert.rejects(() => mtls.fetch(server.url));
  assert.equal(server.requests.length, 1);
});

Deno.test("createMtlsFetch() refuses a key that does not match the certificate", () => {
  assert.throws(
    () => createMtlsFetch(selfSigned.cert, stranger.key),
    (error: unknown) =>
      error instanceof TypeError &&
      error.message.startsWith(
        "Cannot create the mTLS fetch: the certificate or key is unusable: ",
      ) && error.message.includes("KeyMismatch"),
  );
});

Deno.test("createMtlsFetch() refuses texts that hold no certificate or no private key", () => {
  const key = selfSigned.key;
  const cases: [unknown, unknown, string][] = [
    [key, key, '"cert" must be a PEM-encoded X.509 certificate'],
    [undefined, key, '"cert" must be a PEM-encoded X.509 certificate'],
    [selfSigned.cert, selfSigned.cert, '"key" holds a CERTIFICATE, not a private key'],
    [selfSigned.cert, "secret", '"key" holds no PEM block, not a private key'],
    [selfSigned.cert, 42, '"key" must be a PEM-encoded private key'],
    [
      selfSigned.cert,
      "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMAA=\n-----END ENCRYPTED PRIVATE KEY-----",
      '"key" is an encrypted private key; decrypt it first (openssl pkcs8 -nocrypt)',
    ],
  ];
  for (const [cert, key, reason] of cases) {
    assert.throws(
      () => createMtlsFetch(cert as string, key as string),
      new TypeError(`Cannot create the mTLS fetch: ${reason}`),
    );
  }
  assert.throws(
    () => createMtlsFetch(selfSigned.cert, key, { caCerts: ["not a certificate"] }),
    new TypeError(
      'Cannot create the mTLS fetch: "caCerts" must be a list of PEM-encoded certificates',
    ),
  );
  assert.throws(
    () => createMtlsFetch(selfSigned.cert, key, { caCert: [serverCa] } as never),
    new TypeError('Cannot create the mTLS fetch: unknown option "caCert"; did you mean "caCerts"?'),
  );
});

Deno.test("createMtlsFetch() errors never show the key", () => {
  for (const [cert, key] of [[selfSigned.cert, stranger.key], ["", stranger.key]] as const) {
    try {
      createMtlsFetch(cert, key);
      assert.fail("expected a TypeError");
    } catch (error) {
      const body = stranger.key.split("\n")[1]!;
      assert.ok(!String((error as Error).message).includes(body.slice(0, 16)));
      assert.ok(!Deno.inspect(error).includes(body.slice(0, 16)));
    }
  }
});

Deno.test("createMtlsFetch() reads PEM texts with \\n written as two characters", async () => {
  await using server = await startMtlsServer(serverTls, () => ({ status: 200, json: {} }));
  const escaped = (pem: string) => pem.replace(/\n/g, "\\n");
  using mtls = createMtlsFetch(escaped(selfSigned.cert), escaped(selfSigned.key), {
    caCerts: [escaped(serverCa)],
  });
  await (await mtls.fetch(server.url)).body?.cancel();
  assert.equal(server.requests[0]?.peer?.thumbprint, selfSigned.thumbprint);
});

Deno.test("parseClientCertificate() refuses a mutual-TLS method without a certificate", () => {
  for (const method of ["tls_client_auth", "self_signed_tls_client_auth"]) {
    assert.throws(
      () => parseClientCertificate(undefined, method),
      new TypeError(`Cannot create the client: "clientAuth" ${method} needs a "clientCertificate"`),
    );
  }
  assert.equal(parseClientCertificate(undefined, "client_secret_basic"), undefined);
});

Deno.test("parseClientCertificate() checks each field, naming it", () => {
  const { cert, key } = selfSigned;
  const cases: [unknown, string][] = [
    ["pem", '"clientCertificate" must be an object with "cert" and "key"'],
    [{ cert: key, key }, '"clientCertificate.cert" must be a PEM-encoded X.509 certificate'],
    [{ cert, key: cert }, '"clientCertificate.key" holds a CERTIFICATE, not a private key'],
    [
      { cert, key, caCerts: serverCa },
      '"clientCertificate.caCerts" must be a list of PEM-encoded certificates',
    ],
    [
      { cert, key, boundAccessTokens: "yes" },
      '"clientCertificate.boundAccessTokens" must be a boolean',
    ],
  ];
  for (const [value, reason] of cases) {
    assert.throws(
      () => parseClientCertificate(value, "tls_client_auth"),
      new TypeError(`Cannot create the client: ${reason}`),
    );
  }
  assert.throws(
    () => parseClientCertificate({ cert, key, certs: [] }, "tls_client_auth"),
    new TypeError(
      'Cannot create the client ("clientCertificate"): unknown option "certs"; did you mean "cert"?',
    ),
  );
  assert.deepEqual(parseClientCertificate({ cert, key }, "none"), {
    cert,
    key,
    boundAccessTokens: false,
  });
});

Deno.test("TokenEndpoint.request() over createMtlsFetch() is authenticated by the certificate", async () => {
  await using server = await startMtlsAuthServer(fixtures, {
    method: "self_signed_tls_client_auth",
    thumbprints: [selfSigned.thumbprint],
  });
  using mtls = createMtlsFetch(selfSigned.cert, selfSigned.key, { caCerts: [serverCa] });
  const endpoint = new TokenEndpoint({
    url: new URL(server.tokenEndpoint),
    clientId: "client-id",
    // The form of the mutual-TLS methods: client_id only (RFC 8705 §2).
    clientAuth: "none",
    fetch: mtls.fetch,
    now: () => 1_700_000_000_000,
    timeout: 30_000,
  });
  const result = await endpoint.request(new URLSearchParams({ grant_type: "client_credentials" }));
  assert.ok("token" in result);
  assert.equal(result.token.accessToken, "at-1");
  const request = server.requests[0];
  assert.deepEqual(
    [...new URLSearchParams(request?.body)],
    [["grant_type", "client_credentials"], ["client_id", "client-id"]],
  );
  assert.equal(request?.headers.authorization, undefined);
  assert.equal(request?.peer?.thumbprint, selfSigned.thumbprint);
});

Deno.test("TokenEndpoint.request() with an unregistered certificate returns the server's 401", async () => {
  await using server = await startMtlsAuthServer(fixtures, {
    method: "self_signed_tls_client_auth",
    thumbprints: [selfSigned.thumbprint],
  });
  using mtls = createMtlsFetch(stranger.cert, stranger.key, { caCerts: [serverCa] });
  const endpoint = new TokenEndpoint({
    url: new URL(server.tokenEndpoint),
    clientId: "client-id",
    clientAuth: "none",
    fetch: mtls.fetch,
    now: Date.now,
    timeout: 30_000,
  });
  const result = await endpoint.request(new URLSearchParams({ grant_type: "client_credentials" }));
  assert.ok("errorResponse" in result);
  assert.equal(result.errorResponse.status, 401);
  assert.equal(result.errorResponse.error.error, "invalid_client");
  assert.equal(server.requests[0]?.peer?.thumbprint, stranger.thumbprint);
});

// --- The client, wired (src/client_options.ts, src/client.ts, src/client_auth.ts) ---

Deno.test("Client.fetch() with self_signed_tls_client_auth presents the certificate, form carries client_id only", async () => {
  await using server = await startMtlsAuthServer(fixtures, {
    method: "self_signed_tls_client_auth",
    thumbprints: [selfSigned.thumbprint],
  });
  await using client = new Client({
    tokenEndpoint: server.tokenEndpoint,
    clientId: "client-id",
    clientAuth: "self_signed_tls_client_auth",
    clientCertificate: {
      cert: selfSigned.cert,
      key: selfSigned.key,
      caCerts: [serverCa],
      boundAccessTokens: true,
    },
    storage: new MemoryTokenStorage(),
  });
  const { status, text } = await fetchText(client.fetch, server.resourceUrl);
  assert.equal(status, 200);
  assert.deepEqual(JSON.parse(text), { token: "at-1", thumbprint: selfSigned.thumbprint });
  const [token, resource] = server.requests;
  assert.deepEqual(
    [...new URLSearchParams(token?.body)],
    [["grant_type", "client_credentials"], ["client_id", "client-id"]],
  );
  assert.equal(token?.headers.authorization, undefined);
  assert.equal(token?.peer?.thumbprint, selfSigned.thumbprint);
  assert.equal(resource?.peer?.thumbprint, selfSigned.thumbprint);
});

Deno.test("Client.fetch() with tls_client_auth presents a CA-issued certificate the server verifies", async () => {
  await using server = await startMtlsAuthServer(fixtures, {
    method: "tls_client_auth",
    subject: "CN=client-id, O=Alf",
  });
  await using client = new Client({
    tokenEndpoint: server.tokenEndpoint,
    clientId: "client-id",
    clientAuth: "tls_client_auth",
    clientCertificate: {
      cert: pkiClient.cert,
      key: pkiClient.key,
      caCerts: [serverCa],
      boundAccessTokens: true,
    },
    storage: new MemoryTokenStorage(),
  });
  const token = await client.getToken();
  assert.equal(token.accessToken, "at-1");
  assert.deepEqual(server.requests[0]?.peer, {
    thumbprint: pkiClient.thumbprint,
    subject: "CN=client-id, O=Alf",
    authorized: true,
  });
});

Deno.test("Client.fetch() with an unregistered certificate returns the token endpoint's 401", async () => {
  await using server = await startMtlsAuthServer(fixtures, {
    method: "self_signed_tls_client_auth",
    thumbprints: [selfSigned.thumbprint],
  });
  await using client = new Client({
    tokenEndpoint: server.tokenEndpoint,
    clientId: "client-id",
    clientAuth: "self_signed_tls_client_auth",
    clientCertificate: { cert: stranger.cert, key: stranger.key, caCerts: [serverCa] },
    storage: new MemoryTokenStorage(),
  });
  const { status, text } = await fetchText(client.fetch, server.resourceUrl);
  assert.equal(status, 401);
  assert.equal(JSON.parse(text).error, "invalid_client");
  assert.deepEqual(server.requests.map((r) => [r.path, r.peer?.thumbprint]), [
    ["/token", stranger.thumbprint],
  ]);
});

Deno.test("Client.fetch() without boundAccessTokens sends no certificate to the resource", async () => {
  using trustCa = Deno.createHttpClient({ caCerts: [serverCa] });
  await using server = await startMtlsAuthServer(fixtures, {
    method: "self_signed_tls_client_auth",
    thumbprints: [selfSigned.thumbprint],
  });
  await using client = new Client({
    tokenEndpoint: server.tokenEndpoint,
    clientId: "client-id",
    clientAuth: "self_signed_tls_client_auth",
    clientCertificate: { cert: selfSigned.cert, key: selfSigned.key, caCerts: [serverCa] },
    storage: new MemoryTokenStorage(),
    // The user's transport trusts the test CA; the client's certificate rides on it to /token.
    fetch: (input, init) => fetch(input, { client: trustCa, ...init }),
  });
  const { status } = await fetchText(client.fetch, server.resourceUrl);
  // The token is bound to the certificate: without it the resource refuses it (RFC 8705 §3).
  assert.equal(status, 401);
  const resource = server.requests.filter((r) => r.path === "/resource");
  assert.ok(resource.length >= 1);
  assert.ok(resource.every((r) => r.peer === undefined));
  assert.ok(server.requests.filter((r) => r.path === "/token").every((r) => r.peer !== undefined));
});

Deno.test("Client.revoke() presents the certificate to the revocation endpoint", async () => {
  await using server = await startMtlsAuthServer(fixtures, {
    method: "self_signed_tls_client_auth",
    thumbprints: [selfSigned.thumbprint],
  });
  await using client = new Client({
    tokenEndpoint: server.tokenEndpoint,
    revocationEndpoint: server.revocationEndpoint,
    clientId: "client-id",
    clientAuth: "self_signed_tls_client_auth",
    clientCertificate: { cert: selfSigned.cert, key: selfSigned.key, caCerts: [serverCa] },
    storage: new MemoryTokenStorage(),
  });
  await client.getToken();
  assert.equal(await client.revoke(), "access_token");
  const revoke = server.requests.find((r) => r.path === "/revoke");
  assert.equal(revoke?.peer?.thumbprint, selfSigned.thumbprint);
  assert.equal(new URLSearchParams(revoke?.body).get("client_id"), "client-id");
  assert.equal(new URLSearchParams(revoke?.body).get("token"), "at-1");
});

Deno.test("new Client() with tls_client_auth and no clientCertificate is a TypeError", () => {
  assert.throws(
    () =>
      new Client({
        tokenEndpoint: "https://auth.example.com/token",
        clientId: "id",
        clientAuth: "tls_client_auth",
      }),
    new TypeError(
      'Cannot create the client: "clientAuth" tls_client_auth needs a "clientCertificate"',
    ),
  );
  assert.throws(
    () =>
      new Client({
        tokenEndpoint: "https://auth.example.com/token",
        clientId: "id",
        clientAuth: "self_signed_tls_client_auth",
        clientCertificate: { cert: selfSigned.cert, key: stranger.key },
      }),
    /^TypeError: Cannot create the client: "clientCertificate" is unusable: .*KeyMismatch/,
  );
});

Deno.test("Client.close() closes the connections of the client's certificate", async () => {
  await using server = await startMtlsAuthServer(fixtures, {
    method: "self_signed_tls_client_auth",
    thumbprints: [selfSigned.thumbprint],
  });
  const client = new Client({
    tokenEndpoint: server.tokenEndpoint,
    clientId: "client-id",
    clientAuth: "self_signed_tls_client_auth",
    clientCertificate: { cert: selfSigned.cert, key: selfSigned.key, caCerts: [serverCa] },
    storage: new MemoryTokenStorage(),
  });
  await client.getToken();
  await client.close();
  // The resource sanitizer fails this test if the HttpClient stays open.
});

Deno.test("Client with a clientCertificate never shows its key", () => {
  const client = new Client({
    tokenEndpoint: "https://auth.example.com/token",
    clientId: "client-id",
    clientAuth: "self_signed_tls_client_auth",
    clientCertificate: { cert: selfSigned.cert, key: selfSigned.key },
  });
  const body = selfSigned.key.split("\n")[1]!.slice(0, 20);
  assert.ok(!Deno.inspect(client, { depth: Infinity }).includes(body));
  assert.ok(!JSON.stringify(client).includes(body));
  client.close();
});

/**
 * An authorization server whose metadata names plain endpoints and their `mtls_endpoint_aliases`
 * (RFC 8705 §5): only the aliases answer, and only to the registered certificate.
 */
async function startAliasServer(): Promise<MtlsServer> {
  let base = "";
  const server = await startMtlsServer(serverTls, ({ method, path, peer }) => {
    if (method === "GET" && path === "/.well-known/oauth-authorization-server") {
      const json = {
        issuer: base,
        token_endpoint: `${base}/token`,
        revocation_endpoint: `${base}/revoke`,
        mtls_endpoint_aliases: {
          token_endpoint: `${base}/mtls/token`,
          revocation_endpoint: `${base}/mtls/revoke`,
        },
      };
      return { status: 200, json };
    }
    if (peer?.thumbprint !== selfSigned.thumbprint) {
      return { status: 401, json: { error: "invalid_client" } };
    }
    if (method === "POST" && path === "/mtls/token") {
      return {
        status: 200,
        json: { access_token: "at-mtls", token_type: "Bearer", expires_in: 3600 },
      };
    }
    if (method === "POST" && path === "/mtls/revoke") return { status: 200 };
    return { status: 400, json: { error: "invalid_request" } };
  });
  base = server.url;
  return server;
}

Deno.test("Client.revoke() with an issuer sends token and revocation requests to the mtls_endpoint_aliases", async () => {
  using trustCa = Deno.createHttpClient({ caCerts: [serverCa] });
  await using server = await startAliasServer();
  await using client = new Client({
    issuer: server.url,
    clientId: "client-id",
    clientAuth: "self_signed_tls_client_auth",
    clientCertificate: { cert: selfSigned.cert, key: selfSigned.key, caCerts: [serverCa] },
    storage: new MemoryTokenStorage(),
    // Discovery goes through the user's transport: metadata is public, no certificate needed.
    fetch: (input, init) => fetch(input, { client: trustCa, ...init }),
  });
  assert.equal((await client.getToken()).accessToken, "at-mtls");
  assert.equal(await client.revoke(), "access_token");
  assert.deepEqual(server.requests.map((r) => [r.path, r.peer?.thumbprint]), [
    ["/.well-known/oauth-authorization-server", undefined],
    ["/mtls/token", selfSigned.thumbprint],
    ["/mtls/revoke", selfSigned.thumbprint],
  ]);
  assert.equal(new URLSearchParams(server.requests[2]?.body).get("token"), "at-mtls");
});

Deno.test("TokenEndpoint.resolve() picks the mtls_endpoint_aliases token endpoint only with mtlsFetch", async () => {
  using trustCa = Deno.createHttpClient({ caCerts: [serverCa] });
  await using server = await startAliasServer();
  using mtls = createMtlsFetch(selfSigned.cert, selfSigned.key, { caCerts: [serverCa] });
  const options = {
    issuer: server.url,
    clientId: "client-id",
    fetch: (input: RequestInfo | URL, init?: RequestInit) =>
      fetch(input, { client: trustCa, ...init }),
    now: Date.now,
    timeout: 30_000,
  };
  const plain = new TokenEndpoint(options);
  const presenting = new TokenEndpoint({ ...options, mtlsFetch: mtls.fetch });
  assert.equal((await plain.resolve()).href, `${server.url}/token`);
  assert.equal((await presenting.resolve()).href, `${server.url}/mtls/token`);
});

Deno.test("Client.getToken() with another certificate does not take the token of a shared storage", async () => {
  await using server = await startMtlsAuthServer(fixtures, {
    method: "self_signed_tls_client_auth",
    thumbprints: [selfSigned.thumbprint, stranger.thumbprint],
  });
  const storage = new MemoryTokenStorage();
  const clientWith = (certified: typeof selfSigned) =>
    new Client({
      tokenEndpoint: server.tokenEndpoint,
      clientId: "client-id",
      clientAuth: "self_signed_tls_client_auth",
      clientCertificate: { cert: certified.cert, key: certified.key, caCerts: [serverCa] },
      storage,
    });
  await using first = clientWith(selfSigned);
  await using second = clientWith(stranger);
  await using again = clientWith(selfSigned);
  assert.equal((await first.getToken()).accessToken, "at-1");
  // A token bound to one certificate is refused with another (RFC 8705 §3).
  assert.equal((await second.getToken()).accessToken, "at-2");
  assert.equal((await again.getToken()).accessToken, "at-1");
  assert.deepEqual(server.requests.map((r) => r.peer?.thumbprint), [
    selfSigned.thumbprint,
    stranger.thumbprint,
  ]);
});

Deno.test("Client.fetch() with boundAccessTokens and a secret presents the certificate everywhere", async () => {
  await using server = await startMtlsAuthServer(fixtures, {
    method: "self_signed_tls_client_auth",
    thumbprints: [selfSigned.thumbprint],
  });
  await using client = new Client({
    tokenEndpoint: server.tokenEndpoint,
    clientId: "client-id",
    clientSecret: "secret",
    clientAuth: "client_secret_post",
    clientCertificate: {
      cert: selfSigned.cert,
      key: selfSigned.key,
      caCerts: [serverCa],
      boundAccessTokens: true,
    },
    storage: new MemoryTokenStorage(),
  });
  const { status } = await fetchText(client.fetch, server.resourceUrl);
  assert.equal(status, 200);
  assert.deepEqual(server.requests.map((r) => [r.path, r.peer?.thumbprint]), [
    ["/token", selfSigned.thumbprint],
    ["/resource", selfSigned.thumbprint],
  ]);
  assert.equal(new URLSearchParams(server.requests[0]?.body).get("client_secret"), "secret");
});
