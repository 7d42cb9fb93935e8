// Property-based tests: whatever the token endpoint answers, whatever the
// options, bodies, clock jumps and aborts, the client sends only good tokens,
// replays bodies byte for byte, and throws nothing but TokenError, the abort
// reason or the transport's own error. Each property reuses its servers and
// runs RUNS times.

import assert from "node:assert/strict";
import fc from "fast-check";
import { Client, type ClientEvent, MemoryTokenStorage, TokenError } from "../mod.ts";
import { startAuthServer } from "../testing.ts";
import { ManualClock, serve } from "./_helpers.ts";

const RUNS = 1000;

/** Characters an access token may carry in a header (VSCHAR without space). */
const TOKEN_CHARS = Array.from(
  { length: 0x7e - 0x21 + 1 },
  (_, i) => String.fromCharCode(0x21 + i),
);
const goodToken = fc.string({ unit: fc.constantFrom(...TOKEN_CHARS), minLength: 1, maxLength: 40 });
const anyText = fc.string({ unit: "binary", maxLength: 30 });
const anyJson = fc.jsonValue({ maxDepth: 2 });

/** A header value any server could send: Latin-1 without controls. */
const headerValue = fc.string({
  unit: fc.integer({ min: 0x20, max: 0xff }).filter((c) => c !== 0x7f).map((c) =>
    String.fromCharCode(c)
  ),
  maxLength: 30,
});
const HEADER_NAMES = [
  "content-type",
  "cache-control",
  "www-authenticate",
  "retry-after",
  "set-cookie",
  "location",
  "content-language",
  "pragma",
  "x-custom",
];
const headers = (names: string[]) =>
  fc.array(fc.tuple(fc.constantFrom(...names), headerValue), { maxLength: 4 });

interface Scripted {
  status: number;
  headers: [string, string][];
  body: string;
  /** A well-formed token response: the request must go out with its token. */
  valid: boolean;
}

const tokenObject = fc.record({
  access_token: fc.oneof(goodToken, anyText, anyJson),
  token_type: fc.oneof(fc.constantFrom("Bearer", "bearer", "BEARER", "mac", "DPoP", ""), anyJson),
  expires_in: fc.oneof(fc.integer(), fc.double(), fc.integer().map(String), anyText, anyJson),
  refresh_token: fc.oneof(goodToken, anyJson),
  scope: fc.oneof(anyText, anyJson),
  error: fc.oneof(fc.constantFrom("invalid_client", "server_error"), anyJson),
  id_token: anyJson,
}, { requiredKeys: [] });

const validResponse: fc.Arbitrary<Scripted> = fc.record({
  status: fc.integer({ min: 200, max: 299 }).filter((s) => s !== 204 && s !== 205),
  headers: headers(HEADER_NAMES),
  body: fc.record({
    access_token: goodToken,
    token_type: fc.constantFrom("Bearer", "bearer", "BEARER", undefined),
    expires_in: fc.option(fc.integer({ min: 1, max: 10 ** 9 }), { nil: undefined }),
    scope: fc.option(anyText, { nil: undefined }),
    refresh_token: fc.option(goodToken, { nil: undefined }),
  }).map((body) => JSON.stringify(body)),
  valid: fc.constant(true),
});

const anyResponse: fc.Arbitrary<Scripted> = fc.record({
  status: fc.oneof(
    fc.constant(200),
    fc.integer({ min: 200, max: 599 }).filter((s) => ![204, 205, 304].includes(s)),
  ),
  // A Content-Encoding the body does not have breaks the read, not the client.
  headers: headers([...HEADER_NAMES, "content-encoding"]),
  body: fc.oneof(
    tokenObject.map((body) => JSON.stringify(body)),
    anyJson.map((body) => JSON.stringify(body)),
    anyText,
    fc.constant(""),
  ),
  valid: fc.constant(false),
});

