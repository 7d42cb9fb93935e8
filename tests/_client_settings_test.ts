// The options of new Client(): a bad option fails when the client is created;
// the defaults are filled in one place.

import assert from "node:assert/strict";
import { fc } from "./_dev_deps.ts";
import { Client, type ClientOptions, MemoryTokenStorage, TokenError } from "../mod.ts";
import { parseClientOptions } from "../src/_client_settings.ts";
import { CLIENT_OPTION_NAMES } from "../src/client_options.ts";
import { startAuthServer } from "../testing.ts";
import { anyString, RUNS } from "./_arbitraries.ts";
import { base64urlDecode, keyPair, pem, pkcs8Pem } from "./_jws.ts";

const SECRET = "S3cret-never-shown";

for (
  const [name, overrides, type, message] of [
    ["a missing options object", undefined, TypeError, /options must be an object/],
    ["a malformed tokenEndpoint", { tokenEndpoint: "not a url" }, TypeError, /not a valid URL/],
    ["a tokenEndpoint of the wrong type", { tokenEndpoint: 42 }, TypeError, /not a valid URL/],
    [
      "plain http on a remote host",
      { tokenEndpoint: "http://auth.example.com/t" },
      TypeError,
      /must use https/,
    ],
    ["another scheme", { tokenEndpoint: "ftp://auth.example.com/t" }, TypeError, /got ftp:/],
    ["an empty clientId", { clientId: "" }, TypeError, /"clientId" must be a non-empty string/],
    ["a non-string secret", { clientSecret: 5 }, TypeError, /"clientSecret" must be a string/],
    ["an unknown clientAuth", { clientAuth: "tls" }, TypeError, /"clientAuth" must be one of/],
    [
      "basic auth without a secret",
      { clientSecret: "", clientAuth: "client_secret_basic" },
      TypeError,
      /needs a "clientSecret"/,
    ],
    ["a scope of numbers", { scope: [1] }, TypeError, /"scope" must be a string or a list/],
    [
      "a reserved token parameter",
      { tokenParams: { grant_type: "password" } },
      TypeError,
      /cannot set "grant_type"/,
    ],
    [
      "a reserved refresh_token parameter",
      { tokenParams: { refresh_token: "x" } },
      TypeError,
      /cannot set "refresh_token"/,
    ],
    [
      "a reserved redirect_uri parameter",
      { tokenParams: { redirect_uri: "x" } },
      TypeError,
      /cannot set "redirect_uri"/,
    ],
    [
      "credentials in the token endpoint",
      { tokenEndpoint: "https://user:pw@auth.example.com/t" },
      TypeError,
      /must not carry credentials/,
    ],
    [
      "a token parameter of the wrong type",
      { tokenParams: { audience: 1 } },
      TypeError,
      /"tokenParams.audience"/,
    ],
    [
      "tokenParams that are not an object",
      { tokenParams: "a=b" },
      TypeError,
      /"tokenParams" must be an object/,
    ],
    ["a negative renewalMargin", { renewalMargin: -1 }, RangeError, /"renewalMargin" must be/],
    ["a zero tokenTimeout", { tokenTimeout: 0 }, RangeError, /"tokenTimeout" must be/],
    ["an infinite tokenTimeout", { tokenTimeout: Infinity }, RangeError, /"tokenTimeout" must be/],
    // A timer cannot hold more than 2 ** 31 - 1 ms: a longer bound would fire at once.
    ...([
      ["2 ** 31", 2 ** 31],
      ["30 days", 30 * 24 * 3600 * 1000],
      ["Number.MAX_SAFE_INTEGER", Number.MAX_SAFE_INTEGER],
    ] as const).map(([name, tokenTimeout]) =>
      [
        `a tokenTimeout of ${name} ms`,
        { tokenTimeout },
        RangeError,
        /^Cannot create the client: "tokenTimeout" must be a finite number of milliseconds >= 1 and <= 2147483647 \(about 24\.8 days, the longest a timer can wait\)$/,
      ] as const
    ),
    [
      "an infinite renewalMargin",
      { renewalMargin: Infinity },
      RangeError,
      /"renewalMargin" must be/,
    ],
    [
      "an allowHttp that is not a boolean",
      { allowHttp: "false" },
      TypeError,
      /"allowHttp" must be/,
    ],
    [
      "a misspelled clientSecret",
      { clientSecert: "secret" },
      TypeError,
      /^Cannot create the client: unknown option "clientSecert"; did you mean "clientSecret"\?$/,
    ],
    [
      "a misspelled scope",
      { scopes: ["read"] },
      TypeError,
      /^Cannot create the client: unknown option "scopes"; did you mean "scope"\?$/,
    ],
    [
      "a misspelled option in another case",
      { tokenendpoint: "https://auth.example.com/token" },
      TypeError,
      /unknown option "tokenendpoint"; did you mean "tokenEndpoint"\?$/,
    ],
    [
      "an unknown option with no near name",
      { audience: "https://api.example.com" },
      TypeError,
      /^Cannot create the client: unknown option "audience"$/,
    ],
    [
      "an unknown option even when undefined",
      { clientSecert: undefined },
      TypeError,
      /unknown option "clientSecert"/,
    ],
    ["an unknown tokenErrors", { tokenErrors: "log" }, TypeError, /"tokenErrors" must be/],
    ["a negative maxReplayBytes", { maxReplayBytes: -1 }, RangeError, /"maxReplayBytes" must be/],
    ["a NaN maxReplayBytes", { maxReplayBytes: NaN }, RangeError, /"maxReplayBytes" must be/],
    ["a fetch that is not a function", { fetch: "fetch" }, TypeError, /"fetch" must be a function/],
    ["a clock that is not a function", { now: 5 }, TypeError, /"now" must be a function/],
    ["a storage without get()", { storage: {} }, TypeError, /"storage" has no get\(\)/],
    ["a grant without obtain()", { grant: { name: "x" } }, TypeError, /"grant" must have/],
    [
      "neither tokenEndpoint nor issuer",
      { tokenEndpoint: undefined },
      TypeError,
      /^Cannot create the client: give "tokenEndpoint", "issuer" or "protectedResource"$/,
    ],
    [
      "an issuer with a query",
      { issuer: "https://auth.example.com/?tenant=a" },
      TypeError,
      /"issuer" must have no query or fragment/,
    ],
    ["a plain-http issuer", { issuer: "http://auth.example.com" }, TypeError, /"issuer" must use/],
    [
      "private_key_jwt without a key",
      { clientAuth: "private_key_jwt" },
      TypeError,
      /"clientAuth" private_key_jwt needs a "clientKey"/,
    ],
    [
      "client_secret_jwt without a secret",
      { clientAuth: "client_secret_jwt" },
      TypeError,
      /"clientAuth" client_secret_jwt needs a "clientSecret"/,
    ],
    [
      "a clientKey that is a certificate",
      { clientKey: "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n" },
      TypeError,
      /^Cannot create the client: "clientKey" holds a CERTIFICATE, not a private key$/,
    ],
    [
      "a clientKey that is no PEM",
      { clientKey: "not a key" },
      TypeError,
      /"clientKey" is not a PEM-encoded private key/,
    ],
    [
      "a public JWK as clientKey",
      {
        clientKey: { kty: "OKP", crv: "Ed25519", x: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo" },
      },
      TypeError,
      /"clientKey" is a public JWK, not a private key/,
    ],
    [
      "a clientKey with a secret method",
      { clientKey: "x", clientAuth: "client_secret_post", clientSecret: "s" },
      TypeError,
      /"clientKey" signs private_key_jwt assertions; "clientAuth" is client_secret_post/,
    ],
    [
      "a clientKey with a clientSecret",
      { clientKey: "x", clientSecret: "s" },
      TypeError,
      /"clientSecret" is not used with a "clientKey"/,
    ],
    [
      "a clientKeyId without a key",
      { clientKeyId: "k1" },
      TypeError,
      /"clientKeyId" names a "clientKey"; there is none/,
    ],
    [
      "an unknown clientAssertionAudience",
      { clientAssertionAudience: "resource" },
      TypeError,
      /"clientAssertionAudience" must be one of issuer, token_endpoint, endpoint/,
    ],
    ...[
      "assertion",
      "client_assertion",
      "client_assertion_type",
      "subject_token",
      "subject_token_type",
      "actor_token",
      "actor_token_type",
      "requested_token_type",
    ].map((name) =>
      [
        `a reserved ${name} parameter`,
        { tokenParams: { [name]: "x" } },
        TypeError,
        new RegExp(`"tokenParams" cannot set "${name}"`),
      ] as const
    ),
  ] as const
) {
  Deno.test(`new Client() rejects ${name}`, () => {
    const base = { tokenEndpoint: "https://auth.example.com/token", clientId: "id" };
    const options = overrides === undefined ? undefined : { ...base, ...overrides };
    // deno-lint-ignore no-explicit-any
    assert.throws(() => new Client(options as any), (error) => {
      assert.ok(error instanceof type, `expected ${type.name}, got ${error}`);
      assert.match((error as Error).message, message);
      assert.match((error as Error).message, /^Cannot create the client: /);
      return true;
    });
  });
}

Deno.test("new Client() accepts loopback http and http with allowHttp", async () => {
  for (const tokenEndpoint of ["http://127.0.0.1:1/t", "http://localhost/t", "http://[::1]/t"]) {
    await new Client({ tokenEndpoint, clientId: "id" }).close();
  }
  await new Client({ tokenEndpoint: "http://auth.internal/t", clientId: "id", allowHttp: true })
    .close();
});

// What SECURITY.md promises: plain http is refused outside loopback hosts, however spelled.
for (
  const endpoint of [
    "http://127.0.0.1.evil.example/token",
    "http://localhost.evil.example/token",
    "http://evil.example/127.0.0.1/token",
    "http://evil.example:80@127.0.0.2.nip.example/token",
    "http://0.0.0.0/token",
    "http://[::ffff:7f00:1]/token",
    "http://localhost./token",
    "ws://127.0.0.1/token",
  ]
) {
  Deno.test(`new Client() refuses the token endpoint ${endpoint}`, () => {
    assert.throws(
      () => new Client({ tokenEndpoint: endpoint, clientId: "id", clientSecret: SECRET }),
      (error) => {
        assert.ok(error instanceof TypeError);
        assert.match(error.message, /must use https:|must not carry credentials/);
        assert.ok(!error.message.includes(SECRET));
        return true;
      },
    );
  });
}

Deno.test("new Client() accepts loopback spellings that the URL parser normalizes", async () => {
  for (
    const endpoint of ["http://127.1/token", "http://LOCALHOST:8080/token", "http://127.0.0.9/t"]
  ) {
    await new Client({ tokenEndpoint: endpoint, clientId: "id" }).close();
  }
});

Deno.test("parseClientOptions() fills in the defaults", () => {
  let asked = 0;
  const settings = parseClientOptions(
    { tokenEndpoint: "https://auth.example.com/token", clientId: "id", clientSecret: "secret" },
    () => (asked++, undefined),
  );
  assert.equal(asked, 1);
  assert.equal(settings.shared.url, "https://auth.example.com/token");
  assert.equal(settings.shared.clientAuth, "client_secret_basic");
  assert.equal(settings.shared.timeout, 30_000);
  assert.equal(settings.shared.now, Date.now);
  assert.equal(settings.shared.grant.name, "client_credentials");
  assert.ok(settings.shared.storage instanceof MemoryTokenStorage);
  assert.equal(settings.shared.params.size, 0);
  assert.equal(settings.shared.scope, undefined);
  assert.equal(settings.shared.renewalMargin, 60_000);
  assert.equal(settings.shared.maxReplayBytes, undefined); // no limit
  assert.equal(settings.shared.tokenErrors, "return");
  const none = parseClientOptions(
    { tokenEndpoint: "https://auth.example.com/token", clientId: "id" },
    () => undefined,
  );
  assert.equal(none.shared.clientAuth, "none");
});

Deno.test("parseClientOptions() sends the scope space-joined, after the token parameters", () => {
  const settings = parseClientOptions({
    tokenEndpoint: "https://auth.example.com/token",
    clientId: "id",
    scope: [" read", "write  admin "],
    tokenParams: { audience: "a", resource: ["r1", "r2"] },
  }, () => undefined);
  assert.equal(settings.shared.scope, "read write admin");
  assert.deepEqual([...settings.shared.params], [
    ["audience", "a"],
    ["resource", "r1"],
    ["resource", "r2"],
    ["scope", "read write admin"],
  ]);
});

Deno.test("parseClientOptions() uses the installed flow only for a client without a grant", () => {
  const flow = {
    grant: { name: "browser", obtain: () => Promise.reject(new Error("not called")) },
    storage: new MemoryTokenStorage(),
  };
  const base = { tokenEndpoint: "https://auth.example.com/token", clientId: "id" };
  const defaulted = parseClientOptions(base, () => flow);
  assert.equal(defaulted.shared.grant, flow.grant);
  assert.equal(defaulted.shared.storage, flow.storage);
  const own = new MemoryTokenStorage();
  assert.equal(parseClientOptions({ ...base, storage: own }, () => flow).shared.storage, own);
  let asked = 0;
  const grant = { name: "mine", obtain: () => Promise.reject(new Error("not called")) };
  const withGrant = parseClientOptions({ ...base, grant }, () => (asked++, flow));
  assert.equal(asked, 0);
  assert.equal(withGrant.shared.grant, grant);
  assert.notEqual(withGrant.shared.storage, flow.storage);
});

const reserved = fc.constantFrom("grant_type", "client_id", "client_secret", "scope");
const stringOrList = fc.oneof(anyString, fc.array(anyString, { maxLength: 3 }));

/**
 * Decodes one form-encoded half of a Basic credential
 * ([RFC 6749 §2.3.1](https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1)).
 */
const formDecode = (value: string) => new URLSearchParams(`v=${value}`).get("v");

Deno.test("new Client() and its token request carry any scope, parameters, id and secret intact", async () => {
  await using server = await startAuthServer();
  await fc.assert(
    fc.asyncProperty(
      fc.option(stringOrList, { nil: undefined }),
      fc.option(
        fc.dictionary(fc.oneof({ weight: 9, arbitrary: anyString }, reserved), stringOrList, {
          maxKeys: 3,
        }),
        {
          nil: undefined,
        },
      ),
      anyString,
      fc.option(anyString, { nil: undefined }),
      fc.constantFrom("client_secret_basic", "client_secret_post", "none", undefined),
      async (scope, tokenParams, clientId, clientSecret, clientAuth) => {
        let client: Client;
        try {
          client = new Client({
            tokenEndpoint: server.tokenEndpoint,
            clientId,
            clientSecret,
            clientAuth,
            scope,
            tokenParams,
          });
        } catch (error) {
          // Only argument errors, and only for arguments that are wrong.
          assert.ok(error instanceof TypeError, String(error));
          const reservedUsed = Object.keys(tokenParams ?? {}).some((name) =>
            ["grant_type", "client_id", "client_secret", "scope"].includes(name)
          );
          const needsSecret = (clientAuth ?? "none") !== "none" && !clientSecret;
          assert.ok(clientId === "" || reservedUsed || needsSecret, String(error));
          return;
        }
        await using _ = client;
        const before = server.tokenRequests.length;
        await client.getToken();
        const recorded = server.tokenRequests[before];
        assert.ok(recorded, "no token request");
        const { form, headers } = recorded;
        assert.deepEqual(form.getAll("grant_type"), ["client_credentials"]);
        const words = [scope ?? []].flat().join(" ").split(/\s+/).filter(Boolean);
        assert.deepEqual(form.get("scope")?.split(" ") ?? [], words);
        for (const [name, value] of Object.entries(tokenParams ?? {})) {
          assert.deepEqual(form.getAll(name), [value].flat(), name);
        }
        const method = clientAuth ?? (clientSecret ? "client_secret_basic" : "none");
        const basic = /^Basic (.+)$/.exec(headers.get("authorization") ?? "");
        if (method === "client_secret_basic") {
          const credential = basic?.[1];
          assert.ok(credential !== undefined, "no Basic credential");
          const pair = new TextDecoder().decode(
            Uint8Array.from(atob(credential), (c) => c.charCodeAt(0)),
          );
          const colon = pair.indexOf(":");
          assert.equal(formDecode(pair.slice(0, colon)), clientId);
          assert.equal(formDecode(pair.slice(colon + 1)), clientSecret);
          assert.equal(form.get("client_secret"), null);
        } else {
          assert.equal(basic, null);
          assert.deepEqual(form.getAll("client_id"), [clientId]);
          assert.deepEqual(
            form.getAll("client_secret"),
            method === "client_secret_post" ? [clientSecret] : [],
          );
        }
      },
    ),
    { numRuns: RUNS },
  );
});

Deno.test("parseClientOptions() accepts a tokenTimeout up to 2 ** 31 - 1 ms and any finite renewalMargin", () => {
  const base = { tokenEndpoint: "https://auth.example.com/token", clientId: "id" };
  const settings = parseClientOptions(
    { ...base, tokenTimeout: 2 ** 31 - 1, renewalMargin: Number.MAX_SAFE_INTEGER },
    () => undefined,
  );
  assert.equal(settings.shared.timeout, 2 ** 31 - 1);
  assert.equal(settings.shared.renewalMargin, Number.MAX_SAFE_INTEGER);
  assert.equal(parseClientOptions(base, () => undefined).shared.allowHttp, false);
  assert.equal(
    parseClientOptions({ ...base, allowHttp: true }, () => undefined).shared.allowHttp,
    true,
  );
});

Deno.test("parseClientOptions() knows every option of ClientOptions and no other", async () => {
  // Every option, with a valid value: the type makes this list complete.
  const grant = { name: "mine", obtain: () => Promise.reject(new Error("not called")) };
  const { privateKey } = await crypto.subtle.generateKey("Ed25519", false, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  const every: Required<ClientOptions> = {
    tokenEndpoint: "https://auth.example.com/token",
    issuer: "https://auth.example.com",
    revocationEndpoint: "https://auth.example.com/revoke",
    clientId: "id",
    clientSecret: "",
    scope: "read",
    tokenParams: { audience: "api" },
    clientAuth: "private_key_jwt",
    clientKey: privateKey,
    clientKeyId: "key-1",
    clientAssertionAudience: "token_endpoint",
    clientCertificate: {
      cert: pem("CERTIFICATE", crypto.getRandomValues(new Uint8Array(64))),
      key: await pkcs8Pem((await keyPair("EdDSA")).privateKey),
    },
    storage: new MemoryTokenStorage(),
    grant,
    fetch: (input, init) => fetch(input, init),
    now: Date.now,
    renewalMargin: 1000,
    tokenTimeout: 1000,
    tokenErrors: "throw",
    allowHttp: true,
    maxReplayBytes: 1024,
    dpop: { algorithm: "EdDSA" },
    protectedResource: "https://api.example.com/mcp",
    clientName: "Tests",
    onEvent: () => {},
    debug: false,
  };
  assert.deepEqual(Object.keys(CLIENT_OPTION_NAMES).sort(), Object.keys(every).sort());
  // A protected resource's client has no token endpoint and names its registration.
  const { protectedResource, clientName, ...withTokenEndpoint } = every;
  await new Client(withTokenEndpoint).close();
  const { tokenEndpoint: _, clientId: __, ...rest } = withTokenEndpoint;
  await new Client({
    ...rest,
    clientSecret: undefined,
    clientAuth: undefined,
    clientKey: undefined,
    clientKeyId: undefined,
    clientCertificate: undefined,
    protectedResource,
    clientName,
  }).close();
  // The same at the type level: no name missing, none the interface lacks.
  const complete: Record<keyof ClientOptions, true> = CLIENT_OPTION_NAMES;
  type Extra = Exclude<keyof typeof CLIENT_OPTION_NAMES, keyof ClientOptions>;
  const noExtra: [Extra] extends [never] ? true : false = true;
  assert.ok(complete && noExtra);
});

Deno.test("new Client() honours the longest tokenTimeout a timer can hold, with a grant's own timeout", async () => {
  // The grant's bound adds two token timeouts to its own: past what a timer
  // holds, it must wait the longest it can rather than fire at once.
  const grant = {
    name: "slow",
    timeout: 60_000,
    obtain: async () => {
      await new Promise((resolve) => setTimeout(resolve, 50));
      return { token: { accessToken: "slow-token", tokenType: "Bearer", issuedAt: Date.now() } };
    },
  };
  await using client = new Client({
    tokenEndpoint: "https://auth.example.com/token",
    clientId: "id",
    grant,
    tokenTimeout: 2 ** 31 - 1,
  });
  assert.equal((await client.getToken()).accessToken, "slow-token");
});

Deno.test("parseClientOptions() leaves a secret's method to the metadata only when the token endpoint is discovered", async () => {
  const issuer = "https://auth.example.com";
  const tokenEndpoint = "https://auth.example.com/token";
  const method = (options: Partial<ClientOptions>) =>
    parseClientOptions({ clientId: "id", ...options }, () => undefined).shared.clientAuth;
  assert.equal(method({ issuer, clientSecret: "s" }), undefined);
  assert.equal(method({ issuer, tokenEndpoint, clientSecret: "s" }), "client_secret_basic");
  assert.equal(
    method({ issuer, clientSecret: "s", clientAuth: "client_secret_post" }),
    "client_secret_post",
  );
  assert.equal(method({ issuer }), "none");
  const { privateKey } = await keyPair("EdDSA");
  assert.equal(method({ issuer, clientKey: privateKey }), "private_key_jwt");
  const settings = parseClientOptions(
    { issuer, clientId: "id", clientKey: privateKey, clientAssertionAudience: "endpoint" },
    () => undefined,
  );
  assert.equal(settings.shared.url, undefined);
  assert.equal(settings.shared.issuer, issuer);
  assert.equal(settings.shared.clientAssertion?.method, "private_key_jwt");
  assert.equal(settings.shared.clientAssertion?.audience, "endpoint");
});

Deno.test("new Client() keeps the tokens of two client keys apart in one storage, and shares one key's", async () => {
  const first = await keyPair("ES256");
  const second = await keyPair("ES256");
  await using server = await startAuthServer({
    clientId: "svc",
    clientKeys: [first.publicKey, second.publicKey],
  });
  const storage = new MemoryTokenStorage();
  const tokenOf = async (clientKey: ClientOptions["clientKey"]) => {
    await using client = new Client({ issuer: server.issuer, clientId: "svc", clientKey, storage });
    return (await client.getToken()).accessToken;
  };
  const firstPem = await pkcs8Pem(first.privateKey);
  const token = await tokenOf(firstPem);
  assert.notEqual(await tokenOf(await pkcs8Pem(second.privateKey)), token);
  assert.equal(await tokenOf(firstPem), token);
  // A JWK is told apart by its public members: the private one reads as the same key.
  const jwk = await crypto.subtle.exportKey("jwk", second.privateKey);
  const jwkToken = await tokenOf(jwk);
  assert.equal(await tokenOf({ ...jwk, kid: "renamed" }), jwkToken);
  // A CryptoKey by its identity in this process.
  const keyToken = await tokenOf(first.privateKey);
  assert.notEqual(keyToken, token);
  assert.equal(await tokenOf(first.privateKey), keyToken);
  assert.equal(server.tokenRequests.length, 4);
});

Deno.test("new Client() never shows its clientKey in inspect, JSON or errors", async () => {
  const registered = await keyPair("RS256");
  const other = await keyPair("RS256");
  await using server = await startAuthServer({
    clientId: "svc",
    clientKeys: [registered.publicKey],
  });
  const pem = await pkcs8Pem(other.privateKey);
  const jwk = await crypto.subtle.exportKey("jwk", other.privateKey);
  const secrets = [
    pem.split("\n")[3]!, // a line of the key's base64
    jwk.d!,
    jwk.p!,
  ];
  for (const clientKey of [pem, jwk]) {
    await using client = new Client({
      issuer: server.issuer,
      clientId: "svc",
      clientKey,
      tokenErrors: "throw",
    });
    const error = await client.getToken().catch((error) => error);
    assert.ok(error instanceof TokenError && error.error === "invalid_client");
    const shown = [
      Deno.inspect(client, { depth: Infinity, showHidden: true, getters: true }),
      JSON.stringify(client),
      String(client),
      Deno.inspect(error, { depth: Infinity }),
      error.body ?? "",
    ].join("\n");
    for (const secret of secrets) assert.equal(shown.includes(secret), false);
    assert.match(
      Deno.inspect(client),
      /issuer: "http:\/\/127\.0\.0\.1:\d+".*clientAuth: "private_key_jwt"/s,
    );
  }
  // Nor does a key that cannot be used, in the construction error.
  const publicPem = (await pkcs8Pem(other.privateKey)).replaceAll("PRIVATE KEY", "PUBLIC KEY");
  assert.throws(
    () => new Client({ issuer: server.issuer, clientId: "svc", clientKey: publicPem }),
    (
      error,
    ) => {
      assert.ok(error instanceof TypeError);
      assert.equal(
        error.message,
        'Cannot create the client: "clientKey" holds a PUBLIC KEY, not a private key',
      );
      return true;
    },
  );
});

Deno.test("new Client() signs with clientCertificate's key and sends its thumbprint (x5t#S256) with private_key_jwt", async () => {
  const { publicKey, privateKey } = await keyPair("RS256");
  await using server = await startAuthServer({ clientId: "daemon", clientKeys: [publicKey] });
  const der = crypto.getRandomValues(new Uint8Array(300)); // only hashed, never parsed
  await using client = new Client({
    issuer: server.issuer,
    clientId: "daemon",
    clientAuth: "private_key_jwt",
    clientCertificate: { cert: pem("CERTIFICATE", der), key: await pkcs8Pem(privateKey) },
    clientAssertionAudience: "token_endpoint",
  });
  await client.getToken();
  const header = server.tokenRequests[0]?.clientAssertion?.header ?? {};
  const sha256 = new Uint8Array(await crypto.subtle.digest("SHA-256", der));
  assert.deepEqual(base64urlDecode(String(header["x5t#S256"])), sha256);
  assert.equal(header.alg, "RS256");
  assert.equal(server.tokenRequests[0]?.clientAssertion?.claims.aud, server.tokenEndpoint);
});

Deno.test("new Client() refuses a clientCertificate that nothing would use", async () => {
  const clientCertificate = {
    cert: pem("CERTIFICATE", crypto.getRandomValues(new Uint8Array(64))),
    key: await pkcs8Pem((await keyPair("ES256")).privateKey),
  };
  const base = { tokenEndpoint: "https://auth.example.com/token", clientId: "id" };
  const message =
    'Cannot create the client: "clientCertificate" needs "clientAuth" tls_client_auth, ' +
    'self_signed_tls_client_auth or private_key_jwt, or "clientCertificate.boundAccessTokens"';
  // Neither presented in TLS nor a signing key: a public client, a secret, a method left to discovery.
  for (
    const options of [
      { ...base, clientCertificate },
      { ...base, clientCertificate, clientAuth: "none" as const },
      {
        ...base,
        clientCertificate,
        clientSecret: SECRET,
        clientAuth: "client_secret_basic" as const,
      },
      {
        issuer: "https://auth.example.com",
        clientId: "id",
        clientSecret: SECRET,
        clientCertificate,
      },
    ]
  ) {
    assert.throws(() => parseClientOptions(options, () => undefined), new TypeError(message));
  }
  // Presented with boundAccessTokens, whatever the method; a thumbprint with private_key_jwt.
  const bound = parseClientOptions(
    {
      ...base,
      clientSecret: SECRET,
      clientCertificate: { ...clientCertificate, boundAccessTokens: true },
    },
    () => undefined,
  );
  assert.equal(bound.presentsCertificate, true);
  const signed = parseClientOptions(
    { ...base, clientCertificate, clientAuth: "private_key_jwt" },
    () => undefined,
  );
  assert.equal(signed.presentsCertificate, false);
  assert.equal(signed.shared.clientAuth, "private_key_jwt");
  const tls = parseClientOptions(
    { ...base, clientCertificate, clientAuth: "tls_client_auth" },
    () => undefined,
  );
  assert.equal(tls.presentsCertificate, true);
  assert.equal(tls.shared.clientSecret, undefined);
});
