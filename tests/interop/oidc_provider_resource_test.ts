// A Client given only an API's address, against npm:oidc-provider (panva) as
// the independent authorization server: the resource's metadata (RFC 9728),
// oidc-provider's discovery, its dynamic registration (RFC 7591), the browser
// login with PKCE through its development pages, a token for the resource
// only (RFC 8707), a registration oidc-provider forgot, a registration it
// refuses, a resource it does not know, and a step-up.

import assert from "node:assert/strict";
import {
  AuthorizationCodeGrant,
  Client,
  type ClientMetadata,
  MemoryTokenStorage,
  TokenError,
  useAuthorizationCodeFlow,
} from "../../mod.ts";
import { ManualClock } from "../_helpers.ts";
import { startResourceProvider } from "./_oidc_resource.ts";

async function status(response: Response): Promise<number> {
  await response.body?.cancel();
  return response.status;
}

/**
 * The requests of the client itself at oidc-provider: not the browser's pages, nor the
 * resource's token checks (introspection, keys).
 */
function clientRequests(paths: string[]): string[] {
  const others = /^(GET|POST) \/(interaction\/|auth|token\/introspection$|jwks$)/;
  return paths.filter((p) => !others.test(p));
}

for (const format of ["opaque", "jwt"] as const) {
  Deno.test(`Client with only protectedResource logs in at oidc-provider from the address alone (${format} token)`, async () => {
    await using op = await startResourceProvider({ format });
    await using flow = await useAuthorizationCodeFlow(new MemoryTokenStorage(), [0, 0], {
      openBrowser: op.browser.open,
    });
    await using client = new Client({ protectedResource: op.mcpUrl, clientName: "Interop" });
    assert.equal(await status(await client.fetch(op.mcpUrl)), 200);
    await op.browser.settled();

    // The registration oidc-provider made: a public client with the flow's listener.
    const [registered, ...others] = await op.registeredClients();
    assert.equal(others.length, 0);
    assert.equal(registered?.token_endpoint_auth_method, "none");
    assert.deepEqual(registered?.redirect_uris, [flow.redirectUri]);
    assert.equal(registered?.client_name, "Interop");
    assert.deepEqual(registered?.grant_types, ["authorization_code", "refresh_token"]);
    const clientId = registered?.client_id;

    // The login: PKCE, the resource and the metadata's scope, pushed (oidc-provider takes PAR).
    const [opened] = op.browser.opened;
    assert.equal(opened?.searchParams.get("client_id"), clientId);
    assert.match(
      opened?.searchParams.get("request_uri") ?? "",
      /^urn:ietf:params:oauth:request_uri:/,
    );
    assert.deepEqual(op.browser.prompts, ["login", "consent"]);
    assert.equal(op.browser.callbacks[0]?.searchParams.get("iss"), op.issuer);
    assert.deepEqual(op.indicators.filter((i) => i !== op.mcpUrl), []);

    // The token the resource took: for this resource only, with the scope of its metadata.
    const [seen] = op.accepted;
    assert.deepEqual([seen?.aud].flat(), [op.mcpUrl]);
    assert.equal(seen?.scope, "mcp:read");
    assert.equal(seen?.clientId, clientId);

    // The cold start, request by request.
    assert.deepEqual(
      op.resourceRequests.map((r) => `${r.path} ${r.authorized ? "with" : "without"} token`),
      ["/.well-known/oauth-protected-resource/mcp without token", "/mcp with token"],
    );
    assert.deepEqual(clientRequests(op.paths), [
      "GET /.well-known/oauth-authorization-server",
      "POST /reg",
      "POST /request",
      "POST /token",
    ]);
    assert.equal(op.paths.filter((p) => p === "GET /auth").length, 1, "one authorization");
  });
}

