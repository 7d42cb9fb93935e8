// Shared test helpers: a manual clock, a client wired to a token endpoint, and
// bare servers for what the stand-in server does not script.

import assert from "node:assert/strict";
import { Client, type ClientEvent, type ClientOptions } from "../mod.ts";
import type { AuthServer } from "../testing.ts";

type Handler = (request: Request) => Response | Promise<Response>;

/** A clock tests move by hand. */
export class ManualClock {
  time = 1_700_000_000_000;
  now = (): number => this.time;
  advance(ms: number): void {
    this.time += ms;
  }
}

/** A client of `server`'s token endpoint (a stand-in or any other), its events recorded. */
export function clientFor(
  server: Pick<AuthServer, "tokenEndpoint">,
  options: Partial<ClientOptions> = {},
): Client & { events: ClientEvent[] } {
  const events: ClientEvent[] = [];
  const client = new Client({
    tokenEndpoint: server.tokenEndpoint,
    clientId: "client-id",
    clientSecret: "client-secret",
    // Requests and replays are checked in client_event_test.ts: here they would crowd the rest out.
    onEvent: (event) => event.type !== "request" && event.type !== "replay" && events.push(event),
    ...options,
  });
  return Object.assign(client, { events });
}

/** Fetches and reads the body, so nothing is left open. */
export async function fetchText(
  f: typeof fetch,
  input: string | URL | Request,
  init?: RequestInit,
): Promise<{ status: number; text: string; response: Response }> {
  const response = await f(input, init);
  return { status: response.status, text: await response.text(), response };
}

/** Fetches and drops the body; returns the status. */
export async function fetchStatus(f: typeof fetch, url: string): Promise<number> {
  const response = await f(url);
  await response.body?.cancel();
  return response.status;
}

/** Resolves when `events` gets an event matching `test`. */
export async function nextEvent(
  events: ClientEvent[],
  test: (event: ClientEvent) => boolean,
): Promise<ClientEvent> {
  for (let i = 0; i < 1000; i++) {
    const found = events.find(test);
    if (found) return found;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error("Cannot find the expected event");
}

/** A bare loopback server for responses the stand-in server does not script. */
export function serve(
  handler: Handler,
): { url: string; close(): Promise<void>; [Symbol.asyncDispose](): Promise<void> } {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  const close = () => server.shutdown();
  return { url: `http://127.0.0.1:${server.addr.port}`, close, [Symbol.asyncDispose]: close };
}

/**
 * A token endpoint that answers its first `times` requests with `hostile`,
 * then recovers: it passes requests on to the stand-in server `upstream`.
 */
export function flakyEndpoint(upstream: AuthServer, hostile: Handler, times = 1) {
  let hits = 0;
  const endpoint = serve(async (request) => {
    if (hits++ < times) return hostile(request);
    return await fetch(upstream.tokenEndpoint, {
      method: "POST",
      headers: request.headers,
      body: await request.arrayBuffer(),
    });
  });
  return Object.assign(endpoint, { tokenEndpoint: `${endpoint.url}/token` });
}

/** The next call gets a token from the recovered endpoint and reaches the resource with it. */
export async function assertRecovers(client: Client, resource: AuthServer): Promise<void> {
  const { status } = await fetchText(client.fetch, resource.resourceUrl);
  assert.equal(status, 200);
  assert.equal(resource.resourceRequests.length, 1);
  assert.equal(resource.resourceRequests[0]?.token, resource.issuedTokens.at(-1));
}

/** A resource that accepts any token and records the ones it got. */
export function recordingResource() {
  const tokens: (string | null)[] = [];
  const resource = serve((request) => {
    tokens.push(request.headers.get("authorization"));
    return new Response("ok");
  });
  return Object.assign(resource, { tokens });
}
