// The token endpoint (src/token_endpoint.ts) as the client meets it: error
// responses kept whole, timeouts, bounded reads, redirects and broken
// connections. The hostile cases check the outcome, that the resource was not
// called with a bad token, and that the next call works once the endpoint
// recovers; the sanitizers catch any timer, socket or promise left behind.

import assert from "node:assert/strict";
import { AuthorizationCodeGrant, Client, DpopKey, TokenError } from "../mod.ts";
import { type MetadataOptions, startAuthServer } from "../testing.ts";
import { keyPair, pkcs8Pem } from "./_jws.ts";
import { MAX_TOKEN_RESPONSE_BYTES, TokenEndpoint } from "../src/token_endpoint.ts";
import {
  assertRecovers,
  clientFor,
  fetchText,
  flakyEndpoint,
  recordingResource,
  serve,
} from "./_helpers.ts";
import { answer, rawServer, readRequest, write } from "./_raw_server.ts";

Deno.test("Client.fetch() returns the token endpoint's error response and skips the resource", async () => {
  await using server = await startAuthServer();
  server.failTokenRequests(1, {
    status: 400,
    body: '{"error":"invalid_client","error_description":"no such client"}',
    headers: { "Content-Type": "application/json", "X-Request-Id": "r1" },
  });
  await using client = clientFor(server);
  const { status, text, response } = await fetchText(client.fetch, server.resourceUrl);
  assert.equal(status, 400);
  assert.equal(text, '{"error":"invalid_client","error_description":"no such client"}');
  assert.equal(response.headers.get("x-request-id"), "r1");
  assert.equal(server.resourceRequests.length, 0);
});

Deno.test("Client.fetch() gives every waiter an intact copy of a shared error response", async () => {
  await using server = await startAuthServer();
  server.failTokenRequests(1, { status: 503, body: "maintenance" });
  await using client = clientFor(server);
  const results = await Promise.all(
    Array.from({ length: 5 }, () => fetchText(client.fetch, server.resourceUrl)),
  );
  assert.deepEqual(results.map((r) => [r.status, r.text]), Array(5).fill([503, "maintenance"]));
  assert.equal(server.tokenRequests.length, 1);
});

Deno.test("Client.fetch() does not cache a failure: the next call tries again", async () => {
  await using server = await startAuthServer();
  server.failTokenRequests(1);
  await using client = clientFor(server);
  assert.equal((await fetchText(client.fetch, server.resourceUrl)).status, 500);
  assert.equal((await fetchText(client.fetch, server.resourceUrl)).status, 200);
  assert.equal(server.tokenRequests.length, 2);
});

Deno.test("Client.fetch() throws the token endpoint's error with tokenErrors: throw", async () => {
  await using server = await startAuthServer();
  server.failTokenRequests(1, {
    status: 400,
    body: JSON.stringify({
      error: "invalid_scope",
      error_description: "bad scope",
      error_uri: "https://e.example/x",
    }),
  });
  await using client = clientFor(server, { tokenErrors: "throw" });
  await assert.rejects(client.fetch(server.resourceUrl), (error) => {
    assert.ok(error instanceof TokenError);
    assert.equal(error.error, "invalid_scope");
    assert.equal(error.errorDescription, "bad scope");
    assert.equal(error.errorUri, "https://e.example/x");
    assert.equal(error.status, 400);
    return true;
  });
  assert.equal(server.resourceRequests.length, 0);
});

Deno.test("Client.fetch() rejects with a TokenError when the token endpoint is unreachable", async () => {
  const endpoint = serve(() => new Response());
  await endpoint.close();
  await using resource = await startAuthServer();
  await using client = clientFor(resource, { tokenEndpoint: `${endpoint.url}/token` });
  await assert.rejects(client.fetch(resource.resourceUrl), (error) => {
    assert.ok(error instanceof TokenError);
    assert.match(
      error.message,
      /^Cannot reach the token endpoint http:\/\/127\.0\.0\.1:\d+\/token: /,
    );
    assert.equal(error.code, "network_error");
    assert.ok(error.cause instanceof TypeError);
    return true;
  });
  assert.equal(resource.resourceRequests.length, 0);
});

Deno.test("Client.fetch() times out a token endpoint that never answers", async () => {
  const controller = new AbortController();
  await using endpoint = serve(
    () =>
      new Promise<Response>((resolve) => {
        controller.signal.addEventListener("abort", () => resolve(new Response()));
      }),
  );
  await using resource = await startAuthServer();
  await using client = clientFor(resource, {
    tokenEndpoint: `${endpoint.url}/token`,
    tokenTimeout: 50,
  });
  await assert.rejects(client.fetch(resource.resourceUrl), {
    message: /did not answer within 50 ms/,
    code: "timeout",
  });
  controller.abort();
});

Deno.test("Client.fetch() times out a token body that trickles forever", async () => {
  let timer: ReturnType<typeof setInterval> | undefined;
  await using endpoint = serve(() =>
    new Response(
      new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode('{"access_token":'));
          timer = setInterval(() => controller.enqueue(new TextEncoder().encode(" ")), 10);
        },
        cancel: () => clearInterval(timer),
      }),
    )
  );
  await using resource = await startAuthServer();
  await using client = clientFor(resource, {
    tokenEndpoint: `${endpoint.url}/token`,
    tokenTimeout: 100,
  });
  await assert.rejects(client.fetch(resource.resourceUrl), {
    message: /did not answer within 100 ms/,
    code: "timeout",
  });
  clearInterval(timer);
});

