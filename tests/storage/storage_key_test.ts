import assert from "node:assert/strict";
import { fc } from "../_dev_deps.ts";
import { Client, ClientCredentialsGrant, MemoryTokenStorage } from "../../mod.ts";
import type { Grant } from "../../src/grant.ts";
import {
  credentialFingerprint,
  loginKey,
  storageKey,
  storageKeys,
  type TokenKeyParts,
} from "../../src/storage/storage_key.ts";
import { sha256Hex } from "../../src/_sha256.ts";
import { startAuthServer } from "../../testing.ts";
import { RUNS } from "../_arbitraries.ts";
import { clientFor, fetchText, ManualClock, serve } from "../_helpers.ts";

const parts = (overrides: Partial<TokenKeyParts> = {}): TokenKeyParts => ({
  url: new URL("https://auth.example.com/token"),
  clientId: "client-id",
  grant: new ClientCredentialsGrant(),
  params: new URLSearchParams([["scope", "read"], ["audience", "a"]]),
  ...overrides,
});

/** A grant named like the default one, acting for `who`. */
const actingFor = (who: string | undefined): Grant => ({
  name: "client_credentials",
  identity: () => who,
  obtain: () => Promise.reject(new Error("not called")),
});

Deno.test("storageKey() is a hash: alf1: and 64 hex digits, nothing in clear", async () => {
  assert.match(await storageKey(parts()), /^alf1:[0-9a-f]{64}$/);
});

Deno.test("storageKey() and loginKey() name a URL and its href alike", async () => {
  const { href } = new URL("https://auth.example.com/token");
  assert.equal(await storageKey(parts({ url: href })), await storageKey(parts()));
  assert.equal(await loginKey(parts({ url: href })), await loginKey(parts()));
});

Deno.test("storageKey() does not depend on the order of the parameters", async () => {
  const reordered = new URLSearchParams([["audience", "a"], ["scope", "read"]]);
  assert.equal(await storageKey(parts({ params: reordered })), await storageKey(parts()));
});

Deno.test("storageKey() changes with the endpoint, client, grant, identity and parameters", async () => {
  const keys = await Promise.all([
    parts(),
    parts({ url: new URL("https://auth.example.com/other") }),
    parts({ clientId: "other-client" }),
    parts({ grant: { ...actingFor(undefined), name: "refresh_token" } }),
    parts({ grant: actingFor("alice") }),
    parts({ grant: actingFor("bob") }),
    parts({ params: new URLSearchParams([["scope", "read"], ["audience", "b"]]) }),
    parts({
      params: new URLSearchParams([["scope", "read"], ["audience", "a"], ["audience", "b"]]),
    }),
  ].map(storageKey));
  assert.equal(new Set(keys).size, keys.length);
  // A grant without an identity, or whose identity is undefined, is named by its name alone.
  assert.equal(await storageKey(parts({ grant: actingFor(undefined) })), keys[0]);
});

Deno.test("storageKey() fingerprints the credential: another secret, another key, the secret nowhere", async () => {
  const right = await storageKeys(parts({ credential: "right-secret" }));
  const wrong = await storageKeys(parts({ credential: "wrong-secret" }));
  const none = await storageKeys(parts());
  assert.equal(new Set([right.access, wrong.access, none.access]).size, 3);
  assert.equal(new Set([right.login, wrong.login, none.login]).size, 3);
  for (const key of [right.access, right.login]) assert.doesNotMatch(key, /right-secret/);
  // The fingerprint is domain-separated: not the plain SHA-256 of the secret.
  assert.notEqual(await credentialFingerprint("right-secret"), await sha256Hex("right-secret"));
  // A public client's key is what it always was: its stored records (a CLI login) stay found.
  const { url, clientId, params } = parts();
  const sorted = [...params].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0);
  const material = JSON.stringify([
    "alf/1",
    String(url),
    clientId,
    "client_credentials",
    null,
    sorted,
  ]);
  assert.equal(none.access, `alf1:${await sha256Hex(material)}`);
});

Deno.test("storageKeys() names one login record for every set of parameters", async () => {
  const read = await storageKeys(parts());
  const write = await storageKeys(parts({ params: new URLSearchParams([["scope", "write"]]) }));
  assert.notEqual(read.access, write.access);
  assert.equal(read.login, write.login);
  assert.notEqual(read.login, read.access);
  assert.match(read.login, /^alf1:[0-9a-f]{64}$/);
  const alice = await storageKeys(parts({ grant: actingFor("alice") }));
  const bob = await storageKeys(parts({ grant: actingFor("bob") }));
  assert.notEqual(alice.login, bob.login);
});

Deno.test("loginKey() is the login key of storageKeys(), as earlier versions computed it", async () => {
  // Computed once by the version that held both keys per client: stored records stay found.
  const bound = parts({
    credential: "secret",
    boundTo: () => Promise.resolve("thumbprint"),
    grant: actingFor("alice"),
  });
  const login = "alf1:5f3864a4074353e8f35b83362d8acc93d6ac04118bb34d66ca57a28ba992a6ee";
  assert.equal(await loginKey(bound), login);
  assert.deepEqual(await storageKeys(bound), {
    access: "alf1:98121289729400eebb3b80502f8306303996f7489d491981e928aee9f2fe00e7",
    login,
  });
  assert.equal(await loginKey(parts({ params: new URLSearchParams() })), await loginKey(parts()));
});

