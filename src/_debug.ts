// The `debug` option and the `ALF_DEBUG` variable: every event of a client,
// one line each on stderr, without a token or a secret.

import type { ClientEvent } from "./client_event.ts";
import { TokenError } from "./token_error.ts";

/** Where debug lines go: stderr, unless a test gives its own. */
export type DebugWriter = (line: string) => void;

/**
 * The listener a client passes its events to: the user's `onEvent`, and the
 * stderr printer when `debug` is `true`, or not given and `ALF_DEBUG` is set
 * (to anything but `""`, `0` or `false`).
 *
 * @throws {TypeError} when `debug` is not a boolean.
 */
export function withDebug(
  onEvent: ((event: ClientEvent) => void) | undefined,
  debug: unknown,
  write: DebugWriter = writeStderr,
): ((event: ClientEvent) => void) | undefined {
  if (debug !== undefined && typeof debug !== "boolean") {
    throw new TypeError('Cannot create the client: "debug" must be a boolean');
  }
  if (!(debug ?? debugFromEnv())) return onEvent;
  return (event) => {
    write(debugLine(event));
    onEvent?.(event);
  };
}

/**
 * One event as a line: `alf: token request POST https://auth.example.com/token
 * client_credentials → 200 in 12 ms`. Error messages are the client's own,
 * which never hold a token or a secret.
 */
export function debugLine(event: ClientEvent): string {
  switch (event.type) {
    case "request": {
      const outcome = event.status === undefined ? "no response" : String(event.status);
      const why = event.error === undefined ? "" : ` ${event.error}`;
      return `alf: token request POST ${event.endpoint} ${event.grant} → ${outcome}${why} in ${event.durationMs} ms`;
    }
    case "token": {
      const until = event.expiresAt === undefined
        ? "no expiry"
        : `expires ${new Date(event.expiresAt).toISOString()}`;
      return `alf: token obtained (${event.reason}), ${until}`;
    }
    case "replay":
      return `alf: request replayed with a new token after a 401 → ${event.status}`;
    case "error":
      return `alf: ${event.phase} failed: ${errorText(event.error)}`;
  }
}

function errorText(error: unknown): string {
  if (error instanceof TokenError) return `${error.code}: ${error.message}`;
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return typeof error;
}

/** `ALF_DEBUG`, read only when the env permission for it is already granted: never a prompt. */
function debugFromEnv(): boolean {
  const deno = (globalThis as { Deno?: typeof Deno }).Deno;
  try {
    const state = deno?.permissions?.querySync?.({ name: "env", variable: "ALF_DEBUG" });
    if (state?.state !== "granted") return false;
    const value = deno!.env.get("ALF_DEBUG");
    return value !== undefined && !["", "0", "false"].includes(value.toLowerCase());
  } catch {
    return false;
  }
}

const encoder = new TextEncoder();

function writeStderr(line: string): void {
  const deno = (globalThis as { Deno?: typeof Deno }).Deno;
  if (deno) deno.stderr.writeSync(encoder.encode(line + "\n"));
  else console.error(line);
}