for (const status of [200, 500]) {
  Deno.test(`Client.fetch() bounds the read of a huge token response (${status})`, async () => {
    let sent = 0;
    await using endpoint = serve(() =>
      new Response(
        new ReadableStream({
          pull(controller) {
            if (sent >= 50 * 1024 * 1024) return controller.close();
            sent += 64 * 1024;
            controller.enqueue(new Uint8Array(64 * 1024));
          },
        }),
        { status },
      )
    );
    await using resource = await startAuthServer();
    await using client = clientFor(resource, { tokenEndpoint: `${endpoint.url}/token` });
    await assert.rejects(client.fetch(resource.resourceUrl), {
      message: new RegExp(`body exceeds ${MAX_TOKEN_RESPONSE_BYTES} bytes`),
      code: "invalid_response",
      status,
    });
    assert.ok(sent < 50 * 1024 * 1024, `read ${sent} bytes`);
  });
}

Deno.test("Client.fetch() refuses a declared Content-Length above the bound", async () => {
  await using endpoint = serve(() =>
    new Response("x".repeat(MAX_TOKEN_RESPONSE_BYTES + 1), { status: 400 })
  );
  await using resource = await startAuthServer();
  await using client = clientFor(resource, { tokenEndpoint: `${endpoint.url}/token` });
  await assert.rejects(client.fetch(resource.resourceUrl), /exceeds/);
});

Deno.test("Client.fetch() does not follow a redirect from the token endpoint", async () => {
  await using elsewhere = await startAuthServer();
  await using endpoint = serve(() => Response.redirect(elsewhere.tokenEndpoint, 307));
  await using resource = await startAuthServer();
  await using client = clientFor(resource, { tokenEndpoint: `${endpoint.url}/token` });
  const { status, response } = await fetchText(client.fetch, resource.resourceUrl);
  assert.equal(status, 307);
  assert.equal(response.headers.get("location"), elsewhere.tokenEndpoint);
  assert.equal(elsewhere.tokenRequests.length, 0);
  assert.equal(resource.resourceRequests.length, 0);
});

Deno.test("Client.fetch() works again when the token endpoint recovers", async () => {
  await using resource = await startAuthServer();
  await using endpoint = flakyEndpoint(
    resource,
    () => new Response("<h1>oops</h1>", { status: 502 }),
  );
  await using client = clientFor(resource, { tokenEndpoint: endpoint.tokenEndpoint });
  const first = await fetchText(client.fetch, resource.resourceUrl);
  assert.deepEqual([first.status, first.text], [502, "<h1>oops</h1>"]);
  assert.equal((await fetchText(client.fetch, resource.resourceUrl)).status, 200);
});

Deno.test("Client.fetch() returns a compressed error response without its stale framing headers", async () => {
  const json = JSON.stringify({ error: "invalid_request", error_description: "x".repeat(200) });
  const gzipped = new Uint8Array(
    await new Response(
      new Blob([json]).stream().pipeThrough(new CompressionStream("gzip")),
    ).arrayBuffer(),
  );
  await using endpoint = serve(() =>
    new Response(gzipped, {
      status: 400,
      headers: { "Content-Encoding": "gzip", "Content-Type": "application/json" },
    })
  );
  await using resource = await startAuthServer();
  await using client = clientFor(resource, { tokenEndpoint: `${endpoint.url}/token` });
  const { status, text, response } = await fetchText(client.fetch, resource.resourceUrl);
  assert.equal(status, 400);
  assert.equal(text, json);
  assert.equal(response.headers.get("content-encoding"), null);
  assert.equal(response.headers.get("content-type"), "application/json");
  // The copy can be served on as it is.
  await using proxy = serve(() => client.fetch(resource.resourceUrl));
  const proxied = await fetchText(fetch, proxy.url);
  assert.deepEqual([proxied.status, proxied.text], [400, json]);
});

Deno.test("Client.fetch() returns the token endpoint's error without its cookies and challenges", async () => {
  await using endpoint = serve(() => {
    const headers = new Headers({
      "Content-Type": "application/json",
      "Retry-After": "30",
      "WWW-Authenticate": 'Basic realm="token"',
      "Proxy-Authenticate": 'Basic realm="proxy"',
      "Set-Cookie2": "legacy=1",
    });
    headers.append("Set-Cookie", "session=abc; HttpOnly");
    headers.append("Set-Cookie", "tracking=xyz");
    return new Response('{"error":"invalid_client"}', { status: 401, headers });
  });
  await using resource = await startAuthServer();
  await using client = clientFor(resource, { tokenEndpoint: `${endpoint.url}/token` });
  const { status, text, response } = await fetchText(client.fetch, resource.resourceUrl);
  assert.deepEqual([status, text], [401, '{"error":"invalid_client"}']);
  assert.deepEqual([...response.headers].filter(([name]) => name !== "date"), [
    ["content-type", "application/json"],
    ["retry-after", "30"],
  ]);
  // The error keeps the challenge (it is labelled as the token endpoint's), never the cookies.
  const headers = TokenError.fromResponse(response)?.headers;
  assert.equal(headers?.get("www-authenticate"), 'Basic realm="token"');
  assert.equal(headers?.get("set-cookie"), null);
  assert.equal(headers?.get("set-cookie2"), null);
});