Deno.test("Client with a wrong secret is not handed the token of the right one from a shared storage", async () => {
  await using server = await startAuthServer({ clientId: "client-id", clientSecret: "right" });
  const storage = new MemoryTokenStorage();
  await using good = clientFor(server, { storage, clientSecret: "right" });
  assert.equal((await fetchText(good.fetch, server.resourceUrl)).status, 200);
  await using bad = clientFor(server, { storage, clientSecret: "wrong" });
  const { status, text } = await fetchText(bad.fetch, server.resourceUrl);
  assert.equal(status, 401); // the token endpoint's answer
  assert.equal(JSON.parse(text).error, "invalid_client");
  assert.equal(server.resourceRequests.length, 1);
  assert.equal(server.tokenRequests.length, 2);
});

Deno.test("Client keys tokens by endpoint, client id, scope and parameters", async () => {
  await using server = await startAuthServer();
  const storage = new MemoryTokenStorage();
  const variants = [
    {},
    {}, // same as the first: shares its token
    { clientId: "other-client" },
    { scope: "read" },
    { scope: ["read"] }, // same scope as the previous one
    { scope: "write" },
    { tokenParams: { audience: "a" } },
    { tokenParams: { audience: "b" } },
  ];
  for (const options of variants) {
    await using client = clientFor(server, { storage, ...options });
    await fetchText(client.fetch, server.resourceUrl);
  }
  assert.equal(server.tokenRequests.length, 6);
  assert.equal(storage.size, 6);
});

// A security property: clients that share a storage never send each other's tokens.
interface Config {
  clientId: string;
  scope?: string;
  tokenParams?: Record<string, string>;
}

const CONFIGS: Config[] = [
  { clientId: "a" },
  { clientId: "b" },
  { clientId: "a", scope: "read" },
  { clientId: "a", scope: "read write" },
  { clientId: "a", tokenParams: { audience: "x" } },
  { clientId: "b", scope: "read", tokenParams: { audience: "y" } },
];

type ShareAction =
  | { type: "fetch"; client: number; count: number }
  | { type: "revoke" }
  | { type: "advance"; ms: number };

Deno.test("Client.fetch() never sends another client's token through a shared storage", async () => {
  const clock = new ManualClock();
  const issued: string[] = [];
  const revoked = new Set<string>();
  await using endpoint = serve(async (request) => {
    const form = new URLSearchParams(await request.text());
    const owner = [form.get("client_id"), form.get("scope"), form.get("audience")];
    const token = `t${issued.length}.${encodeURIComponent(JSON.stringify(owner))}`;
    issued.push(token);
    return Response.json({ access_token: token, expires_in: 30 });
  });
  const foreign: string[] = [];
  await using resource = serve((request) => {
    const token = (request.headers.get("authorization") ?? "").replace(/^Bearer /, "");
    if (revoked.has(token)) return new Response(null, { status: 401 });
    const config = CONFIGS[Number(new URL(request.url).pathname.slice(1))];
    if (config === undefined) {
      foreign.push(`${token} for no client: ${request.url}`);
      return new Response(null, { status: 404 });
    }
    const expected = [config.clientId, config.scope ?? null, config.tokenParams?.audience ?? null];
    const owner = JSON.parse(decodeURIComponent(token.slice(token.indexOf(".") + 1) || "null"));
    if (JSON.stringify(owner) !== JSON.stringify(expected)) foreign.push(token);
    return new Response("ok");
  });
  await fc.assert(
    fc.asyncProperty(
      fc.array(
        fc.oneof(
          fc.record({
            type: fc.constant("fetch" as const),
            client: fc.integer({ min: 0, max: CONFIGS.length - 1 }),
            count: fc.integer({ min: 1, max: 3 }),
          }),
          fc.record({ type: fc.constant("revoke" as const) }),
          fc.record({
            type: fc.constant("advance" as const),
            ms: fc.integer({ min: 0, max: 40_000 }),
          }),
        ) as fc.Arbitrary<ShareAction>,
        { minLength: 1, maxLength: 16 },
      ),
      async (actions) => {
        foreign.length = 0;
        const storage = new MemoryTokenStorage();
        const clients = CONFIGS.map((config) =>
          new Client({
            ...config,
            tokenEndpoint: `${endpoint.url}/token`,
            clientAuth: "none",
            storage,
            now: clock.now,
          })
        );
        try {
          for (const action of actions) {
            if (action.type === "revoke") {
              for (const token of issued) revoked.add(token);
              continue;
            }
            if (action.type === "advance") {
              clock.advance(action.ms);
              continue;
            }
            const client = clients[action.client];
            assert.ok(client, `no client ${action.client}`);
            const responses = await Promise.all(
              Array.from(
                { length: action.count },
                () => client.fetch(`${resource.url}/${action.client}`),
              ),
            );
            await Promise.all(responses.map((r) => r.body?.cancel()));
          }
        } finally {
          await Promise.all(clients.map((client) => client.close()));
        }
        assert.deepEqual(foreign, []);
      },
    ),
    { numRuns: RUNS },
  );
});