Deno.test("Client with protectedResource reuses its oidc-provider registration from the storage in a second client", async () => {
  await using op = await startResourceProvider();
  const storage = new MemoryTokenStorage();
  await using _flow = await useAuthorizationCodeFlow(storage, [0, 0], {
    openBrowser: op.browser.open,
  });
  await using first = new Client({ protectedResource: op.mcpUrl });
  assert.equal(await status(await first.fetch(op.mcpUrl)), 200);
  await using second = new Client({ protectedResource: op.mcpUrl });
  assert.equal(await status(await second.fetch(op.mcpUrl)), 200);
  await op.browser.settled();
  assert.equal(op.paths.filter((p) => p === "POST /reg").length, 1, "registered once");
  const [registered] = await op.registeredClients();
  assert.deepEqual(op.accepted.map((a) => a.clientId), [
    registered?.client_id,
    registered?.client_id,
  ]);
});

Deno.test("Client with protectedResource registers anew at oidc-provider after it forgot the client", async () => {
  await using op = await startResourceProvider();
  const clock = new ManualClock();
  await using _flow = await useAuthorizationCodeFlow(new MemoryTokenStorage(), [0, 0], {
    openBrowser: op.browser.open,
  });
  await using client = new Client({ protectedResource: op.mcpUrl, now: clock.now });
  assert.equal(await status(await client.fetch(op.mcpUrl)), 200);
  await op.browser.settled();
  const [old] = await op.registeredClients();
  await op.forgetClient(String(old?.client_id));
  clock.advance(3_600_000); // the token expires; its refresh is refused: invalid_client
  const refused = await client.fetch(op.mcpUrl);
  assert.equal(refused.status, 401);
  assert.equal(TokenError.fromResponse(refused)?.error, "invalid_client");
  await refused.body?.cancel();
  assert.equal(await status(await client.fetch(op.mcpUrl)), 200, "registered again");
  await op.browser.settled();
  assert.equal(op.paths.filter((p) => p === "POST /reg").length, 2);
  const [again, ...others] = await op.registeredClients();
  assert.equal(others.length, 0, "the old client is gone");
  assert.notEqual(again?.client_id, old?.client_id);
  assert.equal(op.accepted.at(-1)?.clientId, again?.client_id);
  // The user's session at oidc-provider stays: the new client asks only for consent.
  assert.deepEqual(op.browser.prompts, ["login", "consent", "consent"]);
});

Deno.test("Client with protectedResource fails clearly when oidc-provider requires an initial access token, and sends nothing to the resource", async () => {
  await using op = await startResourceProvider({ initialAccessToken: true });
  await using _flow = await useAuthorizationCodeFlow(new MemoryTokenStorage(), [0, 0], {
    openBrowser: op.browser.open,
  });
  await using client = new Client({ protectedResource: op.mcpUrl });
  const refused = (error: TokenError) => {
    assert(error instanceof TokenError);
    assert.equal(error.status, 401);
    assert.equal(error.error, "invalid_token");
    assert.match(
      error.message,
      /^Cannot register the client: the registration endpoint .* answered 401/,
    );
    // What to do about it: RFC 7591 §3 lets a server require an initial access token.
    assert.match(error.message, /initial access token.*pass its "clientId"/);
    return true;
  };
  await assert.rejects(client.getToken(), refused);
  await assert.rejects(client.fetch(op.mcpUrl), refused);
  assert.deepEqual(op.resourceRequests.filter((r) => r.path === "/mcp"), []);
  assert.equal(op.browser.opened.length, 0);
  assert.deepEqual(await op.registeredClients(), []);
});

Deno.test("Client with protectedResource steps up at oidc-provider for the scope a 403 names, once", async () => {
  await using op = await startResourceProvider();
  await using _flow = await useAuthorizationCodeFlow(new MemoryTokenStorage(), [0, 0], {
    openBrowser: op.browser.open,
  });
  await using client = new Client({ protectedResource: op.mcpUrl });
  assert.equal(await status(await client.fetch(op.mcpUrl)), 200);
  op.required.push("extra"); // the next call needs more
  assert.equal(await status(await client.fetch(op.mcpUrl)), 200, "after the step-up");
  await op.browser.settled();
  assert.deepEqual(
    op.resourceRequests.filter((r) => r.path === "/mcp").map((r) => r.status),
    [200, 403, 200],
  );
  assert.deepEqual(op.accepted.map((a) => a.scope), ["mcp:read", "mcp:read extra"]);
  assert.deepEqual([op.accepted[1]?.aud].flat(), [op.mcpUrl]);
  assert.equal(op.paths.filter((p) => p === "GET /auth").length, 2, "one new authorization");
  assert.equal(op.paths.filter((p) => p === "POST /reg").length, 1);
  assert.deepEqual(op.browser.prompts, ["login", "consent", "consent"], "consent to extra");
});

