// Soak run (not a test): many requests at high concurrency through one client,
// with short-lived tokens and a token endpoint that fails 10% of the time.
//
//   deno task soak [--requests 100000] [--concurrency 100] [--lifetime 5]
//                  [--failure-rate 0.1] [--speed 100] [--revoke-every 5000]
//
// The client's clock is injected and runs `speed` times faster than real
// time, in discrete ticks, so a 5 s token lifetime passes in 50 ms and a run
// covers many renewals. Counts what must be zero (requests sent with an
// empty, expired or unknown token; unhandled rejections; errors other than
// the token endpoint's answers) and samples memory after warm-up and at the
// end. Exits with 1 when a must-be-zero count is not zero.

import { Client, TokenError } from "../mod.ts";

function option(name: string, fallback: number): number {
  const index = Deno.args.indexOf(`--${name}`);
  if (index === -1) return fallback;
  const value = Number(Deno.args[index + 1]);
  if (!Number.isFinite(value) || value < 0) {
    throw new RangeError(`Cannot run the soak: --${name} must be a non-negative number`);
  }
  return value;
}

const REQUESTS = option("requests", 100_000);
const CONCURRENCY = option("concurrency", 100);
const LIFETIME_SECONDS = option("lifetime", 5);
const FAILURE_RATE = option("failure-rate", 0.1);
const SPEED = option("speed", 100);
const REVOKE_EVERY = option("revoke-every", 5_000);
const TICK_MS = 5;

// A discrete accelerated clock: it moves only between macrotasks, so the
// client's freshness check and the send that follows see the same time.
let clockTime = 1_700_000_000_000;
const now = () => clockTime;
const ticker = setInterval(() => clockTime += TICK_MS * SPEED, TICK_MS);

const counts = {
  tokenRequests: 0,
  tokenFailuresServed: 0,
  resourceRequests: 0,
  rejectedWith401: 0,
  sentEmpty: 0,
  sentExpired: 0,
  sentUnknown: 0,
  tokenErrorResponses: 0,
  thrownTokenErrors: 0,
  otherErrors: 0,
  unhandledRejections: 0,
};
const otherErrorSamples: string[] = [];

addEventListener("unhandledrejection", (event) => {
  counts.unhandledRejections++;
  otherErrorSamples.push(`unhandled: ${event.reason}`);
  event.preventDefault();
});

// The token endpoint: issues t<n> for LIFETIME_SECONDS, fails FAILURE_RATE of requests with 500.
let issued = 0;
const tokenServer = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
  await req.arrayBuffer();
  counts.tokenRequests++;
  if (Math.random() < FAILURE_RATE) {
    counts.tokenFailuresServed++;
    return Response.json({ error: "server_error" }, { status: 500 });
  }
  return Response.json({
    access_token: `t${++issued}`,
    token_type: "Bearer",
    expires_in: LIFETIME_SECONDS,
  });
});

// The resource: accepts any token it was not told to reject; every
// REVOKE_EVERY requests it revokes the token it just saw (a 401, renewal and replay).
const revoked = new Set<string>();
const resourceServer = Deno.serve(
  { hostname: "127.0.0.1", port: 0, onListen() {} },
  async (req) => {
    const body = await req.arrayBuffer();
    const n = ++counts.resourceRequests;
    const token = (req.headers.get("authorization") ?? "").replace(/^Bearer /, "");
    if (revoked.has(token)) {
      counts.rejectedWith401++;
      return new Response(null, {
        status: 401,
        headers: { "WWW-Authenticate": 'Bearer error="invalid_token"' },
      });
    }
    if (REVOKE_EVERY > 0 && n % REVOKE_EVERY === 0) revoked.add(token);
    return new Response(String(body.byteLength));
  },
);

const tokenEndpoint = `http://127.0.0.1:${tokenServer.addr.port}/token`;
const resourceUrl = `http://127.0.0.1:${resourceServer.addr.port}/resource`;

// What the client was told about each token: when it expires on its clock.
const expiresAt = new Map<string, number>();

/**
 * The transport: records token responses as the client reads them, checks every resource
 * request as it goes out.
 */