Deno.test("Client.fetch() sends only the token of a well-formed response, whatever the token endpoint answers", async () => {
  let scripted: Scripted | undefined;
  await using endpoint = serve(() =>
    new Response(scripted!.body, { status: scripted!.status, headers: scripted!.headers })
  );
  const sent: (string | null)[] = [];
  await using resource = serve((request) => {
    sent.push(request.headers.get("authorization"));
    return new Response("ok");
  });
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(validResponse, anyResponse),
      fc.constantFrom("return" as const, "throw" as const),
      async (response, tokenErrors) => {
        scripted = response;
        sent.length = 0;
        await using client = new Client({
          tokenEndpoint: `${endpoint.url}/token`,
          clientId: "id",
          clientSecret: "secret",
          tokenErrors,
        });
        let outcome: { status: number; text: string } | { error: unknown };
        try {
          const answer = await client.fetch(resource.url);
          outcome = { status: answer.status, text: await answer.text() };
        } catch (error) {
          outcome = { error };
        }
        if ("error" in outcome) {
          assert.ok(outcome.error instanceof TokenError, String(outcome.error));
        }
        assert.ok(sent.length <= 1);
        if (sent.length === 1) {
          const token = JSON.parse(response.body).access_token;
          assert.equal(typeof token, "string");
          assert.notEqual(token, "");
          assert.equal(sent[0], `Bearer ${token}`);
          assert.ok(response.status >= 200 && response.status < 300);
          assert.deepEqual(outcome, { status: 200, text: "ok" });
        } else if ("status" in outcome) {
          // Not sent: the caller got the token endpoint's own error response.
          assert.equal(outcome.status, response.status);
          assert.ok(response.status >= 300);
          assert.equal(tokenErrors, "return");
        }
        if (response.valid) assert.equal(sent.length, 1);
      },
    ),
    { numRuns: RUNS },
  );
});

const reserved = fc.constantFrom("grant_type", "client_id", "client_secret", "scope");
const anyString = fc.string({ unit: "binary", maxLength: 12 });
const stringOrList = fc.oneof(anyString, fc.array(anyString, { maxLength: 3 }));

/** Decodes one form-encoded half of a Basic credential (RFC 6749 §2.3.1). */
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
        const { form, headers } = server.tokenRequests[before];
        assert.deepEqual(form.getAll("grant_type"), ["client_credentials"]);
        const words = [scope ?? []].flat().join(" ").split(/\s+/).filter(Boolean);
        assert.deepEqual(form.get("scope")?.split(" ") ?? [], words);
        for (const [name, value] of Object.entries(tokenParams ?? {})) {
          assert.deepEqual(form.getAll(name), [value].flat(), name);
        }
        const method = clientAuth ?? (clientSecret ? "client_secret_basic" : "none");
        const basic = /^Basic (.+)$/.exec(headers.get("authorization") ?? "");
        if (method === "client_secret_basic") {
          const pair = new TextDecoder().decode(
            Uint8Array.from(atob(basic![1]), (c) => c.charCodeAt(0)),
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

type BodyCase =
  | { kind: "string"; text: string }
  | { kind: "bytes" | "buffer"; bytes: Uint8Array }
  | { kind: "blob" | "stream"; parts: Uint8Array[] }
  | { kind: "params"; entries: [string, string][] }
  | { kind: "form"; fields: [string, string | Uint8Array][] }
  | { kind: "large"; size: number; fill: number };

const smallBytes = fc.uint8Array({ maxLength: 300 });
const bodyCase: fc.Arbitrary<BodyCase> = fc.oneof(
  fc.record({ kind: fc.constant("string" as const), text: fc.string({ unit: "binary" }) }),
  fc.record({ kind: fc.constantFrom("bytes" as const, "buffer" as const), bytes: smallBytes }),
  fc.record({
    kind: fc.constantFrom("blob" as const, "stream" as const),
    parts: fc.array(fc.uint8Array({ maxLength: 2048 }), { maxLength: 12 }),
  }),
  fc.record({
    kind: fc.constant("params" as const),
    entries: fc.array(fc.tuple(anyString, anyString)),
  }),
  fc.record({
    kind: fc.constant("form" as const),
    fields: fc.array(fc.tuple(anyString, fc.oneof(anyString, smallBytes)), { maxLength: 4 }),
  }),
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("large" as const),
      size: fc.integer({ min: 64 * 1024, max: 512 * 1024 }),
      fill: fc.integer({ min: 0, max: 255 }),
    }),
  },
);