const ECHOED_SECRET = 's3cret+/= "value"';

/** A token endpoint at a wrong URL that echoes the request in its error and a header. */
function echoEndpoint() {
  return serve(async (request) => {
    const form = await request.text();
    const authorization = request.headers.get("authorization") ?? "";
    const body = {
      error: "invalid_request",
      error_description: `${authorization} ${form}`,
      parsed: Object.fromEntries(new URLSearchParams(form)),
    };
    return Response.json(body, {
      status: 400,
      statusText: `Bad ${authorization}`,
      headers: { "X-Echo": authorization, "X-Form": form },
    });
  });
}

for (const clientAuth of ["client_secret_basic", "client_secret_post"] as const) {
  Deno.test(`Client.fetch() keeps the request's credentials out of an echoed error (${clientAuth})`, async () => {
    await using endpoint = echoEndpoint();
    await using resource = await startAuthServer();
    await using client = clientFor(resource, {
      tokenEndpoint: `${endpoint.url}/token`,
      clientSecret: ECHOED_SECRET,
      clientAuth,
    });
    const { status, text, response } = await fetchText(client.fetch, resource.resourceUrl);
    assert.equal(status, 400);
    const error = TokenError.fromResponse(response);
    assert.equal(error?.error, "invalid_request");
    const seen = [
      text,
      response.statusText,
      ...[...response.headers].flat(),
      error?.message,
      error?.errorDescription,
      error?.body,
      ...[...error?.headers ?? []].flat(),
    ].join("\n");
    assert.match(seen, /\[redacted\]/);
    const basic = btoa(
      `client-id:${new URLSearchParams([["", ECHOED_SECRET]]).toString().slice(1)}`,
    );
    for (const secret of [ECHOED_SECRET, "s3cret", basic, encodeURIComponent(ECHOED_SECRET)]) {
      assert.ok(!seen.includes(secret), `${secret} in ${seen}`);
    }
  });
}

Deno.test("TokenEndpoint.request() keeps a refresh token out of an echoed error", async () => {
  await using echo = echoEndpoint();
  const endpoint = new TokenEndpoint({
    url: new URL(`${echo.url}/token`),
    clientId: "client-id",
    clientAuth: "none",
    fetch,
    now: Date.now,
    timeout: 5_000,
  });
  const refreshToken = "rt-Zk9/+q==";
  const result = await endpoint.request(
    new URLSearchParams({ grant_type: "refresh_token", refresh_token: refreshToken }),
  );
  assert.ok("errorResponse" in result);
  const { body, headers, error } = result.errorResponse;
  const seen = [new TextDecoder().decode(body), ...headers.flat(), error.message, error.body]
    .join("\n");
  assert.match(seen, /grant_type=refresh_token&refresh_token=\[redacted\]/);
  assert.ok(!seen.includes("rt-Zk9"), seen);
});

Deno.test("TokenEndpoint.request() reports an aborted token request with the code aborted", async () => {
  await using server = await startAuthServer();
  const endpoint = new TokenEndpoint({
    url: new URL(server.tokenEndpoint),
    clientId: "client-id",
    clientSecret: "client-secret",
    clientAuth: "client_secret_basic",
    fetch,
    now: Date.now,
    timeout: 5_000,
  });
  const reason = new DOMException("stop", "AbortError");
  await assert.rejects(
    endpoint.request(
      new URLSearchParams({ grant_type: "client_credentials" }),
      AbortSignal.abort(reason),
    ),
    { name: "TokenError", code: "aborted", cause: reason },
  );
});

Deno.test("Client.fetch() rejects with a TokenError for a status a Response cannot carry", async () => {
  await using endpoint = rawServer((conn) =>
    answer(conn, "600 Unknown", '{"error":"odd"}', "Content-Type: application/json\r\n")
  );
  await using resource = await startAuthServer();
  await using client = clientFor(resource, { tokenEndpoint: `${endpoint.url}/token` });
  await assert.rejects(client.fetch(resource.resourceUrl), (error) => {
    assert.ok(error instanceof TokenError, String(error));
    assert.match(error.message, /invalid status 600/);
    assert.equal(error.code, "invalid_response");
    assert.equal(error.status, 600);
    return true;
  });
});

Deno.test("Client dates expiresAt when the token response arrives, not when its body ends", async () => {
  let time = 1_000_000;
  await using resource = await startAuthServer();
  await using client = clientFor(resource, {
    now: () => time,
    // A transport whose token body takes ten seconds (of the injected clock) to read.
    fetch: async (input, init) => {
      const request = new Request(input, init);
      if (request.url !== resource.tokenEndpoint) return fetch(request);
      await request.body?.cancel();
      const body = new ReadableStream({
        pull(controller) {
          time += 10_000;
          controller.enqueue(new TextEncoder().encode('{"access_token":"a","expires_in":60}'));
          controller.close();
        },
      }, { highWaterMark: 0 }); // pulled only when the client reads it
      return new Response(body, { headers: { "Content-Type": "application/json" } });
    },
  });
  const token = await client.getToken();
  assert.equal(token.issuedAt, 1_000_000);
  assert.equal(token.expiresAt, 1_060_000);
});

