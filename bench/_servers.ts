/**
 * The benchmarks' servers: the stand-in authorization server and resource of
 * the testing kit, run in a process of its own so that its work does not share
 * an event loop with the client being measured.
 *
 * Run as a script, this file is that server process: it prints its port, then
 * serves until its standard input closes (so it never outlives the benchmark).
 *
 * @module
 */

import { startAuthServer } from "../testing.ts";

/** The client credentials the bench server accepts. */
export const CLIENT = { clientId: "bench-client", clientSecret: "bench-secret" } as const;

/** What {@linkcode BenchServer.control} can change on the server, and what it reports. */
export interface Control {
  /** `expires_in` of the next tokens, seconds. */
  expiresIn?: number;
  /** How long the token endpoint takes, milliseconds. */
  tokenDelay?: number;
  /** Revoke every token issued so far. */
  revoke?: boolean;
}

/** Counters of the server process. */
export interface ServerStats {
  /** Token requests received since the server started. */
  tokenRequests: number;
  /** Resource requests received since the server started (control calls excluded). */
  resourceRequests: number;
}

/** A stand-in server running in a child process. */
export interface BenchServer extends AsyncDisposable {
  readonly origin: string;
  readonly tokenEndpoint: string;
  readonly resourceUrl: string;
  /** Changes the server's behaviour and returns its counters. */
  control(change?: Control): Promise<ServerStats>;
  /** A valid access token for plain `fetch`, obtained with a direct token request. */
  issueToken(): Promise<string>;
  close(): Promise<void>;
}

const CONTROL_PATH = "/_bench/control";

/** Starts the stand-in server in a child Deno process. */
export async function startBenchServer(): Promise<BenchServer> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net=127.0.0.1", import.meta.filename ?? import.meta.url],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("Cannot start the bench server: it exited before listening");
    text += value;
  }
  // The port is all the server prints.
  const drained = reader.cancel().catch(() => {});
  const close = async () => {
    await child.stdin.close().catch(() => {});
    await child.status;
    await drained;
  };
  const server = connectBenchServer(`http://127.0.0.1:${Number(text.trim())}`);
  return { ...server, close, [Symbol.asyncDispose]: close };
}

/**
 * A handle on a bench server another process started, for child processes
 * of a benchmark; `close()` leaves the server running.
 *
 * @param origin The server's origin, as the child's `--origin` flag gives it.
 */
export function connectBenchServer(origin: string | undefined): BenchServer {
  if (origin === undefined) {
    throw new TypeError("Cannot connect to the bench server: no --origin was given");
  }
  const tokenEndpoint = `${origin}/token`;
  const control = async (change: Control = {}): Promise<ServerStats> => {
    const response = await fetch(`${origin}${CONTROL_PATH}`, {
      method: "POST",
      body: JSON.stringify(change),
    });
    return await response.json();
  };
  const server: BenchServer = {
    origin,
    tokenEndpoint,
    resourceUrl: `${origin}/resource`,
    control,
    async issueToken() {
      const response = await fetch(tokenEndpoint, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ grant_type: "client_credentials", ...snakeCase() }),
      });
      const body = await response.json();
      if (typeof body.access_token !== "string") {
        throw new Error(`Cannot issue a bench token: status ${response.status}`);
      }
      return body.access_token;
    },
    close: () => Promise.resolve(),
    [Symbol.asyncDispose]: () => server.close(),
  };
  return server;
}

function snakeCase(): Record<string, string> {
  return { client_id: CLIENT.clientId, client_secret: CLIENT.clientSecret };
}

/** The server process: the testing kit's server plus a control route. */
async function serveUntilStdinCloses(): Promise<void> {
  await using server = await startAuthServer(CLIENT);
  let tokenRequests = 0;
  let resourceRequests = 0;
  // The kit records every request; fold the records into counters so that a
  // million-request run does not grow this process without bound.
  const fold = () => {
    tokenRequests += server.tokenRequests.length;
    server.tokenRequests.length = 0;
    resourceRequests += server.resourceRequests.length;
    server.resourceRequests.length = 0;
  };
  const folding = setInterval(fold, 250);
  let controlCalls = 0;
  server.route(CONTROL_PATH, (_request, recorded) => {
    controlCalls++;
    const change: Control = JSON.parse(new TextDecoder().decode(recorded.body));
    if (change.expiresIn !== undefined) server.expiresIn = change.expiresIn;
    if (change.tokenDelay !== undefined) server.tokenDelay = change.tokenDelay;
    if (change.revoke) server.revoke();
    fold();
    return Response.json({ tokenRequests, resourceRequests: resourceRequests - controlCalls });
  });
  console.log(server.port);
  // Standard input closes when the parent closes it or exits.
  for await (const _ of Deno.stdin.readable) {
    // Nothing is sent on stdin; it only signals the parent's end.
  }
  clearInterval(folding);
}

if (import.meta.main) await serveUntilStdinCloses();
