// Helpers of the browser login tests: port ranges with busy ports, and
// launchers that stand in for a browser.

import {
  type AuthorizationCodeGrant,
  Client,
  type ClientOptions,
  type ImplicitGrant,
  type LoopbackLoginOptions,
  type PortRange,
} from "../mod.ts";
import type { AuthServer } from "../testing.ts";

/**
 * A public client "cli" of `server` whose grant (`ImplicitGrant` or
 * `AuthorizationCodeGrant`) logs in at the server's authorization endpoint,
 * listening on any free port.
 */
export function browserClient(
  server: AuthServer,
  grant: typeof ImplicitGrant | typeof AuthorizationCodeGrant,
  login: LoopbackLoginOptions,
  options: Partial<ClientOptions> = {},
): Client {
  return new Client({
    tokenEndpoint: server.tokenEndpoint,
    clientId: "cli",
    grant: new grant({
      authorizationEndpoint: server.authorizationEndpoint,
      portRange: [0, 0],
      ...login,
    }),
    ...options,
  });
}

/** A range of consecutive ports whose first `busy` ports this test holds. */
export interface HeldRange extends Disposable {
  range: PortRange;
  /** Frees the held ports. */
  close(): void;
}

/**
 * Finds `size` consecutive free ports and keeps the first `busy` of them
 * listening, so that a listener must skip them.
 */
export function holdPorts(size: number, busy: number): HeldRange {
  for (let attempt = 0; attempt < 100; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    const listeners: Deno.Listener[] = [];
    try {
      for (let port = base; port < base + size; port++) {
        listeners.push(Deno.listen({ hostname: "127.0.0.1", port }));
      }
    } catch (error) {
      for (const listener of listeners) listener.close();
      if (error instanceof Deno.errors.AddrInUse) continue;
      throw error;
    }
    for (const listener of listeners.splice(busy)) listener.close();
    const close = () => {
      for (const listener of listeners.splice(0)) listener.close();
    };
    return { range: [base, base + size - 1], close, [Symbol.dispose]: close };
  }
  throw new Error("Cannot find free consecutive ports for the test");
}

/** Whether nothing listens on `port` of 127.0.0.1 any more. */
export function isFree(port: number): boolean {
  try {
    Deno.listen({ hostname: "127.0.0.1", port }).close();
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) return false;
    throw error;
  }
}

/**
 * A launcher that only records the URLs it is given (a user who never
 * finishes the login), and lets a test wait for the next one.
 */
export class NoBrowser {
  readonly opened: string[] = [];
  #waiters: ((url: string) => void)[] = [];

  open = (url: string): void => {
    this.opened.push(url);
    for (const wake of this.#waiters.splice(0)) wake(url);
  };

  /** Resolves with the `count`-th URL opened (1-based). */
  nth(count: number): Promise<string> {
    return new Promise((resolve) => {
      const check = () => {
        const url = this.opened[count - 1];
        if (url !== undefined) resolve(url);
        else this.#waiters.push(check);
      };
      check();
    });
  }
}

/**
 * The parameters of an authorization URL; `undefined` (a browser that opened
 * fewer URLs than the test expects) fails the test.
 */
export function paramsOf(url: string | undefined): URLSearchParams {
  if (url === undefined) throw new Error("Cannot read the authorization URL: none was opened");
  return new URL(url).searchParams;
}
