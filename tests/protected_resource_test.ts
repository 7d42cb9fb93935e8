// Protected resource metadata (RFC 9728) on its own: where it is looked for,
// what is checked, and what a challenge says.

import assert from "node:assert/strict";
import { discoverResource, TokenError } from "../mod.ts";
import {
  coversResource,
  resourceChallenge,
  resourceMetadataLocations,
} from "../src/protected_resource.ts";
import { serve } from "./_helpers.ts";

/** A server that answers `documents[path]` as JSON and 404 otherwise; records the paths asked. */
function metadataServer(documents: (origin: string) => Record<string, unknown>) {
  const asked: string[] = [];
  let origin = "";
  const server = serve((request) => {
    const url = new URL(request.url);
    asked.push(url.pathname + url.search);
    const document = documents(origin)[url.pathname + url.search];
    return document === undefined ? new Response("no", { status: 404 }) : Response.json(document);
  });
  origin = server.url;
  return Object.assign(server, { asked });
}

Deno.test("resourceMetadataLocations() inserts the well-known path before the resource's path, then the origin's", () => {
  const locations = (url: string) => resourceMetadataLocations(new URL(url)).map(String);
  assert.deepEqual(locations("https://api.example.com/mcp"), [
    "https://api.example.com/.well-known/oauth-protected-resource/mcp",
    "https://api.example.com/.well-known/oauth-protected-resource",
  ]);
  assert.deepEqual(locations("https://api.example.com/v1/mcp/"), [
    "https://api.example.com/.well-known/oauth-protected-resource/v1/mcp",
    "https://api.example.com/.well-known/oauth-protected-resource",
  ]);
  assert.deepEqual(locations("https://api.example.com/"), [
    "https://api.example.com/.well-known/oauth-protected-resource",
  ]);
  assert.deepEqual(locations("https://api.example.com/api?tenant=a"), [
    "https://api.example.com/.well-known/oauth-protected-resource/api?tenant=a",
    "https://api.example.com/.well-known/oauth-protected-resource",
  ]);
});

Deno.test("coversResource() takes the resource itself or an address of its origin it is under", () => {
  const asked = new URL("https://api.example.com/mcp/tools");
  assert(coversResource("https://api.example.com/mcp/tools", asked));
  assert(coversResource("https://api.example.com/mcp", asked));
  assert(coversResource("https://api.example.com/mcp/", asked));
  assert(coversResource("https://api.example.com", asked));
  assert(coversResource("https://api.example.com/", asked));
  assert(!coversResource("https://api.example.com/mc", asked), "a path-segment boundary");
  assert(!coversResource("https://api.example.com/other", asked));
  assert(!coversResource("https://api.example.com:8443/mcp", asked), "another origin");
  assert(!coversResource("http://api.example.com/mcp", asked));
  assert(!coversResource("https://evil.example/mcp", asked));
  assert(!coversResource("https://api.example.com/mcp#x", asked));
  assert(!coversResource("not a url", asked));
});

Deno.test("discoverResource() reads the path-aware document and checks its resource", async () => {
  await using server = metadataServer((origin) => ({
    "/.well-known/oauth-protected-resource/mcp": {
      resource: `${origin}/mcp`,
      authorization_servers: ["https://auth.example.com"],
      scopes_supported: ["read", "write"],
    },
  }));
  const metadata = await discoverResource(`${server.url}/mcp`);
  assert.deepEqual(metadata.authorization_servers, ["https://auth.example.com"]);
  assert.deepEqual(metadata.scopes_supported, ["read", "write"]);
  assert(Object.isFrozen(metadata));
  assert.deepEqual(server.asked, ["/.well-known/oauth-protected-resource/mcp"]);
});

Deno.test("discoverResource() falls back to the origin's document, whose resource the address is under", async () => {
  await using server = metadataServer((origin) => ({
    "/.well-known/oauth-protected-resource": {
      resource: origin,
      authorization_servers: ["https://auth.example.com"],
    },
  }));
  const metadata = await discoverResource(`${server.url}/mcp`);
  assert.equal(metadata.resource, server.url);
  assert.deepEqual(server.asked, [
    "/.well-known/oauth-protected-resource/mcp",
    "/.well-known/oauth-protected-resource",
  ]);
});

