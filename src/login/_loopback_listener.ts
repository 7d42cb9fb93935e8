/**
 * The loopback listener of a browser login
 * ([RFC 8252 §7.3](https://www.rfc-editor.org/rfc/rfc8252#section-7.3)): a `Deno.serve` on
 * 127.0.0.1 that receives the authorization server's redirect.
 *
 * @module
 */

import { readBounded } from "../_body.ts";
import type { TokenResult } from "../token_endpoint.ts";
import { TokenError } from "../token_error.ts";
import { fragmentPage, messagePage, plainText } from "./_callback_pages.ts";
import type { PortRange } from "./login_options.ts";

/** Where the redirect lands on the listener. */
export const CALLBACK_PATH = "/callback";

/** Largest form a page may post back: far more than any authorization response. */
const MAX_ANSWER_BYTES = 64 * 1024;

/** A login waiting for its redirect, by `state`. */
interface Waiting {
  /**
   * Turns the redirect's parameters into the login's outcome; what it throws
   * is shown on the page and ends the login.
   */
  complete(answer: URLSearchParams): Promise<void>;
  /** Ends the login with `error`. */
  stop(error: TokenError): void;
}

/** What a page tells the user, and the HTTP status it is served with. */
interface Outcome {
  status: number;
  message: string;
}

/**
 * A listener on the first free port of a range that hands each redirect to
 * the login whose `state` it carries.
 *
 * Tokens in a URL fragment never reach a server, so a redirect without query
 * parameters is answered with a page whose script posts the fragment back to
 * the same address ([RFC 6749 §4.2.2](https://www.rfc-editor.org/rfc/rfc6749#section-4.2.2)). A
 * redirect with a `state` no login is waiting for gets an error page and changes nothing
 * ([RFC 6749 §10.12](https://www.rfc-editor.org/rfc/rfc6749#section-10.12)).
 */
export class LoopbackListener {
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  readonly #waiting = new Map<string, Waiting>();
  readonly #origin: string;
  #closed = false;

  /**
   * Listens on the first free port of `range`, trying the next one while a
   * port is busy.
   *
   * @throws {Deno.errors.AddrInUse} when every port of the range is busy; the
   * message names the range.
   */
  constructor(range: PortRange) {
    let server: Deno.HttpServer<Deno.NetAddr> | undefined;
    for (let port = range[0]; port <= range[1] && !server; port++) {
      try {
        server = Deno.serve(
          { hostname: "127.0.0.1", port, onListen() {} },
          (request) => this.#handle(request),
        );
      } catch (error) {
        if (!(error instanceof Deno.errors.AddrInUse)) throw error;
      }
    }
    if (!server) {
      throw new Deno.errors.AddrInUse(
        `Cannot listen for the browser login: every port from ${range[0]} to ${
          range[1]
        } on 127.0.0.1 is in use`,
      );
    }
    this.#server = server;
    this.#origin = `http://127.0.0.1:${server.addr.port}`;
  }

  /** The port listened on. */
  get port(): number {
    return this.#server.addr.port;
  }

  /** Whether the listener was closed: no login can wait on it any more. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The `redirect_uri` of logins on this listener. */
  get redirectUri(): string {
    return this.#origin + CALLBACK_PATH;
  }

  /**
   * Waits for the redirect that carries `state`, and settles like
   * `complete(answer)`; the page tells the user how that went.
   *
   * @param state The login's `state`; a redirect with another one is ignored.
   * @param complete Turns the answer into a token or an error response.
   * @param options The longest wait, in milliseconds, and a signal that ends
   * it (a {@linkcode TokenError} reason is the login's error as it is).
   * @throws {TokenError} on timeout, abort or close, or when `complete` throws.
   */
  waitFor(
    state: string,
    complete: (answer: URLSearchParams) => Promise<TokenResult>,
    options: { timeout: number; signal: AbortSignal },
  ): Promise<TokenResult> {
    const { timeout, signal } = options;
    if (this.#closed) return Promise.reject(closedError());
    return new Promise<TokenResult>((resolve, reject) => {
      const stop = (error: TokenError) => {
        if (this.#waiting.get(state) !== waiting) return;
        this.#waiting.delete(state);
        cleanUp();
        reject(error);
      };
      const onAbort = () =>
        stop(
          signal.reason instanceof TokenError
            ? signal.reason
            : new TokenError("Cannot log in: the login was aborted", { cause: signal.reason }),
        );
      const timer = setTimeout(
        () =>
          stop(
            new TokenError(
              `Cannot log in: the browser did not come back to ${this.redirectUri} within ${timeout} ms`,
            ),
          ),
        timeout,
      );
      const cleanUp = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
      };
      const waiting: Waiting = {
        stop,
        complete: async (answer) => {
          // One answer per state: a replayed redirect finds nothing waiting.
          this.#waiting.delete(state);
          cleanUp();
          let result: TokenResult;
          try {
            result = await complete(answer);
          } catch (error) {
            reject(error);
            throw error;
          }
          resolve(result);
          if ("errorResponse" in result) throw result.errorResponse.error;
        },
      };
      this.#waiting.set(state, waiting);
      signal.addEventListener("abort", onAbort, { once: true });
      if (signal.aborted) onAbort();
    });
  }

  /** Stops listening; logins still waiting reject with a {@linkcode TokenError}. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const waiting of [...this.#waiting.values()]) {
      waiting.stop(closedError());
    }
    await this.#server.shutdown();
  }

  async #handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname !== CALLBACK_PATH) {
      await request.body?.cancel();
      return messagePage(404, "This address is not part of the login");
    }
    if (request.method === "GET") {
      // An answer in the query (authorization code,
      // [RFC 6749 §4.1.2](https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2)) is
      // handled at once; none means it is in the fragment, which the page
      // posts back.
      if (url.search === "") return fragmentPage();
      const outcome = await this.#deliver(url.searchParams);
      return messagePage(outcome.status, outcome.message);
    }
    if (request.method === "POST") {
      const origin = request.headers.get("origin");
      if (origin !== null && origin !== this.#origin) {
        await request.body?.cancel();
        return plainText(403, "Cannot accept the login answer: it was posted from another origin");
      }
      let body: Uint8Array;
      try {
        body = await readBounded(new Response(request.body), MAX_ANSWER_BYTES);
      } catch {
        return plainText(413, "Cannot accept the login answer: it is too large");
      }
      const outcome = await this.#deliver(new URLSearchParams(new TextDecoder().decode(body)));
      return plainText(outcome.status, outcome.message);
    }
    await request.body?.cancel();
    return plainText(405, "Cannot answer this request: only GET and POST are accepted", {
      "Allow": "GET, POST",
    });
  }

  async #deliver(answer: URLSearchParams): Promise<Outcome> {
    const waiting = this.#waiting.get(answer.get("state") ?? "");
    if (!waiting) {
      return {
        status: 400,
        message:
          "This login answer does not belong to a login in progress (its state does not match). " +
          "The application keeps waiting; start the login again from the application if needed.",
      };
    }
    try {
      await waiting.complete(answer);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      return { status: 400, message: `${reason}. You can close this tab.` };
    }
    return { status: 200, message: "Login complete, you can close this tab" };
  }
}

/** The error of a login on a closed listener. */
export function closedError(): TokenError {
  return new TokenError("Cannot log in: the login listener was closed");
}