function concat(parts: Uint8Array[]): Uint8Array {
  const bytes = new Uint8Array(parts.reduce((n, part) => n + part.byteLength, 0));
  let offset = 0;
  for (const part of parts) {
    bytes.set(part, offset);
    offset += part.byteLength;
  }
  return bytes;
}

/** The body to send, and the bytes it must arrive as (unknown for FormData: its boundary is random). */
function makeBody(body: BodyCase): { init: BodyInit; expected?: Uint8Array } {
  const encode = (text: string) => new TextEncoder().encode(text);
  switch (body.kind) {
    case "string":
      return { init: body.text, expected: encode(body.text) };
    case "bytes":
      return { init: body.bytes.slice(), expected: body.bytes };
    case "buffer":
      return { init: body.bytes.slice().buffer, expected: body.bytes };
    case "blob":
      return { init: new Blob(body.parts.map((p) => p.slice())), expected: concat(body.parts) };
    case "stream": {
      const parts = body.parts.map((p) => p.slice());
      const init = new ReadableStream<Uint8Array>({
        pull(controller) {
          const next = parts.shift();
          if (next === undefined) controller.close();
          else controller.enqueue(next);
        },
      });
      return { init, expected: concat(body.parts) };
    }
    case "params": {
      const params = new URLSearchParams(body.entries);
      return { init: params, expected: encode(params.toString()) };
    }
    case "form": {
      const form = new FormData();
      for (const [name, value] of body.fields) {
        if (typeof value === "string") form.append(name, value);
        else form.append(name, new Blob([value.slice()]), "file.bin");
      }
      return { init: form };
    }
    case "large": {
      const bytes = new Uint8Array(body.size).fill(body.fill);
      const chunks = [bytes.subarray(0, body.size >> 1), bytes.subarray(body.size >> 1)];
      const init = new ReadableStream<Uint8Array>({
        pull(controller) {
          const next = chunks.shift();
          if (next === undefined) controller.close();
          else controller.enqueue(next.slice());
        },
      });
      return { init, expected: bytes };
    }
  }
}

Deno.test("Client.fetch() replays any body byte for byte after a 401", async () => {
  await using server = await startAuthServer();
  const attempts: { body: Uint8Array; headers: Headers; method: string; token?: string }[] = [];
  server.route("/replay", (_request, recorded) => {
    attempts.push(recorded);
    return new Response(null, { status: attempts.length === 1 ? 401 : 200 });
  });
  await using client = new Client({
    tokenEndpoint: server.tokenEndpoint,
    clientId: "id",
    clientSecret: "secret",
  });
  await fc.assert(
    fc.asyncProperty(
      bodyCase,
      fc.constantFrom("POST", "PUT", "PATCH", "DELETE"),
      async (body, method) => {
        attempts.length = 0;
        const { init, expected } = makeBody(body);
        const response = await client.fetch(server.url("/replay"), { method, body: init });
        await response.body?.cancel();
        assert.equal(response.status, 200);
        assert.equal(attempts.length, 2);
        const [first, replay] = attempts;
        assert.notEqual(replay.token, first.token);
        assert.equal(replay.method, method);
        assert.deepEqual(replay.body, first.body);
        if (expected) assert.deepEqual(replay.body, expected);
        assert.equal(replay.headers.get("content-type"), first.headers.get("content-type"));
      },
    ),
    { numRuns: RUNS },
  );
});

type ClockAction =
  | { type: "advance"; ms: number }
  | { type: "fetch"; count: number }
  | { type: "lifetime"; seconds: number | null };

const clockAction: fc.Arbitrary<ClockAction> = fc.oneof(
  fc.record({
    type: fc.constant("advance" as const),
    ms: fc.oneof(
      fc.integer({ min: -7_200_000, max: 7_200_000 }),
      fc.integer({ min: -120_000, max: 120_000 }),
    ),
  }),
  fc.record({ type: fc.constant("fetch" as const), count: fc.integer({ min: 1, max: 3 }) }),
  fc.record({
    type: fc.constant("lifetime" as const),
    seconds: fc.option(fc.integer({ min: 1, max: 7200 }), { nil: null }),
  }),
);