Deno.test("discoverResource() refuses metadata for another resource (RFC 9728 §3.3)", async () => {
  await using server = metadataServer((origin) => ({
    "/.well-known/oauth-protected-resource/mcp": {
      resource: `${origin}/other`,
      authorization_servers: ["https://evil.example"],
    },
  }));
  await assert.rejects(discoverResource(`${server.url}/mcp`), (error: TokenError) => {
    assert(error instanceof TokenError);
    assert.equal(error.code, "invalid_response");
    assert.match(
      error.message,
      /describes ".*\/other", which is not this resource \(RFC 9728 §3\.3\)/,
    );
    return true;
  });
});

Deno.test("discoverResource() refuses malformed documents, naming the member", async () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{}, /"resource" is missing/],
    [
      { resource: "R", authorization_servers: "https://a" },
      /"authorization_servers" is not a list/,
    ],
    [{ resource: "R", scopes_supported: [1] }, /"scopes_supported" is not a list of strings/],
    [
      { resource: "R", authorization_servers: ["http://auth.example.com"] },
      /none of its authorization servers is an https: URL/,
    ],
    [{ resource: "R", dpop_bound_access_tokens_required: "yes" }, /not a boolean/],
  ];
  for (const [document, message] of cases) {
    await using server = metadataServer((origin) => ({
      "/.well-known/oauth-protected-resource/mcp": JSON.parse(
        JSON.stringify(document).replace('"R"', JSON.stringify(`${origin}/mcp`)),
      ),
    }));
    await assert.rejects(discoverResource(`${server.url}/mcp`), { name: "TokenError", message });
  }
});

Deno.test("discoverResource() leaves out an authorization server that is not https:, keeping the others", async () => {
  await using server = metadataServer((origin) => ({
    "/.well-known/oauth-protected-resource/mcp": {
      resource: `${origin}/mcp`,
      authorization_servers: ["http://auth.example.com", "https://auth.example.com"],
    },
  }));
  const metadata = await discoverResource(`${server.url}/mcp`);
  assert.deepEqual(metadata.authorization_servers, ["https://auth.example.com"]);
});

Deno.test("discoverResource() reads the document a challenge names, and nothing else", async () => {
  await using server = metadataServer((origin) => ({
    "/meta/here": { resource: `${origin}/mcp`, authorization_servers: ["https://a.example"] },
  }));
  const metadata = await discoverResource(`${server.url}/mcp`, {
    metadataUrl: `${server.url}/meta/here`,
  });
  assert.deepEqual(metadata.authorization_servers, ["https://a.example"]);
  assert.deepEqual(server.asked, ["/meta/here"]);
});

Deno.test("discoverResource() says where it looked when no document answers", async () => {
  await using server = metadataServer(() => ({}));
  await assert.rejects(discoverResource(`${server.url}/mcp`), (error: TokenError) => {
    assert.equal(error.code, "http_error");
    assert.match(
      error.message,
      /oauth-protected-resource\/mcp answered 404; .*oauth-protected-resource answered 404/,
    );
    return true;
  });
});

Deno.test("discoverResource() refuses bad input before any request", async () => {
  await assert.rejects(() => discoverResource("http://api.example.com/mcp"), TypeError);
  await assert.rejects(
    () => discoverResource("https://api.example.com/mcp", { metadataURL: "x" } as never),
    /metadataURL.*metadataUrl/,
  );
  await assert.rejects(
    () => discoverResource("https://api.example.com/mcp", { metadataUrl: "http://evil.example/m" }),
    TypeError,
  );
  await assert.rejects(
    () => discoverResource("https://api.example.com/mcp", { timeout: 0 }),
    RangeError,
  );
});

Deno.test("resourceChallenge() reads resource_metadata, scope and error from a Bearer or DPoP challenge", () => {
  assert.deepEqual(
    resourceChallenge(
      'Bearer error="insufficient_scope", scope="files:read files:write", resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/mcp"',
    ),
    {
      metadataUrl: "https://api.example.com/.well-known/oauth-protected-resource/mcp",
      scope: "files:read files:write",
      error: "insufficient_scope",
    },
  );
  assert.deepEqual(resourceChallenge('DPoP algs="ES256", resource_metadata="https://m"'), {
    metadataUrl: "https://m",
    scope: undefined,
    error: undefined,
  });
  assert.deepEqual(resourceChallenge('Basic realm="x"'), {});
  assert.deepEqual(resourceChallenge(null), {});
});
