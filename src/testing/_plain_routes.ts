// The stand-in server's answers that no protocol defines: a path it does not
// serve, and a failure a test scripted; and the timers of its delayed answers.

import type { TokenFailure } from "./auth_server_options.ts";

/**
 * A 404 for a path the server does not serve, naming the paths it does: a
 * client configured with a wrong endpoint sees a wrong endpoint, not a
 * rejected token.
 */
export function notFound(path: string): Response {
  return new Response(
    `Not found: ${path}; this server serves /token, /revoke, /authorize, /par, /device_authorization, /register, /resource and below, ` +
      "the metadata under /.well-known/, and the paths given to route()\n",
    { status: 404, headers: { "Content-Type": "text/plain; charset=utf-8" } },
  );
}

/** The answer to a token or revocation request that `failTokenRequests()` scripted. */
export function scripted(failure: TokenFailure): Response {
  return new Response(failure.body ?? JSON.stringify({ error: "server_error" }), {
    status: failure.status ?? 500,
    headers: failure.headers ?? { "Content-Type": "application/json" },
  });
}

/** The delays of a server's answers, which all end when it closes. */
export class Timers {
  readonly #pending = new Set<() => void>();

  /** Waits `ms` milliseconds, or less when {@linkcode Timers.stopAll} is called. */
  wait(ms: number): Promise<void> {
    const { promise, resolve } = Promise.withResolvers<void>();
    const stop = () => {
      clearTimeout(timer);
      this.#pending.delete(stop);
      resolve();
    };
    const timer = setTimeout(stop, ms);
    this.#pending.add(stop);
    return promise;
  }

  /** Ends every wait now. */
  stopAll(): void {
    for (const stop of this.#pending) stop();
  }
}