const transport: typeof fetch = async (input, init) => {
  const request = new Request(input, init);
  if (request.url === tokenEndpoint) {
    const response = await fetch(request);
    const bytes = new Uint8Array(await response.arrayBuffer());
    // The client dates the token when it has read the body: now, on this clock.
    if (response.ok) {
      const { access_token, expires_in } = JSON.parse(new TextDecoder().decode(bytes));
      expiresAt.set(access_token, now() + expires_in * 1000);
    }
    return new Response(bytes, response);
  }
  const token = (request.headers.get("authorization") ?? "").replace(/^Bearer ?/, "");
  const expiry = expiresAt.get(token);
  if (token === "") counts.sentEmpty++;
  else if (expiry === undefined) counts.sentUnknown++;
  else if (now() >= expiry) counts.sentExpired++;
  return await fetch(request);
};

const client = new Client({
  tokenEndpoint,
  clientId: "soak",
  clientSecret: "soak-secret",
  fetch: transport,
  now,
});

type Sample = { done: number; rssMiB: number; heapUsedMiB: number };
const samples: Sample[] = [];
function sample(done: number): Sample {
  (globalThis as { gc?: () => void }).gc?.();
  const { rss, heapUsed } = Deno.memoryUsage();
  const taken = {
    done,
    rssMiB: Math.round(rss / 2 ** 20 * 10) / 10,
    heapUsedMiB: Math.round(heapUsed / 2 ** 20 * 10) / 10,
  };
  samples.push(taken);
  return taken;
}

let started = 0;
let done = 0;
const sampleEvery = Math.max(1, Math.floor(REQUESTS / 10));

async function worker(id: number): Promise<void> {
  while (started < REQUESTS) {
    const n = started++;
    // A mix of bodies: none, a string, a stream (teed for the replay).
    const init: RequestInit = n % 3 === 0
      ? {}
      : n % 3 === 1
      ? { method: "POST", body: `request ${n} from worker ${id}` }
      : {
        method: "PUT",
        body: new Blob([`streamed ${n}`]).stream(),
      };
    try {
      const response = await client.fetch(resourceUrl, init);
      await response.arrayBuffer();
      if (response.status === 500) counts.tokenErrorResponses++;
    } catch (error) {
      if (error instanceof TokenError) counts.thrownTokenErrors++;
      else {
        counts.otherErrors++;
        if (otherErrorSamples.length < 5) otherErrorSamples.push(String(error));
      }
    }
    done++;
    if (done % sampleEvery === 0) sample(done);
  }
}

const startedAt = performance.now();
const clockStart = clockTime;
const first = sample(0);
await Promise.all(Array.from({ length: CONCURRENCY }, (_, id) => worker(id)));
const seconds = (performance.now() - startedAt) / 1000;
await client.close();
clearInterval(ticker);
await tokenServer.shutdown();
await resourceServer.shutdown();

// Warm-up: the first tenth of the run.
const warm = samples.find((s) => s.done >= sampleEvery) ?? first;
const end = samples.at(-1) ?? first;
const mustBeZero = {
  sentEmpty: counts.sentEmpty,
  sentExpired: counts.sentExpired,
  sentUnknown: counts.sentUnknown,
  unhandledRejections: counts.unhandledRejections,
  otherErrors: counts.otherErrors,
};
const result = {
  settings: {
    requests: REQUESTS,
    concurrency: CONCURRENCY,
    lifetimeSeconds: LIFETIME_SECONDS,
    failureRate: FAILURE_RATE,
    speed: SPEED,
    revokeEvery: REVOKE_EVERY,
  },
  seconds: Math.round(seconds * 10) / 10,
  requestsPerSecond: Math.round(REQUESTS / seconds),
  clockSecondsCovered: Math.round((clockTime - clockStart) / 1000),
  tokensIssued: issued,
  counts,
  memory: {
    afterWarmUp: warm,
    end,
    rssGrowthPercent: Math.round((end.rssMiB / warm.rssMiB - 1) * 1000) / 10,
    samples,
  },
  otherErrorSamples,
  passed: Object.values(mustBeZero).every((n) => n === 0),
};
console.log(JSON.stringify(result, null, 2));
if (!result.passed) Deno.exit(1);
