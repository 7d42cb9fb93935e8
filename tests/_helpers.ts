// Shared test helpers: a manual clock and a client wired to a stand-in server.

import { Client, type ClientEvent, type ClientOptions } from "../mod.ts";
import type { AuthServer } from "../testing.ts";

/** A clock tests move by hand. */
export class ManualClock {
  time = 1_700_000_000_000;
  now = (): number => this.time;
  advance(ms: number): void {
    this.time += ms;
  }
}

/** A client for `server` with an injected clock and its events recorded. */
export function clientFor(
  server: AuthServer,
  options: Partial<ClientOptions> = {},
): Client & { events: ClientEvent[] } {
  const events: ClientEvent[] = [];
  const client = new Client({
    tokenEndpoint: server.tokenEndpoint,
    clientId: "client-id",
    clientSecret: "client-secret",
    onEvent: (event) => events.push(event),
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
  handler: (request: Request) => Response | Promise<Response>,
): { url: string; close(): Promise<void>; [Symbol.asyncDispose](): Promise<void> } {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  const close = () => server.shutdown();
  return { url: `http://127.0.0.1:${server.addr.port}`, close, [Symbol.asyncDispose]: close };
}
