// What SECURITY.md promises: secrets stay out of every rendering of every
// public object, the secret goes only to the token endpoint, and plain http
// is refused outside loopback hosts.

import assert from "node:assert/strict";
import util from "node:util";
import {
  AuthorizationCodeGrant,
  Client,
  ClientCredentialsGrant,
  type ClientEvent,
  ImplicitGrant,
  KvTokenStorage,
  MemoryTokenStorage,
  RefreshTokenGrant,
  TokenEndpoint,
  TokenError,
  useAuthorizationCodeFlow,
  useImplicitFlow,
} from "../mod.ts";
import { ScriptedBrowser, startAuthServer } from "../testing.ts";
import { serve } from "./_helpers.ts";

const SECRET = "S3cret-never-shown";

/** Every way a program, a logger or a crash report turns an object into text. */
function renderings(value: unknown): string[] {
  const texts = [
    Deno.inspect(value, { showHidden: true, depth: Infinity, getters: true }),
    util.inspect(value, { showHidden: true, depth: null, getters: true }),
    String(value),
  ];
  try {
    texts.push(JSON.stringify(value) ?? "");
  } catch {
    // Not serializable: nothing leaks that way.
  }
  if (value instanceof Error) {
    texts.push(value.message, value.stack ?? "", Deno.inspect(value.cause, { depth: Infinity }));
  }
  return texts;
}

Deno.test("every public object and error of mod.ts keeps secrets and tokens out of inspect, JSON and strings", async () => {
  await using server = await startAuthServer({ clientId: "client-id", clientSecret: SECRET });
  const events: ClientEvent[] = [];
  const memory = new MemoryTokenStorage();
  await using client = new Client({
    tokenEndpoint: server.tokenEndpoint,
    clientId: "client-id",
    clientSecret: SECRET,
    storage: memory,
    onEvent: (event) => events.push(event),
  });
  await (await client.fetch(server.resourceUrl)).body?.cancel();

  await using kv = await Deno.openKv(":memory:");
  const kvStorage = new KvTokenStorage(kv);
  await using kvClient = new Client({
    tokenEndpoint: server.tokenEndpoint,
    clientId: "client-id",
    clientSecret: SECRET,
    clientAuth: "client_secret_post",
    storage: kvStorage,
    scope: "kv",
  });
  await kvClient.getToken();

  await using browser = new ScriptedBrowser();
  const codeGrant = new AuthorizationCodeGrant({ openBrowser: browser.open, portRange: [0, 0] });
  await using codeClient = new Client({
    tokenEndpoint: server.tokenEndpoint,
    clientId: "client-id",
    clientSecret: SECRET,
    grant: codeGrant,
  });
  await codeClient.getToken();
  const implicitGrant = new ImplicitGrant({ openBrowser: browser.open, portRange: [0, 0] });
  const refreshGrant = new RefreshTokenGrant();
  // A refresh token kept from an earlier run is as secret as the client secret.
  const keptRefreshToken = "rt-secret-value";
  const keptRefreshGrant = new RefreshTokenGrant({ refreshToken: keptRefreshToken });
  await using keptRefreshClient = new Client({
    tokenEndpoint: server.tokenEndpoint,
    clientId: "client-id",
    grant: keptRefreshGrant,
  });

  await using implicitFlow = await useImplicitFlow(new MemoryTokenStorage(), [0, 0], {
    openBrowser: browser.open,
  });
  await implicitFlow.close();
  await using codeFlow = await useAuthorizationCodeFlow(new MemoryTokenStorage(), [0, 0], {
    openBrowser: browser.open,
  });
  await codeFlow.close();

  const endpoint = new TokenEndpoint({
    url: new URL(server.tokenEndpoint),
    clientId: "client-id",
    clientSecret: SECRET,
    clientAuth: "client_secret_basic",
    fetch,
    now: Date.now,
    timeout: 1000,
  });

  // Errors: the endpoint's answer to a wrong secret, a network failure, a bad response.
  await using wrong = new Client({
    tokenEndpoint: server.tokenEndpoint,
    clientId: "client-id",
    clientSecret: `${SECRET}-wrong`,
    tokenErrors: "throw",
  });
  const refused = await wrong.getToken().catch((error) => error);
  const closed = serve(() => new Response());
  await closed.close();
  await using unreachable = new Client({
    tokenEndpoint: `${closed.url}/token`,
    clientId: "client-id",
    clientSecret: SECRET,
  });
  const network = await unreachable.getToken().catch((error) => error);
  await using leaky = serve(() =>
    Response.json({ access_token: `${SECRET} with a space`, refresh_token: SECRET })
  );
  await using badResponse = new Client({
    tokenEndpoint: `${leaky.url}/token`,
    clientId: "client-id",
    clientSecret: SECRET,
  });
  const unusable = await badResponse.getToken().catch((error) => error);
  for (const error of [refused, network, unusable]) assert.ok(error instanceof TokenError);

  const objects: [string, unknown][] = [
    ["Client", client],
    ["Client with KV", kvClient],
    ["Client with a login grant", codeClient],
    ["ClientCredentialsGrant", new ClientCredentialsGrant()],
    ["AuthorizationCodeGrant", codeGrant],
    ["ImplicitGrant", implicitGrant],
    ["RefreshTokenGrant", refreshGrant],
    ["RefreshTokenGrant with a refresh token", keptRefreshGrant],
    ["Client with a kept refresh token", keptRefreshClient],
    ["useImplicitFlow() handle", implicitFlow],
    ["useAuthorizationCodeFlow() handle", codeFlow],
    ["MemoryTokenStorage", memory],
    ["KvTokenStorage", kvStorage],
    ["TokenEndpoint", endpoint],
    ["TokenError of a refusal", refused],
    ["TokenError of a network failure", network],
    ["TokenError of an unusable response", unusable],
    ["client events", events],
  ];
  const secrets = [
    SECRET,
    btoa(`client-id:${SECRET}`),
    keptRefreshToken,
    ...server.issuedTokens,
    ...server.issuedRefreshTokens,
  ];
  assert.ok(server.issuedTokens.length >= 3 && server.issuedRefreshTokens.length >= 1);
  for (const [name, value] of objects) {
    for (const text of renderings(value)) {
      for (const secret of secrets) {
        assert.ok(!text.includes(secret), `${name} shows a secret in: ${text}`);
      }
    }
  }
});