/** Waits until the client has taken in every token the endpoint issued. */
async function settle(events: ClientEvent[], issued: () => number): Promise<void> {
  while (events.filter((e) => e.type === "token").length < issued()) {
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

Deno.test("Client.fetch() never sends an expired token across clock jumps forwards and backwards", async () => {
  const clock = new ManualClock();
  let lifetime: number | null = 60;
  let issued = 0;
  await using endpoint = serve(() => {
    // The token says when it was issued and for how long, so the resource can tell.
    const body: Record<string, unknown> = {
      access_token: `t${++issued}.${clock.time}.${lifetime ?? "none"}`,
    };
    if (lifetime !== null) body.expires_in = lifetime;
    return Response.json(body);
  });
  const stale: string[] = [];
  await using resource = serve((request) => {
    const value = request.headers.get("authorization") ?? "";
    const match = /^Bearer t\d+\.(\d+)\.(\d+|none)$/.exec(value);
    if (!match) stale.push(`malformed: ${value}`);
    else if (match[2] !== "none" && clock.time >= Number(match[1]) + Number(match[2]) * 1000) {
      stale.push(`${value} sent at ${clock.time}`);
    }
    return new Response("ok");
  });
  await fc.assert(
    fc.asyncProperty(
      fc.array(clockAction, { minLength: 1, maxLength: 16 }),
      fc.integer({ min: 0, max: 120_000 }),
      async (actions, renewalMargin) => {
        stale.length = 0;
        const events: ClientEvent[] = [];
        await using client = new Client({
          tokenEndpoint: `${endpoint.url}/token`,
          clientId: "id",
          now: clock.now,
          renewalMargin,
          onEvent: (event) => events.push(event),
        });
        const start = issued;
        for (const action of actions) {
          if (action.type === "fetch") {
            const responses = await Promise.all(
              Array.from({ length: action.count }, () => client.fetch(resource.url)),
            );
            await Promise.all(responses.map((r) => r.body?.cancel()));
            continue;
          }
          // Nothing dates a token while the clock moves: let renewals land first.
          await settle(events, () => issued - start);
          if (action.type === "advance") clock.advance(action.ms);
          else lifetime = action.seconds;
        }
        await settle(events, () => issued - start);
        assert.deepEqual(stale, []);
      },
    ),
    { numRuns: RUNS },
  );
});

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

Deno.test("Client.fetch() settles with a response or the abort reason when aborted at any moment", async () => {
  const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  let tokenDelay = 0;
  let resourceDelay = 0;
  let count = 0;
  await using endpoint = serve(async () => {
    await wait(tokenDelay);
    return Response.json({ access_token: `t${++count}`, expires_in: 60 });
  });
  await using resource = serve(async () => {
    await wait(resourceDelay);
    return new Response("ok");
  });
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 0, max: 4 }),
      fc.integer({ min: 0, max: 4 }),
      fc.integer({ min: 0, max: 6 }),
      fc.boolean(),
      async (token, answer, abortAfter, body) => {
        tokenDelay = token;
        resourceDelay = answer;
        await using client = new Client({ tokenEndpoint: `${endpoint.url}/token`, clientId: "id" });
        const controller = new AbortController();
        const timer = setTimeout(() => controller.abort(), abortAfter);
        try {
          const response = await client.fetch(resource.url, {
            method: "POST",
            body: body ? "payload" : undefined,
            signal: controller.signal,
          });
          assert.equal(await response.text(), "ok");
        } catch (error) {
          assert.ok(controller.signal.aborted);
          assert.ok(
            error === controller.signal.reason ||
              (error instanceof DOMException && error.name === "AbortError"),
            String(error),
          );
        } finally {
          clearTimeout(timer);
        }
      },
    ),
    { numRuns: RUNS },
  );
  await wait(10); // lets the servers' last delays run out
});
