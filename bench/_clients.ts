/**
 * The contenders, each as a `fetch`: plain `fetch` with a fixed header (the
 * physical limit), `@alf/client` with memory or KV storage, and `OAuth2Fetch`
 * of `@badgateway/oauth2-client`.
 *
 * @module
 */

import { OAuth2Client, OAuth2Fetch } from "npm:@badgateway/oauth2-client@3.3.1";
import * as alf from "../mod.ts";
import type { ClientEvent, ClientOptions } from "../mod.ts";
import { type BenchServer, CLIENT } from "./_servers.ts";

/** A contender: a `fetch` and how to dispose of it. */
export interface Contender {
  readonly name: string;
  readonly fetch: typeof fetch;
  close(): Promise<void>;
}

/** Names of the contenders, in table order. */
export const PLAIN = "plain fetch";
export const HEADER_WRAPPER = "header-only wrapper";
export const ALF_MEMORY = "@alf/client (memory)";
export const ALF_KV = "@alf/client (KV)";
export const ALF_DPOP = "@alf/client (DPoP, ES256)";
export const ALF_DPOP_EDDSA = "@alf/client (DPoP, EdDSA)";
export const OAUTH2_FETCH = "OAuth2Fetch";

/**
 * Plain `fetch` with a fixed `Authorization` header, as a caller who already
 * has a token writes it: the header merged into the `init` object.
 */
export async function plainFetch(
  server: BenchServer,
  transport: typeof fetch = fetch,
): Promise<Contender> {
  const authorization = `Bearer ${await server.issueToken()}`;
  return {
    name: PLAIN,
    fetch: (input, init) =>
      transport(input, {
        ...init,
        headers: { ...init?.headers as Record<string, string>, authorization },
      }),
    close: () => Promise.resolve(),
  };
}

/**
 * A wrapper that only adds the header, the physical limit of any `fetch`
 * wrapper: it takes what `fetch` takes (a `Request` or a URL, headers in any
 * form) and adds the `Authorization` header of a token it already has,
 * nothing else: no expiry check, no replay, no 401 handling.
 */
export function headerWrapper(
  authorization: string,
  transport: typeof fetch = fetch,
): typeof fetch {
  return (input, init) => {
    const given = init?.headers;
    if (given === undefined && !(input instanceof Request) || isRecord(given)) {
      // The common case, as plain fetch's caller writes it: one object spread.
      return transport(input, { ...init, headers: { ...given, authorization } });
    }
    const headers = new Headers(given ?? (input as Request).headers);
    headers.set("authorization", authorization);
    return transport(input, { ...init, headers });
  };
}

function isRecord(headers: HeadersInit | undefined): headers is Record<string, string> {
  return typeof headers === "object" && !(headers instanceof Headers) && !Array.isArray(headers);
}

/** {@linkcode headerWrapper} with a token obtained beforehand. */
export async function headerWrapperFetch(server: BenchServer): Promise<Contender> {
  const fetch = headerWrapper(`Bearer ${await server.issueToken()}`);
  return { name: HEADER_WRAPPER, fetch, close: () => Promise.resolve() };
}

/** `@alf/client` with its default memory storage, or with `storage`. */
export function alfClient(
  server: BenchServer,
  options: Partial<ClientOptions> = {},
  name = ALF_MEMORY,
): Contender & { events: ClientEvent[] } {
  const events: ClientEvent[] = [];
  const client = new alf.Client({
    tokenEndpoint: server.tokenEndpoint,
    ...CLIENT,
    onEvent: (event) => events.push(event),
    // A storage of its own: the process-wide default would hand one trial's token to the next.
    storage: new alf.MemoryTokenStorage(),
    ...options,
  });
  return { name, fetch: client.fetch, close: () => client.close(), events };
}

/** `@alf/client` with `KvTokenStorage` on a new KV database, in memory unless `path` is given. */
export async function alfKvClient(
  server: BenchServer,
  options: Partial<ClientOptions> = {},
  path = ":memory:",
): Promise<Contender & { events: ClientEvent[] }> {
  const kv = await Deno.openKv(path);
  const client = alfClient(server, { storage: new alf.KvTokenStorage(kv), ...options }, ALF_KV);
  return {
    ...client,
    async close() {
      await client.close();
      kv.close();
    },
  };
}

/**
 * `OAuth2Fetch` doing the client credentials grant, through its middleware
 * form: what its `fetch` method does, with a transport of our choosing.
 *
 * It drops the 401 response it replays without reading it; the transport
 * reads such bodies, so that their connections are released (as
 * `@alf/client` does) and no resource is left open.
 */
export function oauth2Fetch(server: BenchServer, transport: typeof fetch = fetch): Contender {
  const client = new OAuth2Client({ tokenEndpoint: server.tokenEndpoint, ...CLIENT });
  const wrapper = new OAuth2Fetch({
    client,
    getNewToken: () => client.clientCredentials(),
  });
  const middleware = wrapper.mw();
  const next = async (request: Request) => {
    const response = await transport(request);
    if (response.status !== 401) return response;
    return new Response(await response.arrayBuffer(), response);
  };
  return {
    name: OAUTH2_FETCH,
    fetch: (input, init) => middleware(new Request(input, init), next),
    close: () => Promise.resolve(),
  };
}

/** Reads a response's body whole, as a caller would. */
export async function consume(response: Response): Promise<number> {
  await response.arrayBuffer();
  return response.status;
}

/** The outcome of {@linkcode burst}. */
export interface Burst {
  /** Time from the first call to the last body read, milliseconds. */
  ms: number;
  /** How many responses had each status. */
  statuses: Record<number, number>;
}

/** Sends `count` requests at once and reads every response. */
export async function burst(send: typeof fetch, url: string, count: number): Promise<Burst> {
  const start = performance.now();
  const codes = await Promise.all(
    Array.from({ length: count }, async () => consume(await send(url))),
  );
  const ms = performance.now() - start;
  const statuses: Record<number, number> = {};
  for (const code of codes) statuses[code] = (statuses[code] ?? 0) + 1;
  return { ms, statuses };
}

/** `{200: 1000}` as `200×1000`. */
export function statusText(statuses: Record<number, number>): string {
  return Object.entries(statuses).map(([code, n]) => `${code}×${n}`).join(", ");
}

/**
 * `list` rotated left by `by` places (`by` ≥ 0): run `n` of a benchmark uses
 * rotation `n`, so that no contender always runs first.
 */
export function rotated<T>(list: readonly T[], by: number): T[] {
  const start = by % list.length;
  return [...list.slice(start), ...list.slice(0, start)];
}

const ORDER = [PLAIN, HEADER_WRAPPER, ALF_MEMORY, ALF_KV, ALF_DPOP, ALF_DPOP_EDDSA, OAUTH2_FETCH];

/** Sorts `[name, value]` entries into the tables' contender order. */
export function byTableOrder([a]: [string, unknown], [b]: [string, unknown]): number {
  return ORDER.indexOf(a) - ORDER.indexOf(b);
}
