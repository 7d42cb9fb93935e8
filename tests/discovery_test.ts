import assert from "node:assert/strict";
import { discover, type DiscoverOptions, wellKnownUrls } from "../src/discovery.ts";
import { TokenError } from "../src/token_error.ts";

/**
 * An authorization server on loopback whose metadata documents tests set by
 * path; records every path asked for, endpoints included.
 */
function metadataServer() {
  const documents = new Map<string, () => Response | Promise<Response>>();
  const paths: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    const { pathname } = new URL(request.url);
    paths.push(pathname);
    return documents.get(pathname)?.() ?? new Response("not found", { status: 404 });
  });
  const origin = `http://127.0.0.1:${server.addr.port}`;
  return {
    origin,
    paths,
    /** Serves `body` as JSON at `path`. */
    json(path: string, body: unknown) {
      documents.set(path, () => Response.json(body));
    },
    on(path: string, answer: () => Response | Promise<Response>) {
      documents.set(path, answer);
    },
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

Deno.test("wellKnownUrls() inserts RFC 8414's path before the issuer's, and appends OIDC's", () => {
  const cases: [string, string, string][] = [
    [
      "https://as.example/tenant",
      "https://as.example/.well-known/oauth-authorization-server/tenant",
      "https://as.example/tenant/.well-known/openid-configuration",
    ],
    [
      "https://as.example/tenant/",
      "https://as.example/.well-known/oauth-authorization-server/tenant",
      "https://as.example/tenant/.well-known/openid-configuration",
    ],
    [
      "https://as.example",
      "https://as.example/.well-known/oauth-authorization-server",
      "https://as.example/.well-known/openid-configuration",
    ],
    [
      "https://as.example:8443/realms/a/b",
      "https://as.example:8443/.well-known/oauth-authorization-server/realms/a/b",
      "https://as.example:8443/realms/a/b/.well-known/openid-configuration",
    ],
  ];
  for (const [issuer, rfc8414, oidc] of cases) {
    assert.deepEqual(wellKnownUrls(new URL(issuer)).map(String), [rfc8414, oidc]);
  }
});

Deno.test("discover() reads the RFC 8414 location of an issuer with a path", async () => {
  await using server = metadataServer();
  const issuer = `${server.origin}/tenant`;
  server.json("/.well-known/oauth-authorization-server/tenant", {
    issuer,
    token_endpoint: `${issuer}/token`,
    revocation_endpoint: `${issuer}/revoke`,
    token_endpoint_auth_methods_supported: ["private_key_jwt"],
    custom_member: { kept: true },
  });
  const metadata = await discover(issuer);
  assert.equal(metadata.issuer, issuer);
  assert.equal(metadata.token_endpoint, `${issuer}/token`);
  assert.equal(metadata.revocation_endpoint, `${issuer}/revoke`);
  assert.deepEqual(metadata.token_endpoint_auth_methods_supported, ["private_key_jwt"]);
  assert.deepEqual(metadata.custom_member, { kept: true });
  assert.ok(Object.isFrozen(metadata));
  assert.deepEqual(server.paths, ["/.well-known/oauth-authorization-server/tenant"]);
});

Deno.test("discover() falls back to the OpenID Connect location after a 404", async () => {
  await using server = metadataServer();
  const issuer = `${server.origin}/realms/demo/`; // a terminating slash is part of the issuer
  server.json("/realms/demo/.well-known/openid-configuration", {
    issuer,
    token_endpoint: `${server.origin}/realms/demo/protocol/openid-connect/token`,
  });
  const metadata = await discover(issuer);
  assert.equal(metadata.issuer, issuer);
  assert.deepEqual(server.paths, [
    "/.well-known/oauth-authorization-server/realms/demo",
    "/realms/demo/.well-known/openid-configuration",
  ]);
});

Deno.test("discover() falls back when the first location answers 200 with an HTML page", async () => {
  await using server = metadataServer();
  const issuer = `${server.origin}/app`;
  // A single-page app's catch-all route answers every path with its index.html.
  server.on(
    "/.well-known/oauth-authorization-server/app",
    () =>
      new Response("<!doctype html><title>App</title>", {
        headers: { "Content-Type": "text/html" },
      }),
  );
  server.json("/app/.well-known/openid-configuration", {
    issuer,
    token_endpoint: `${issuer}/token`,
  });
  assert.equal((await discover(issuer)).token_endpoint, `${issuer}/token`);
});

Deno.test("discover() refuses a document naming another issuer, and sends nothing to its endpoints", async () => {
  await using server = metadataServer();
  const issuer = `${server.origin}/good`;
  server.json("/.well-known/oauth-authorization-server/good", {
    issuer: `${server.origin}/evil`,
    token_endpoint: `${server.origin}/evil/token`,
  });
  await assert.rejects(discover(issuer), (error) => {
    assert.ok(error instanceof TokenError);
    assert.equal(error.code, "invalid_response");
    assert.equal(
      error.message,
      `Cannot use the metadata of ${issuer}: it names the issuer "${server.origin}/evil" (RFC 8414 §3.3)`,
    );
    return true;
  });
  assert.deepEqual(server.paths, ["/.well-known/oauth-authorization-server/good"]);
});

Deno.test("discover() compares issuers as strings: a trailing slash is a mismatch", async () => {
  await using server = metadataServer();
  // The provider's issuer has a terminating "/"; the one asked for does not.
  server.json("/.well-known/oauth-authorization-server", {
    issuer: `${server.origin}/`,
    token_endpoint: `${server.origin}/token`,
  });
  await assert.rejects(discover(server.origin), {
    name: "TokenError",
    message: new RegExp(`it names the issuer "${server.origin}/"`),
  });
  // Asked with the slash, it matches.
  assert.equal((await discover(`${server.origin}/`)).issuer, `${server.origin}/`);
});

Deno.test("discover() takes a URL object for a bare origin with or without the slash", async () => {
  await using server = metadataServer();
  server.json("/.well-known/oauth-authorization-server", {
    issuer: server.origin,
    token_endpoint: `${server.origin}/token`,
  });
  const metadata = await discover(new URL(server.origin));
  assert.equal(metadata.issuer, server.origin);
});

Deno.test("discover() refuses a document without a token endpoint", async () => {
  await using server = metadataServer();
  server.json("/.well-known/oauth-authorization-server", {
    issuer: server.origin,
    authorization_endpoint: `${server.origin}/authorize`,
  });
  await assert.rejects(discover(server.origin), {
    name: "TokenError",
    code: "invalid_response",
    message: `Cannot use the metadata of ${server.origin}: "token_endpoint" is missing`,
  });
});

Deno.test("discover() applies the https/loopback rule to every endpoint", async () => {
  await using server = metadataServer();
  const issuer = `${server.origin}/a`;
  server.json("/.well-known/oauth-authorization-server/a", {
    issuer,
    token_endpoint: `${issuer}/token`,
    revocation_endpoint: "http://as.example/revoke",
  });
  await assert.rejects(discover(issuer), {
    name: "TokenError",
    message: `Cannot use the metadata of ${issuer}: "revocation_endpoint" must use https: ` +
      '(or http: on a loopback host, or set "allowHttp"), got http:',
  });
  const allowed = await discover(issuer, { allowHttp: true });
  assert.equal(allowed.revocation_endpoint, "http://as.example/revoke");

  const other = `${server.origin}/b`;
  server.json("/.well-known/oauth-authorization-server/b", {
    issuer: other,
    token_endpoint: "not a url",
    scopes_supported: "read write",
  });
  await assert.rejects(discover(other), {
    message: `Cannot use the metadata of ${other}: "token_endpoint" is not a valid URL`,
  });
});

Deno.test("discover() refuses a list member that is not a list of strings", async () => {
  await using server = metadataServer();
  server.json("/.well-known/oauth-authorization-server", {
    issuer: server.origin,
    token_endpoint: `${server.origin}/token`,
    token_endpoint_auth_methods_supported: "client_secret_basic",
  });
  await assert.rejects(discover(server.origin), {
    message:
      `Cannot use the metadata of ${server.origin}: "token_endpoint_auth_methods_supported" is not a list of strings`,
  });
});

Deno.test("discover() shares one request among concurrent and later callers of an issuer", async () => {
  await using server = metadataServer();
  let release!: () => void;
  const gate = new Promise<void>((resolve) => release = resolve);
  server.on("/.well-known/oauth-authorization-server", async () => {
    await gate;
    return Response.json({ issuer: server.origin, token_endpoint: `${server.origin}/token` });
  });
  const callers = Array.from({ length: 20 }, () => discover(server.origin));
  await new Promise((resolve) => setTimeout(resolve, 20));
  release();
  const results = await Promise.all(callers);
  assert.ok(results.every((metadata) => metadata === results[0]));
  assert.equal(await discover(server.origin), results[0]);
  assert.equal(server.paths.length, 1);
});

Deno.test("discover() does not keep a failure: the next caller asks again", async () => {
  await using server = metadataServer();
  let healthy = false;
  server.on(
    "/.well-known/oauth-authorization-server",
    () =>
      healthy
        ? Response.json({ issuer: server.origin, token_endpoint: `${server.origin}/token` })
        : new Response("busy", { status: 503 }),
  );
  await assert.rejects(discover(server.origin), {
    name: "TokenError",
    message: `Cannot discover the metadata of ${server.origin}: ` +
      `${server.origin}/.well-known/oauth-authorization-server answered 503; ` +
      `${server.origin}/.well-known/openid-configuration answered 404`,
  });
  healthy = true;
  assert.equal((await discover(server.origin)).token_endpoint, `${server.origin}/token`);
});

Deno.test("discover() reports the last location's HTTP error as http_error, with its status, headers and body", async () => {
  await using server = metadataServer();
  server.on(
    "/.well-known/openid-configuration",
    () =>
      new Response('{"error":"temporarily_unavailable"}', {
        status: 503,
        headers: { "Content-Type": "application/json", "Retry-After": "30" },
      }),
  );
  await assert.rejects(discover(server.origin), (error) => {
    assert.ok(error instanceof TokenError);
    assert.equal(error.code, "http_error");
    assert.equal(error.status, 503);
    assert.equal(error.headers?.get("retry-after"), "30");
    assert.equal(error.body, '{"error":"temporarily_unavailable"}');
    return true;
  });
  // A last location that answers 200 with no metadata: invalid_response.
  server.on("/.well-known/openid-configuration", () => new Response("<!doctype html>"));
  await assert.rejects(discover(server.origin), {
    name: "TokenError",
    code: "invalid_response",
    status: 200,
  });
});

Deno.test("discover() lets one caller give up while another waits for the shared request", async () => {
  await using server = metadataServer();
  let release!: () => void;
  const gate = new Promise<void>((resolve) => release = resolve);
  server.on("/.well-known/oauth-authorization-server", async () => {
    await gate;
    return Response.json({ issuer: server.origin, token_endpoint: `${server.origin}/token` });
  });
  const controller = new AbortController();
  const impatient = discover(server.origin, { signal: controller.signal });
  const patient = discover(server.origin);
  controller.abort(new Error("gave up"));
  await assert.rejects(impatient, (error) => {
    assert.ok(error instanceof TokenError);
    assert.equal(error.code, "aborted");
    assert.equal((error.cause as Error).message, "gave up");
    return true;
  });
  release();
  assert.equal((await patient).issuer, server.origin);
});

Deno.test("discover() abandons the shared request when its last caller gives up", async () => {
  await using server = metadataServer();
  server.json("/.well-known/oauth-authorization-server", {
    issuer: server.origin,
    token_endpoint: `${server.origin}/token`,
  });
  const controller = new AbortController();
  const only = discover(server.origin, { signal: controller.signal });
  controller.abort(new Error("gave up"));
  await assert.rejects(only, { name: "TokenError", code: "aborted" });
  // The abandoned request is forgotten at once: the next caller, even in the same tick,
  // sends its own request instead of joining the aborted one.
  assert.equal((await discover(server.origin)).issuer, server.origin);
});

Deno.test("discover() times out, and the next caller asks again", async () => {
  await using server = metadataServer();
  let release!: () => void;
  const gate = new Promise<void>((resolve) => release = resolve);
  server.on("/.well-known/oauth-authorization-server", async () => {
    await gate;
    return Response.json({ issuer: server.origin, token_endpoint: `${server.origin}/token` });
  });
  await assert.rejects(discover(server.origin, { timeout: 50 }), {
    name: "TokenError",
    code: "timeout",
    message:
      `Cannot discover the metadata of ${server.origin}: the server did not answer within 50 ms`,
  });
  release();
  assert.equal((await discover(server.origin)).issuer, server.origin);
});

Deno.test("discover() keeps one cache per transport, and reload replaces the entry", async () => {
  await using server = metadataServer();
  let version = 1;
  server.on("/.well-known/oauth-authorization-server", () =>
    Response.json({
      issuer: server.origin,
      token_endpoint: `${server.origin}/token/v${version}`,
    }));
  const tracing: typeof fetch = (input, init) => fetch(input, init);
  assert.equal(
    (await discover(server.origin, { fetch: tracing })).token_endpoint,
    `${server.origin}/token/v1`,
  );
  version = 2;
  assert.equal(
    (await discover(server.origin, { fetch: tracing })).token_endpoint,
    `${server.origin}/token/v1`,
  );
  assert.equal((await discover(server.origin)).token_endpoint, `${server.origin}/token/v2`);
  version = 3;
  const reloaded = await discover(server.origin, { fetch: tracing, reload: true });
  assert.equal(reloaded.token_endpoint, `${server.origin}/token/v3`);
  assert.equal(
    (await discover(server.origin, { fetch: tracing })).token_endpoint,
    `${server.origin}/token/v3`,
  );
});

Deno.test("discover() reports an unreachable server as a TokenError with its cause", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const origin = `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`;
  listener.close(); // nothing listens there now
  await assert.rejects(discover(origin), (error) => {
    assert.ok(error instanceof TokenError);
    assert.equal(error.code, "network_error");
    assert.ok(error.message.startsWith(`Cannot discover the metadata of ${origin}: cannot reach `));
    assert.ok(error.cause instanceof Error);
    return true;
  });
});