const json = (body: unknown, status: number, headers: Record<string, string> = {}) =>
  Response.json(body, { status, headers });

// HTTP errors: the response is returned whole but for the endpoint's cookies and challenges (or
// thrown as a TokenError that keeps the challenge).
const httpErrors: {
  name: string;
  respond: () => Response;
  status: number;
  text: string;
  /** A header the endpoint sent: the thrown error has it, the returned response unless `dropped`. */
  header?: [string, string];
  dropped?: boolean;
  /** A Retry-After the client honours: the next call is not tested here (see token_provider_test). */
  throttles?: boolean;
  error?: string;
}[] = [
  {
    name: "500 with an HTML body",
    respond: () =>
      new Response("<html><body>Internal Server Error</body></html>", {
        status: 500,
        headers: { "Content-Type": "text/html" },
      }),
    status: 500,
    text: "<html><body>Internal Server Error</body></html>",
    header: ["content-type", "text/html"],
  },
  {
    name: "400 invalid_client",
    respond: () => json({ error: "invalid_client", error_description: "unknown client" }, 400),
    status: 400,
    text: '{"error":"invalid_client","error_description":"unknown client"}',
    error: "invalid_client",
  },
  {
    name: "401 with a Basic challenge",
    respond: () =>
      json({ error: "invalid_client" }, 401, { "WWW-Authenticate": 'Basic realm="token"' }),
    status: 401,
    text: '{"error":"invalid_client"}',
    header: ["www-authenticate", 'Basic realm="token"'],
    dropped: true,
    error: "invalid_client",
  },
  {
    name: "429 with Retry-After",
    respond: () => json({ error: "slow_down" }, 429, { "Retry-After": "120" }),
    status: 429,
    text: '{"error":"slow_down"}',
    header: ["retry-after", "120"],
    throttles: true,
    error: "slow_down",
  },
];

for (const { name, respond, status, text, header, dropped, throttles, error } of httpErrors) {
  Deno.test(`Client.fetch() returns a token endpoint's ${name} and the next call works`, async () => {
    await using resource = await startAuthServer();
    await using endpoint = flakyEndpoint(resource, respond);
    await using client = clientFor(resource, { tokenEndpoint: endpoint.tokenEndpoint });
    const first = await fetchText(client.fetch, resource.resourceUrl);
    assert.deepEqual([first.status, first.text], [status, text]);
    if (header) assert.equal(first.response.headers.get(header[0]), dropped ? null : header[1]);
    assert.equal(TokenError.fromResponse(first.response)?.status, status);
    assert.equal(resource.resourceRequests.length, 0);
    // Not retried by the client: one hostile answer, one call. A 401 from the
    // token endpoint is not a resource's 401: the next call asks again at once.
    assert.equal(resource.tokenRequests.length, 0);
    if (throttles) return;
    await assertRecovers(client, resource);
    assert.equal(resource.tokenRequests.length, 1);
  });

  Deno.test(`Client.fetch() throws a token endpoint's ${name} with tokenErrors: throw`, async () => {
    await using resource = await startAuthServer();
    await using endpoint = flakyEndpoint(resource, respond);
    await using client = clientFor(resource, {
      tokenEndpoint: endpoint.tokenEndpoint,
      tokenErrors: "throw",
    });
    await assert.rejects(client.fetch(resource.resourceUrl), (thrown) => {
      assert.ok(thrown instanceof TokenError, String(thrown));
      assert.equal(thrown.code, "http_error");
      assert.equal(thrown.status, status);
      assert.equal(thrown.body, text);
      if (header) assert.equal(thrown.headers?.get(header[0]), header[1]);
      assert.equal(thrown.error, error);
      assert.match(thrown.message, new RegExp(`^Cannot obtain a token: .* answered ${status}`));
      return true;
    });
    assert.equal(resource.resourceRequests.length, 0);
    if (!throttles) await assertRecovers(client, resource);
  });
}

