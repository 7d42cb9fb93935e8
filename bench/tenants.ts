/**
 * Tenants: the V8 heap a process keeps per client holding a token, for many
 * clients (one per tenant). Each measurement runs in a process of its own
 * (this file, started with `--child`, `--expose-gc`): heap used after a full
 * garbage collection, before the clients exist and once each has its token,
 * divided by their number. What a process pays once is paid before the
 * first reading, by 100 clients made first and kept. Contenders alternate from process to process:
 * `@alf/client` (default storage), `OAuth2Fetch`, and a wrapper that only adds
 * the header (a closure holding the token: the floor). No network: the
 * clients' token requests are answered in process, each with a token of its
 * own.
 *
 * `deno run -A bench/tenants.ts [--repeats 5] [--clients 10000]`
 *
 * @module
 */

import { parseArgs } from "node:util";
import { OAuth2Client, OAuth2Fetch } from "npm:@badgateway/oauth2-client@3.3.1";
import { Client } from "../mod.ts";
import { ALF_MEMORY, HEADER_WRAPPER, headerWrapper, OAUTH2_FETCH } from "./_clients.ts";
import { collectGarbage, fixed, median, ratio, ratios, spread, table } from "./_stats.ts";

/** Settings of {@linkcode tenants}. */
export interface TenantsOptions {
  /** Processes per contender. */
  repeats?: number;
  /** Clients per process. */
  clients?: number;
}

/** One contender's figures. */
export interface TenantsRow {
  contender: string;
  /** Retained heap per client, bytes, each process. */
  bytes: number[];
  /** Each process's figure divided by the header wrapper's of the same repeat. */
  vsWrapper: number[];
  /** Each process's figure divided by OAuth2Fetch's of the same repeat. */
  vsOauth: number[];
}

const CONTENDERS = [HEADER_WRAPPER, ALF_MEMORY, OAUTH2_FETCH];
const TOKEN_ENDPOINT = "https://as.example/token";

/** A token endpoint in process: each answer a new token. */
function tokenEndpoint(): typeof fetch {
  let issued = 0;
  return () =>
    Promise.resolve(Response.json({
      access_token: tokenText(++issued),
      token_type: "Bearer",
      expires_in: 3600,
    }, { headers: { "cache-control": "no-store" } }));
}

/** A token of the length of a typical opaque one, unique per `n`. */
function tokenText(n: number): string {
  return `${n}`.padStart(8, "0") + "x".repeat(32);
}

/**
 * Clients made before the first reading, kept to the end: what a process pays
 * once (the runtime's timer module, compiled code, the contender's shared
 * objects) is paid before it, by every contender alike.
 */
const WARM_UP_CLIENTS = 100;

/**
 * In the child: makes `count` clients of `contender`, each with its token,
 * after {@linkcode WARM_UP_CLIENTS}; bytes per client.
 */
async function measureChild(contender: string, count: number): Promise<number> {
  const transport = tokenEndpoint();
  const warm: unknown[] = [];
  for (let i = 0; i < WARM_UP_CLIENTS; i++) warm.push(await made(contender, -1 - i, transport));
  const kept: unknown[] = [];
  collectGarbage();
  const before = Deno.memoryUsage().heapUsed;
  for (let i = 0; i < count; i++) kept.push(await made(contender, i, transport));
  collectGarbage();
  const after = Deno.memoryUsage().heapUsed;
  if (kept.length !== count || warm.length !== WARM_UP_CLIENTS) {
    throw new Error("Cannot measure: clients were lost");
  }
  return (after - before) / count;
}

/** Tenant `i`'s client of `contender`, holding its token. */
async function made(contender: string, i: number, transport: typeof fetch): Promise<unknown> {
  if (contender === HEADER_WRAPPER) return headerWrapper(`Bearer ${tokenText(i)}`);
  if (contender === ALF_MEMORY) {
    const client = new Client({
      tokenEndpoint: TOKEN_ENDPOINT,
      clientId: `tenant-${i}`,
      clientSecret: "secret",
      fetch: transport,
    });
    await client.getToken();
    return client;
  }
  const client = new OAuth2Client({
    tokenEndpoint: TOKEN_ENDPOINT,
    clientId: `tenant-${i}`,
    clientSecret: "secret",
    fetch: transport,
  });
  const wrapper = new OAuth2Fetch({ client, getNewToken: () => client.clientCredentials() });
  await wrapper.getToken();
  return wrapper;
}

/** Runs the contenders in processes of their own, alternating. */
export async function tenants(
  options: TenantsOptions = {},
): Promise<{ rows: TenantsRow[]; markdown: string }> {
  const { repeats = 5, clients = 10_000 } = options;
  const bytes = new Map(CONTENDERS.map((name) => [name, [] as number[]]));
  for (let repeat = 0; repeat < repeats; repeat++) {
    const order = repeat % 2 === 0 ? CONTENDERS : [...CONTENDERS].reverse();
    for (const contender of order) {
      bytes.get(contender)!.push(await runChild(contender, clients));
    }
  }
  const wrapper = bytes.get(HEADER_WRAPPER)!;
  const oauth = bytes.get(OAUTH2_FETCH)!;
  const rows = CONTENDERS.map((contender): TenantsRow => {
    const own = bytes.get(contender)!;
    return {
      contender,
      bytes: own,
      vsWrapper: ratios(own, wrapper),
      vsOauth: ratios(own, oauth),
    };
  });
  const kb = (value: number) => `${fixed(value / 1024)} KB`;
  const markdown = table(
    [
      "contender",
      `heap per client (median of ${repeats})`,
      "range",
      "vs OAuth2Fetch",
      "range",
      "vs header-only wrapper",
    ],
    rows.map((row) => [
      row.contender,
      kb(median(row.bytes)),
      `${kb(Math.min(...row.bytes))}–${kb(Math.max(...row.bytes))}`,
      row.contender === OAUTH2_FETCH ? "1 (baseline)" : ratio(median(row.vsOauth)),
      row.contender === OAUTH2_FETCH ? "" : spread(row.vsOauth),
      row.contender === HEADER_WRAPPER ? "1 (baseline)" : ratio(median(row.vsWrapper)),
    ]),
  );
  return { rows, markdown: `${clients} clients per process, each with its token.\n\n${markdown}` };
}

async function runChild(contender: string, clients: number): Promise<number> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--v8-flags=--expose-gc",
      new URL(import.meta.url).pathname,
      "--child",
      contender,
      "--clients",
      String(clients),
    ],
    stderr: "inherit",
  }).output();
  if (!output.success) throw new Error(`Cannot measure ${contender}: its process failed`);
  return Number(new TextDecoder().decode(output.stdout).trim());
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      child: { type: "string" },
      clients: { type: "string", default: "10000" },
      repeats: { type: "string", default: "5" },
    },
  });
  if (values.child !== undefined) {
    console.log(await measureChild(values.child, Number(values.clients)));
  } else {
    const result = await tenants({
      repeats: Number(values.repeats),
      clients: Number(values.clients),
    });
    console.log(result.markdown);
  }
}