Deno.test("Client sends the client secret only to the token endpoint and tokens only to resources", async () => {
  await using server = await startAuthServer({ clientSecret: SECRET });
  for (const clientAuth of ["client_secret_basic", "client_secret_post"] as const) {
    await using client = new Client({
      tokenEndpoint: server.tokenEndpoint,
      clientId: "client-id",
      clientSecret: SECRET,
      clientAuth,
    });
    await (await client.fetch(server.resourceUrl, { method: "POST", body: "x" })).body?.cancel();
  }
  const basic = btoa(`client-id:${SECRET}`);
  for (const request of server.resourceRequests) {
    const text = [request.url, ...request.headers, new TextDecoder().decode(request.body)].join();
    assert.ok(!text.includes(SECRET) && !text.includes(basic), text);
  }
  for (const request of server.tokenRequests) {
    assert.ok(!/^Bearer /i.test(request.headers.get("authorization") ?? ""));
    for (const token of server.issuedTokens) {
      assert.ok(!new TextDecoder().decode(request.body).includes(token));
    }
  }
});

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

Deno.test("login grants refuse a plain http authorization endpoint on a remote host", () => {
  for (const Grant of [AuthorizationCodeGrant, ImplicitGrant]) {
    assert.throws(
      () => new Grant({ authorizationEndpoint: "http://auth.example/authorize" }),
      TypeError,
    );
  }
});