const broken: [string, RegExp, (conn: Deno.Conn) => Promise<void>][] = [
  ["closes the connection mid-body", /^Cannot read the token response: /, async (conn) => {
    await readRequest(conn);
    await write(
      conn,
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n" +
        '{"access_token":"trunc',
    );
  }],
  ["closes the connection mid-body of a 500", /^Cannot read the token response: /, async (conn) => {
    await readRequest(conn);
    await write(conn, "HTTP/1.1 500 Oops\r\nContent-Length: 100\r\n\r\n<html>");
  }],
  [
    "resets the connection mid-body",
    /^Cannot (read the token response|reach the token endpoint http:\/\/127\.0\.0\.1:\d+\/token): /,
    async (conn) => {
      // Closing with the request unread makes the kernel send a RST.
      await write(conn, 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"access_token":"reset');
    },
  ],
  [
    "closes the connection before answering",
    /^Cannot reach the token endpoint http:\/\/127\.0\.0\.1:\d+\/token: /,
    async (conn) => {
      await readRequest(conn);
    },
  ],
  [
    "answers with something that is not HTTP",
    /^Cannot reach the token endpoint http:\/\/127\.0\.0\.1:\d+\/token: /,
    async (conn) => {
      await readRequest(conn);
      await write(conn, "SSH-2.0-OpenSSH_9.6\r\n\r\n");
    },
  ],
];

for (const [name, message, hostile] of broken) {
  Deno.test(`Client.fetch() rejects with a TokenError when the token endpoint ${name}`, async () => {
    // The first connection is hostile; the next ones get a valid token.
    await using endpoint = rawServer((conn, n) =>
      n === 0 ? hostile(conn) : answer(
        conn,
        "200 OK",
        JSON.stringify({ access_token: `raw-${n}`, expires_in: 60 }),
        "Content-Type: application/json\r\n",
      )
    );
    await using resource = recordingResource();
    await using client = clientFor({ tokenEndpoint: `${endpoint.url}/token` });
    await assert.rejects(client.fetch(resource.url), (error) => {
      assert.ok(error instanceof TokenError, String(error));
      assert.match(error.message, message);
      assert.equal(error.code, "network_error");
      assert.ok(error.cause !== undefined);
      return true;
    });
    assert.deepEqual(resource.tokens, []);
    // Recovered: the next connection gets a valid token.
    assert.equal((await fetchText(client.fetch, resource.url)).status, 200);
    assert.deepEqual(resource.tokens, ["Bearer raw-1"]);
  });
}

// --- Discovery (RFC 8414) and client authentication with keys (RFC 7523 §2.2), through the client

/** A transport that records every URL it is asked for. */
function recordingFetch(asked: string[]): typeof fetch {
  return (input, init) => {
    asked.push(input instanceof Request ? input.url : String(input));
    return fetch(input, init);
  };
}

Deno.test("TokenEndpoint.request() finds the token endpoint from the issuer, one metadata request for many clients", async () => {
  await using server = await startAuthServer();
  // Clients without a fetch of their own share the default one, and so its metadata cache.
  const options = { issuer: server.issuer, clientId: "id", clientSecret: "secret" };
  await using first = new Client(options);
  await using second = new Client({ ...options, scope: "other" });
  assert.equal(server.metadataRequests.length, 0); // nothing until the first request
  assert.equal((await fetchText(first.fetch, server.resourceUrl)).status, 200);
  assert.equal((await fetchText(second.fetch, server.resourceUrl)).status, 200);
  assert.deepEqual(server.metadataRequests.map((r) => new URL(r.url).pathname), [
    "/.well-known/oauth-authorization-server",
  ]);
  assert.equal(server.tokenRequests.length, 2);
  assert.equal(server.tokenRequests[0]?.url, server.tokenEndpoint);
});

Deno.test("TokenEndpoint.request() discovers an issuer with a path at RFC 8414's location, else OIDC's", async () => {
  for (
    const [documents, path] of [
      [["oauth-authorization-server"], "/.well-known/oauth-authorization-server/tenant"],
      [["openid-configuration"], "/tenant/.well-known/openid-configuration"],
    ] as const
  ) {
    await using server = await startAuthServer({
      issuerPath: "/tenant",
      metadata: { documents: [...documents] },
    });
    await using client = new Client({ issuer: server.issuer, clientId: "id" });
    assert.equal((await fetchText(client.fetch, server.resourceUrl)).status, 200);
    assert.equal(server.metadataRequests.at(-1)?.url, `${server.origin}${path}`);
    assert.equal(server.tokenRequests.length, 1);
  }
});

const BAD_METADATA: [string, MetadataOptions, RegExp][] = [
  [
    "names another issuer",
    { issuer: "https://impostor.example" },
    /it names the issuer "https:\/\/impostor\.example" \(RFC 8414 §3\.3\)/,
  ],
  ["has no token endpoint", { omit: ["token_endpoint"] }, /"token_endpoint" is missing/],
];
for (const [name, metadata, message] of BAD_METADATA) {
  Deno.test(`Client.fetch() rejects with invalid_response when the issuer's metadata ${name}, and sends nothing`, async () => {
    await using server = await startAuthServer({ metadata });
    await using client = new Client({ issuer: server.issuer, clientId: "id", clientSecret: "s" });
    await assert.rejects(client.fetch(server.resourceUrl), (error) => {
      assert.ok(error instanceof TokenError);
      assert.equal(error.code, "invalid_response");
      assert.match(error.message, message);
      return true;
    });
    await assert.rejects(client.getToken(), { name: "TokenError", code: "invalid_response" });
    assert.equal(server.tokenRequests.length, 0);
    assert.equal(server.resourceRequests.length, 0);
    // A failure is not kept: the second call asked again.
    assert.equal(server.metadataRequests.length, 2);
  });
}

Deno.test("Client.fetch() rejects with http_error when the issuer serves no metadata", async () => {
  await using server = await startAuthServer({ metadata: { documents: [] } });
  await using client = new Client({ issuer: server.issuer, clientId: "id", tokenErrors: "throw" });
  await assert.rejects(client.fetch(server.resourceUrl), (error) => {
    assert.ok(error instanceof TokenError);
    assert.equal(error.code, "http_error");
    assert.equal(error.status, 404);
    return true;
  });
  assert.equal(server.resourceRequests.length, 0);
});

Deno.test("TokenEndpoint.request() uses the tokenEndpoint given with an issuer, without discovery", async () => {
  await using server = await startAuthServer({ metadata: { documents: [] } });
  await using client = new Client({
    tokenEndpoint: server.tokenEndpoint,
    issuer: server.issuer,
    clientId: "id",
    clientSecret: "secret",
  });
  assert.equal((await fetchText(client.fetch, server.resourceUrl)).status, 200);
  assert.equal(server.metadataRequests.length, 0);
  assert.equal(server.tokenRequests[0]?.clientAuthMethod, "client_secret_basic");
});

for (
  const [supported, expected] of [
    [undefined, "client_secret_basic"],
    [["client_secret_post"], "client_secret_post"],
    [["private_key_jwt", "client_secret_jwt", "client_secret_post"], "client_secret_post"],
    [["client_secret_jwt"], "client_secret_jwt"],
  ] as const
) {
  Deno.test(`TokenEndpoint.request() authenticates with ${expected} when the metadata lists ${supported?.join(", ") ?? "the server's own"}`, async () => {
    await using server = await startAuthServer({
      clientId: "app",
      clientSecret: "a client secret long enough for HS256 (32+ bytes)",
      ...(supported === undefined ? {} : { clientAuthMethods: [...supported] }),
    });
    await using client = new Client({
      issuer: server.issuer,
      clientId: "app",
      clientSecret: "a client secret long enough for HS256 (32+ bytes)",
    });
    assert.equal((await fetchText(client.fetch, server.resourceUrl)).status, 200);
    assert.equal(server.tokenRequests[0]?.clientAuthMethod, expected);
  });
}

Deno.test("TokenEndpoint.request() applies allowHttp to the discovered endpoints", async () => {
  // A stand-in transport for a plain-http server that is not on loopback.
  const asked: string[] = [];
  const transport: typeof fetch = (input) => {
    const url = String(input);
    asked.push(url);
    if (url === "http://as.example/.well-known/oauth-authorization-server") {
      return Promise.resolve(
        Response.json({ issuer: "http://as.example", token_endpoint: "http://as.example/token" }),
      );
    }
    if (url === "http://as.example/token") {
      return Promise.resolve(Response.json({ access_token: "t", token_type: "Bearer" }));
    }
    return Promise.resolve(new Response(null, { status: 404 }));
  };
  assert.throws(() => new Client({ issuer: "http://as.example", clientId: "id" }), {
    name: "TypeError",
    message: /"issuer" must use https:/,
  });
  await using client = new Client({
    issuer: "http://as.example",
    clientId: "id",
    allowHttp: true,
    fetch: transport,
  });
  assert.equal((await client.getToken()).accessToken, "t");
  assert.deepEqual(asked, [
    "http://as.example/.well-known/oauth-authorization-server",
    "http://as.example/token",
  ]);
});

Deno.test("TokenEndpoint.request() refuses a discovered plain-http endpoint on another host without allowHttp", async () => {
  await using server = await startAuthServer({
    metadata: { members: { token_endpoint: "http://tokens.example/token" } },
  });
  await using client = new Client({ issuer: server.issuer, clientId: "id" });
  await assert.rejects(client.getToken(), {
    name: "TokenError",
    code: "invalid_response",
    message: /"token_endpoint" must use https:/,
  });
  assert.equal(server.tokenRequests.length, 0);
});

// Each key in another form: a PEM of an RSA key signs RS256; PS256 needs an RSA-PSS CryptoKey
// (or a JWK with "alg": "PS256").
for (
  const [alg, form] of [
    ["RS256", "PEM"],
    ["PS256", "CryptoKey"],
    ["ES256", "JWK"],
    ["EdDSA", "PEM"],
  ] as const
) {
  Deno.test(`TokenEndpoint.request() authenticates with private_key_jwt signed ${alg} (${form}), aud = the issuer`, async () => {
    const { publicKey, privateKey } = await keyPair(alg);
    await using server = await startAuthServer({ clientId: "svc", clientKeys: [publicKey] });
    const clientKey = form === "PEM"
      ? await pkcs8Pem(privateKey)
      : form === "JWK"
      ? await crypto.subtle.exportKey("jwk", privateKey)
      : privateKey;
    // Only the issuer and the key: everything else is discovered.
    await using client = new Client({
      issuer: server.issuer,
      clientId: "svc",
      clientKey,
      clientKeyId: "k1",
    });
    assert.equal((await fetchText(client.fetch, server.resourceUrl)).status, 200);
    const [request] = server.tokenRequests;
    assert.equal(request?.clientAuthMethod, "private_key_jwt");
    assert.equal(request?.clientAssertion?.header.alg, alg);
    assert.equal(request?.clientAssertion?.header.kid, "k1");
    assert.equal(request?.clientAssertion?.claims.aud, server.issuer);
    assert.equal(request?.form.get("client_id"), "svc");
    assert.equal(request?.form.has("client_secret"), false);
  });
}

Deno.test("TokenEndpoint.request() sends aud = the token endpoint with clientAssertionAudience token_endpoint", async () => {
  const { publicKey, privateKey } = await keyPair("ES256");
  await using server = await startAuthServer({
    clientId: "svc",
    clientKeys: [publicKey],
    assertionAudience: "token_endpoint",
  });
  const options = { issuer: server.issuer, clientId: "svc", clientKey: privateKey };
  await using refused = new Client({ ...options, tokenErrors: "throw" });
  await assert.rejects(refused.getToken(), { name: "TokenError", error: "invalid_client" });
  await using client = new Client({ ...options, clientAssertionAudience: "token_endpoint" });
  await client.getToken();
  assert.equal(server.tokenRequests[1]?.clientAssertion?.claims.aud, server.tokenEndpoint);
});

Deno.test("TokenEndpoint.request() authenticates with client_secret_jwt, never sending the secret", async () => {
  const secret = "a client secret long enough for HS256 (32+ bytes)";
  await using server = await startAuthServer({ clientId: "app", clientSecret: secret });
  await using client = new Client({
    tokenEndpoint: server.tokenEndpoint,
    clientId: "app",
    clientSecret: secret,
    clientAuth: "client_secret_jwt",
  });
  assert.equal((await fetchText(client.fetch, server.resourceUrl)).status, 200);
  const [request] = server.tokenRequests;
  assert.equal(request?.clientAuthMethod, "client_secret_jwt");
  assert.equal(request?.clientAssertion?.header.alg, "HS256");
  // No issuer: aud is the token endpoint.
  assert.equal(request?.clientAssertion?.claims.aud, server.tokenEndpoint);
  assert.equal(new TextDecoder().decode(request?.body).includes(encodeURIComponent(secret)), false);
  assert.equal(request?.headers.get("authorization"), null);
});

Deno.test("Client.fetch() returns the server's refusal of an assertion signed by another key", async () => {
  const registered = await keyPair("RS256");
  const other = await keyPair("RS256");
  await using server = await startAuthServer({
    clientId: "svc",
    clientKeys: [registered.publicKey],
  });
  await using client = new Client({
    issuer: server.issuer,
    clientId: "svc",
    clientKey: other.privateKey,
  });
  const { status, text, response } = await fetchText(client.fetch, server.resourceUrl);
  assert.equal(status, 401);
  const error = TokenError.fromResponse(response);
  assert.equal(error?.error, "invalid_client");
  assert.match(text, /invalid_client/);
  assert.equal(server.resourceRequests.length, 0);
  // The assertion is a secret of the request: it is not echoed into the error.
  const assertion = server.tokenRequests[0]?.form.get("client_assertion") ?? "";
  assert.ok(assertion.length > 0);
  assert.equal(text.includes(assertion), false);
});

Deno.test("TokenEndpoint.metadata() gives AuthorizationCodeGrant the discovered authorization endpoint", async () => {
  await using server = await startAuthServer({
    metadata: {
      members: { authorization_endpoint: "http://127.0.0.1:9/elsewhere/authorize" },
      // A pushed request would send only its request_uri: this test reads the parameters.
      omit: ["pushed_authorization_request_endpoint"],
    },
  });
  const opened: string[] = [];
  await using client = new Client({
    issuer: server.issuer,
    clientId: "cli",
    grant: new AuthorizationCodeGrant({
      openBrowser: (url) => {
        opened.push(url);
        throw new Error("no browser here");
      },
      portRange: [0, 0],
    }),
  });
  await assert.rejects(client.getToken(), { name: "TokenError", code: "login_failed" });
  assert.ok(opened[0]?.startsWith("http://127.0.0.1:9/elsewhere/authorize?response_type=code&"));
});

Deno.test("TokenEndpoint.revoke() revokes at the discovered revocation endpoint with the client's authentication", async () => {
  await using server = await startAuthServer({ clientId: "app", clientSecret: "secret" });
  const endpoint = new TokenEndpoint({
    issuer: server.issuer,
    clientId: "app",
    clientSecret: "secret",
    fetch,
    now: Date.now,
    timeout: 30_000,
  });
  const result = await endpoint.request(new URLSearchParams({ grant_type: "client_credentials" }));
  assert.ok("token" in result);
  assert.ok(server.accepts(result.token.accessToken));
  await endpoint.revoke(result.token.accessToken, { tokenTypeHint: "access_token" });
  assert.equal(server.accepts(result.token.accessToken), false);
  assert.equal(server.revocationRequests[0]?.clientAuthMethod, "client_secret_basic");
  assert.equal(server.revocations[0]?.tokenTypeHint, "access_token");
  await assert.rejects(
    new TokenEndpoint({
      url: new URL(server.tokenEndpoint),
      clientId: "app",
      fetch,
      now: Date.now,
      timeout: 30_000,
    }).revoke("x"),
    { name: "TypeError", message: /no revocation endpoint is known/ },
  );
});

Deno.test("TokenEndpoint.url is the issuer until discovery, then the token endpoint", async () => {
  await using server = await startAuthServer({ issuerPath: "/tenant" });
  const asked: string[] = [];
  const endpoint = new TokenEndpoint({
    issuer: server.issuer,
    clientId: "id",
    fetch: recordingFetch(asked),
    now: Date.now,
    timeout: 30_000,
  });
  assert.equal(endpoint.url.href, server.issuer);
  assert.equal(endpoint.issuer, server.issuer);
  assert.equal((await endpoint.resolve()).href, server.tokenEndpoint);
  assert.equal(endpoint.url.href, server.tokenEndpoint);
  await endpoint.resolve();
  assert.equal(asked.length, 1); // kept for the endpoint's life
  assert.throws(
    () => new TokenEndpoint({ clientId: "id", fetch, now: Date.now, timeout: 1 }),
    { name: "TypeError", message: 'Cannot create the TokenEndpoint: give "url" or "issuer"' },
  );
});

Deno.test("TokenEndpoint takes its url as a string or a URL, and refuses one that is not a URL", async () => {
  await using server = await startAuthServer();
  const options = { clientId: "client-id", clientSecret: "client-secret", fetch, now: Date.now };
  for (const url of [server.tokenEndpoint, new URL(server.tokenEndpoint)]) {
    const endpoint = new TokenEndpoint({ ...options, url, timeout: 30_000 });
    assert.equal(endpoint.url.href, server.tokenEndpoint);
    // A new URL at each read: changing one changes nothing the endpoint keeps.
    endpoint.url.pathname = "/elsewhere";
    assert.equal((await endpoint.resolve()).href, server.tokenEndpoint);
    const result = await endpoint.request(
      new URLSearchParams({ grant_type: "client_credentials" }),
    );
    assert.ok("token" in result && server.accepts(result.token.accessToken));
  }
  for (const [name, value] of [["url", "not a url"], ["issuer", "/relative"]] as const) {
    assert.throws(
      () => new TokenEndpoint({ ...options, [name]: value, timeout: 1 }),
      new TypeError(`Cannot create the TokenEndpoint: "${name}" is not a valid URL`),
    );
  }
});

Deno.test("TokenEndpoint.endpoint() names a metadata endpoint, its mTLS alias for a client that presents its certificate", async () => {
  await using server = await startAuthServer({
    metadata: {
      members: {
        mtls_endpoint_aliases: {
          pushed_authorization_request_endpoint: "https://mtls.example/par",
          device_authorization_endpoint: "https://mtls.example/device",
        },
      },
    },
  });
  const options = { issuer: server.issuer, clientId: "id", fetch, now: Date.now, timeout: 30_000 };
  const plain = new TokenEndpoint(options);
  const mtls = new TokenEndpoint({ ...options, mtlsFetch: fetch });
  assert.equal(
    (await plain.endpoint("pushed_authorization_request_endpoint"))?.href,
    server.url("/par"),
  );
  assert.equal(
    (await mtls.endpoint("pushed_authorization_request_endpoint"))?.href,
    "https://mtls.example/par",
  );
  assert.equal((await mtls.endpoint("revocation_endpoint"))?.href, server.revocationEndpoint);
  assert.equal(await plain.endpoint("userinfo_endpoint"), undefined);
  const noIssuer = new TokenEndpoint({
    ...options,
    issuer: undefined,
    url: new URL(server.tokenEndpoint),
  });
  assert.equal(await noIssuer.endpoint("revocation_endpoint"), undefined, "no metadata to read");
});

Deno.test("TokenEndpoint.post() with dpop: true signs a proof, and sends once more with a new nonce only", async () => {
  const proofs: (string | null)[] = [];
  let answers = [
    () =>
      Response.json({ error: "use_dpop_nonce" }, { status: 400, headers: { "DPoP-Nonce": "n1" } }),
    () =>
      Response.json({ error: "use_dpop_nonce" }, { status: 400, headers: { "DPoP-Nonce": "n2" } }),
  ];
  await using server = serve((request) => {
    proofs.push(request.headers.get("DPoP"));
    return (answers.shift() ?? (() => Response.json({ ok: true }, { status: 201 })))();
  });
  const key = await DpopKey.generate();
  const endpoint = new TokenEndpoint({
    url: new URL(`${server.url}/token`),
    clientId: "id",
    clientSecret: "secret",
    fetch,
    now: Date.now,
    timeout: 30_000,
    dpop: key,
  });
  const url = new URL(`${server.url}/par`);
  const refused = await endpoint.post(url, new URLSearchParams(), { name: "PAR", dpop: true });
  assert.equal(refused.status, 400, "one retry, then the answer");
  const nonceOf = (proof: string | null) =>
    JSON.parse(atob(proof!.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/"))).nonce;
  assert.deepEqual(proofs.map(nonceOf), [undefined, "n1"]);
  const accepted = await endpoint.post(url, new URLSearchParams(), { name: "PAR", dpop: true });
  assert.equal(accepted.status, 201);
  assert.equal(nonceOf(proofs[2]!), "n2", "the latest nonce is kept");
  answers = [];
  await endpoint.post(url, new URLSearchParams(), { name: "device authorization endpoint" });
  assert.equal(proofs[3], null, "no proof unless asked for");
});

Deno.test("TokenEndpoint.post() redacts the request's credentials from an answer that echoes them", async () => {
  const secret = "s3cret-value-that-must-not-leak";
  await using server = serve(async (request) => {
    const echoed = `${request.headers.get("authorization")} ${await request.text()}`;
    return Response.json({ error: "invalid_client", error_description: `got ${echoed}` }, {
      status: 401,
      headers: { "X-Echo": echoed },
    });
  });
  for (const clientAuth of ["client_secret_basic", "client_secret_post"] as const) {
    const endpoint = new TokenEndpoint({
      url: new URL(`${server.url}/token`),
      clientId: "id",
      clientSecret: secret,
      clientAuth,
      fetch,
      now: Date.now,
      timeout: 30_000,
    });
    const answer = await endpoint.post(new URL(`${server.url}/par`), new URLSearchParams(), {
      name: "pushed authorization request endpoint",
    });
    const shown = `${answer.body} ${answer.headers.get("x-echo")}`;
    assert.equal(answer.status, 401);
    assert(!shown.includes(secret), clientAuth);
    assert(!shown.includes(btoa(`id:${secret}`)), clientAuth);
    assert.match(shown, /\[redacted\]/);
  }
});
