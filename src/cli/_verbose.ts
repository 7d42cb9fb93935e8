// `alf request -v`: the token requests (from the client's events) and the
// resource request and response, on stderr as curl's -v writes them, with
// every token, secret and credential-looking value replaced.

import type { ClientEvent } from "../client_event.ts";
import type { Io } from "./_io.ts";
import { describeStatus } from "./_response_output.ts";
import { oneLine } from "./exit_code.ts";

/** Header and query parameter names whose values are never shown. */
const SENSITIVE =
  /^(authorization|proxy-authorization|cookie|set-cookie)$|key|token|secret|passw|session|credential|signature|auth/i;

const REDACTED = "[redacted]";

/**
 * The lines of `-v`: `>` for what is sent, `<` for what came back, `*` for
 * what the client did (token requests, renewals, failures). Written in order,
 * even when events arrive while a line is being written.
 */
export class VerboseLog {
  readonly #io: Io;
  #written: Promise<void> = Promise.resolve();

  constructor(io: Io) {
    this.#io = io;
  }

  /** The request as it is about to be sent; the token is added by the client. */
  request(method: string, url: URL, headers: Headers, body: Uint8Array | undefined): void {
    const lines = [`> ${method} ${redactUrl(url)}`];
    lines.push(`> authorization: Bearer ${REDACTED} (the access token, added by alf)`);
    for (const [name, value] of headers) {
      if (name !== "authorization") lines.push(`> ${name}: ${redactHeader(name, value)}`);
    }
    if (body !== undefined) lines.push(`> (a body of ${body.byteLength} bytes)`);
    this.#print(lines);
  }

  /** An event of the client: a token request, a renewal, a failure. */
  event(event: ClientEvent): void {
    this.#print([`* ${describeEvent(event)}`]);
  }

  /** The response: its status line and headers. */
  response(response: Response): void {
    const lines: string[] = [];
    if (response.redirected) lines.push(`* redirected to ${redactUrl(new URL(response.url))}`);
    lines.push(`< HTTP ${describeStatus(response)}`);
    for (const [name, value] of response.headers) {
      lines.push(`< ${name}: ${redactHeader(name, value)}`);
    }
    lines.push("<");
    this.#print(lines);
  }

  /** Waits until every line is written. */
  flush(): Promise<void> {
    return this.#written;
  }

  #print(lines: string[]): void {
    const text = `${lines.join("\n")}\n`;
    this.#written = this.#written.then(() => this.#io.printVerbose(text)).catch(() => {});
  }
}

/**
 * One line for an event. Events carry no token or secret by contract; their
 * fields are shown by name, and an error by its one-line message.
 */
export function describeEvent(event: ClientEvent): string {
  const fields = event as unknown as Record<string, unknown>;
  if (event.type === "error") {
    const what = {
      token: "token request",
      renewal: "background renewal",
      storage: "token storage",
    };
    return `${what[event.phase] ?? event.phase} failed: ${oneLine(event.error)}`;
  }
  if (event.type === "token") {
    const left = event.expiresAt === undefined
      ? "with no expiry"
      : `valid for ${Math.round((event.expiresAt - Date.now()) / 1000)} s`;
    const why = event.reason === "rejected"
      ? "the resource answered 401, so the request is sent again with it"
      : event.reason;
    return `new access token (${why}), ${left}`;
  }
  if (event.type === "request") {
    const outcome = event.status === undefined ? "no answer" : String(event.status);
    const error = event.error === undefined ? "" : ` (${event.error})`;
    return `token request POST ${event.endpoint} (${event.grant}) → ${outcome}${error} in ${
      Math.round(event.durationMs)
    } ms`;
  }
  if (event.type === "replay") return `replayed after a 401 → ${event.status}`;
  const shown = Object.entries(fields)
    .filter(([name, value]) => name !== "type" && isShown(name, value))
    .map(([name, value]) => `${name}=${value instanceof Error ? oneLine(value) : String(value)}`);
  return [String(fields.type), ...shown].join(" ");
}

function isShown(name: string, value: unknown): boolean {
  if (SENSITIVE.test(name) && name !== "tokenEndpoint" && name !== "endpoint") return false;
  return ["string", "number", "boolean"].includes(typeof value) || value instanceof Error;
}

function redactHeader(name: string, value: string): string {
  if (!SENSITIVE.test(name)) return value;
  // Keep the scheme of an Authorization value: "Basic [redacted]".
  const scheme = /^(authorization|proxy-authorization)$/i.test(name)
    ? /^\S+(?=\s)/.exec(value)
    : null;
  return scheme ? `${scheme[0]} ${REDACTED}` : REDACTED;
}

/** The URL with the values of credential-looking query parameters replaced, the rest as sent. */
export function redactUrl(url: URL): string {
  if (![...url.searchParams.keys()].some((name) => SENSITIVE.test(name))) return url.href;
  const pairs = url.search.slice(1).split("&").map((pair) => {
    const raw = pair.split("=", 1)[0] ?? "";
    let name = raw;
    try {
      name = decodeURIComponent(raw.replace(/\+/g, " "));
    } catch {
      // Not percent-encoded as it should be: judged as written.
    }
    return SENSITIVE.test(name) ? `${raw}=${REDACTED}` : pair;
  });
  return `${url.origin}${url.pathname}?${pairs.join("&")}${url.hash}`;
}