Deno.test("Client with protectedResource steps up once for a scope oidc-provider does not grant, and returns the 403", async () => {
  await using op = await startResourceProvider();
  await using _flow = await useAuthorizationCodeFlow(new MemoryTokenStorage(), [0, 0], {
    openBrowser: op.browser.open,
  });
  await using client = new Client({ protectedResource: op.mcpUrl });
  assert.equal(await status(await client.fetch(op.mcpUrl)), 200);
  op.required.push("admin"); // not a scope oidc-provider knows for the resource: it drops it
  const response = await client.fetch(op.mcpUrl);
  assert.equal(response.status, 403);
  assert.match(response.headers.get("www-authenticate") ?? "", /insufficient_scope/);
  await response.body?.cancel();
  await op.browser.settled();
  assert.equal(op.paths.filter((p) => p === "GET /auth").length, 2, "one step-up, no loop");
  assert.deepEqual(
    op.resourceRequests.filter((r) => r.path === "/mcp").map((r) => r.status),
    [200, 403, 403],
  );
});

Deno.test("Client with protectedResource reports oidc-provider's invalid_target for a resource it does not know, before the browser", async () => {
  await using op = await startResourceProvider({ unknownResource: true });
  await using _flow = await useAuthorizationCodeFlow(new MemoryTokenStorage(), [0, 0], {
    openBrowser: op.browser.open,
  });
  await using client = new Client({ protectedResource: op.mcpUrl });
  await assert.rejects(client.getToken(), (error: TokenError) => {
    assert(error instanceof TokenError);
    assert.equal(error.error, "invalid_target");
    return true;
  });
  assert.deepEqual(op.indicators, [op.mcpUrl]);
  assert.equal(op.browser.opened.length, 0, "refused at the push");
  assert.deepEqual(op.resourceRequests.filter((r) => r.path === "/mcp"), []);
});

/** An authorization code grant on an ephemeral port, registered as a native or a web client. */
function ephemeralGrant(open: (url: string) => void, native: boolean): AuthorizationCodeGrant {
  return new class extends AuthorizationCodeGrant {
    override registration(): ClientMetadata {
      return { ...super.registration(), application_type: native ? "native" : "web" };
    }
  }({ portRange: [0, 0], openBrowser: open });
}

Deno.test("AuthorizationCodeGrant.registration() on an ephemeral port registers a native client at oidc-provider, which matches any loopback port", async () => {
  await using op = await startResourceProvider();
  await using client = new Client({
    protectedResource: op.mcpUrl,
    grant: new AuthorizationCodeGrant({ portRange: [0, 0], openBrowser: op.browser.open }),
  });
  assert.equal(await status(await client.fetch(op.mcpUrl)), 200);
  await op.browser.settled();
  const [registered] = await op.registeredClients();
  assert.deepEqual(registered?.redirect_uris, ["http://127.0.0.1/callback"]);
  assert.equal(registered?.application_type, "native");
});

Deno.test("oidc-provider matches a portless loopback redirect URI at any port only for a native client", async () => {
  for (const native of [false, true]) {
    await using op = await startResourceProvider();
    await using client = new Client({
      protectedResource: op.mcpUrl,
      grant: ephemeralGrant(op.browser.open, native),
    });
    const response = await client.fetch(op.mcpUrl).catch((error: TokenError) => error);
    await op.browser.settled();
    const [registered] = await op.registeredClients();
    assert.equal(registered?.application_type, native ? "native" : "web");
    if (native) {
      assert(response instanceof Response);
      assert.equal(await status(response), 200);
    } else {
      // A web client's redirect URIs match exactly: the push is refused.
      assert(response instanceof TokenError);
      assert.match(response.message, /redirect_uri did not match/);
      assert.equal(op.browser.opened.length, 0);
    }
  }
});