Deno.test("discover() follows a redirect, and still checks the issuer", async () => {
  await using server = metadataServer();
  server.on(
    "/.well-known/oauth-authorization-server",
    () => new Response(null, { status: 302, headers: { Location: `${server.origin}/moved` } }),
  );
  server.json("/moved", { issuer: server.origin, token_endpoint: `${server.origin}/token` });
  assert.equal((await discover(server.origin)).token_endpoint, `${server.origin}/token`);
  assert.deepEqual(server.paths, ["/.well-known/oauth-authorization-server", "/moved"]);
});

Deno.test("discover() refuses metadata reached by a redirect to plain http: on another host", async () => {
  // A stand-in transport: a redirect off loopback cannot be followed in a test.
  const downgraded: typeof fetch = () => {
    const response = Response.json({
      issuer: "https://as.example",
      token_endpoint: "https://as.example/token",
    });
    Object.defineProperty(response, "redirected", { value: true });
    Object.defineProperty(response, "url", { value: "http://cache.example/metadata" });
    return Promise.resolve(response);
  };
  await assert.rejects(discover("https://as.example", { fetch: downgraded }), {
    name: "TokenError",
    message: "Cannot use the metadata of https://as.example: the metadata location must use " +
      'https: (or http: on a loopback host, or set "allowHttp"), got http:',
  });
});

Deno.test("discover() checks its arguments", () => {
  const cases: [string, RegExp][] = [
    ["ftp://as.example", /"issuer" must use https:/],
    ["http://as.example", /"issuer" must use https:/],
    ["https://as.example/?tenant=a", /"issuer" must have no query or fragment/],
    ["https://as.example/#a", /"issuer" must have no query or fragment/],
    ["not a url", /"issuer" is not a valid URL/],
  ];
  for (const [issuer, message] of cases) {
    assert.throws(() => discover(issuer), { name: "TypeError", message });
  }
  assert.throws(() => discover("https://as.example", { timeout: 0 }), { name: "RangeError" });
});

Deno.test("discover() refuses a misspelled option, naming the one meant", () => {
  const options = { relaod: true } as DiscoverOptions;
  assert.throws(
    () => discover("https://auth.example.com", options),
    new TypeError(
      'Cannot create the discovery request: unknown option "relaod"; did you mean "reload"?',
    ),
  );
});
