/**
 * The loopback listener of a browser login
 * ([RFC 8252 §7.3](https://www.rfc-editor.org/rfc/rfc8252#section-7.3)): a `Deno.serve` on
 * 127.0.0.1 that receives the authorization server's redirect.
 *
 * @module
 */

import { deadline, delay } from "../_abort.ts";
import { BodyTooLargeError, readBounded } from "../_body.ts";
import { isLoopbackHost } from "../_endpoint_url.ts";
import type { TokenResult } from "../token_endpoint.ts";
import { TokenError } from "../token_error.ts";
import { fragmentPage, messagePage, plainText } from "./_callback_pages.ts";
import { CALLBACK_PATH, type PortRange } from "./login_options.ts";

/** Largest form a page may post back: far more than any authorization response. */
const MAX_ANSWER_BYTES = 64 * 1024;

/**
 * How long a page may take to post its answer, in milliseconds: a few hundred
 * bytes sent at once, so a body that is still missing after this never comes.
 */
export const ANSWER_TIMEOUT = 10_000;

/**
 * How long `close()` waits for the requests under way (the page of a login
 * that just completed, a code exchange) before it closes their connections.
 */
const CLOSE_GRACE = 2_000;

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
  /** Ends the answers being read when the listener closes. */
  readonly #closing = new AbortController();
  /** Closes every connection at once (Deno.serve's `signal`). */
  readonly #dropConnections = new AbortController();
  /** The requests under way, each settled once its response is written. */
  readonly #inFlight = new Set<Promise<void>>();
  readonly #answerTimeout: number;
  #closed: Promise<void> | undefined;

  /**
   * Listens on the first free port of `range`, trying the next one while a
   * port is busy.
   *
   * @param range The ports to try.
   * @param options How long a posted answer may take to arrive, in
   * milliseconds. Default: {@linkcode ANSWER_TIMEOUT}.
   * @throws {Deno.errors.AddrInUse} when every port of the range is busy; the
   * message names the range.
   */
  constructor(range: PortRange, options: { answerTimeout?: number } = {}) {
    this.#answerTimeout = options.answerTimeout ?? ANSWER_TIMEOUT;
    let server: Deno.HttpServer<Deno.NetAddr> | undefined;
    for (let port = range[0]; port <= range[1] && !server; port++) {
      try {
        server = Deno.serve(
          { hostname: "127.0.0.1", port, onListen() {}, signal: this.#dropConnections.signal },
          (request, info) => this.#track(request, info),
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
    return this.#closed !== undefined;
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
    if (this.closed) return Promise.reject(closedError());
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
            : new TokenError("Cannot log in: the login was aborted", {
              code: "aborted",
              cause: signal.reason,
            }),
        );
      const timer = setTimeout(
        () =>
          stop(
            new TokenError(
              `Cannot log in: the browser did not come back to ${this.redirectUri} within ${timeout} ms`,
              { code: "timeout" },
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

  /**
   * Stops listening; logins still waiting reject with a {@linkcode TokenError}.
   *
   * Prompt whatever the connections do: answers still being read end, and
   * the connections left are closed after a short grace.
   */
  close(): Promise<void> {
    return this.#closed ??= this.#close();
  }

  async #close(): Promise<void> {
    for (const waiting of [...this.#waiting.values()]) {
      waiting.stop(closedError());
    }
    this.#closing.abort();
    const graceOver = new AbortController();
    await Promise.race([
      Promise.all(this.#inFlight),
      delay(CLOSE_GRACE, graceOver.signal).catch(() => {}),
    ]);
    graceOver.abort();
    // Not Deno's graceful shutdown: it waits for every request to end, and a
    // request whose body never arrives never does (nor can it be cut short
    // once begun). The responses written are sent; the connections are closed.
    await delay(0);
    this.#dropConnections.abort();
    await this.#server.finished;
  }

  #track(request: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>): Promise<Response> {
    const done = info.completed.catch(() => {});
    this.#inFlight.add(done);
    done.then(() => this.#inFlight.delete(done));
    return this.#handle(request);
  }

  async #handle(request: Request): Promise<Response> {
    if (!this.#isOwnHost(request.headers.get("host"))) {
      // A page of another site that rebinds its name to 127.0.0.1 ends here.
      await this.#skipBody(request);
      return plainText(421, "Cannot answer this request: it is addressed to another host");
    }
    const url = new URL(request.url);
    if (url.pathname !== CALLBACK_PATH) {
      await this.#skipBody(request);
      return messagePage(404, "This address is not part of the login");
    }
    if (request.method === "GET") {
      await this.#skipBody(request);
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
        await this.#skipBody(request);
        return plainText(403, "Cannot accept the login answer: it was posted from another origin");
      }
      const body = await this.#readAnswer(request);
      if (body instanceof Response) return body;
      const outcome = await this.#deliver(new URLSearchParams(new TextDecoder().decode(body)));
      return plainText(outcome.status, outcome.message);
    }
    await this.#skipBody(request);
    return plainText(405, "Cannot answer this request: only GET and POST are accepted", {
      "Allow": "GET, POST",
    });
  }

  /**
   * Whether a request's `Host` names this listener: a loopback name or
   * address with its port. Anything else may be another site's page that
   * rebound its name to 127.0.0.1 (DNS rebinding).
   */
  #isOwnHost(host: string | null): boolean {
    const match = host === null ? null : /^([^:[\]]+|\[[^\]]+\])(?::(\d{1,5}))?$/.exec(host);
    if (!match || !isLoopbackHost(match[1]!)) return false;
    return Number(match[2] ?? 80) === this.port;
  }

  /**
   * Reads the posted answer, at most {@linkcode MAX_ANSWER_BYTES} within the
   * answer timeout, and no longer than the listener is open; or
   * the response that refuses it.
   */
  async #readAnswer(request: Request): Promise<Uint8Array | Response> {
    if (Number(request.headers.get("content-length")) > MAX_ANSWER_BYTES) {
      await this.#skipBody(request);
      return plainText(413, "Cannot accept the login answer: it is too large");
    }
    if (request.body === null) return new Uint8Array();
    const limit = deadline(
      this.#closing.signal,
      this.#answerTimeout,
      `The login answer did not arrive within ${this.#answerTimeout} ms`,
    );
    try {
      // Piped, so that the signal ends a read that waits for bytes that never come.
      const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
      request.body.pipeTo(writable, { signal: limit.signal }).catch(() => {});
      try {
        return await readBounded(new Response(readable), MAX_ANSWER_BYTES);
      } catch (error) {
        if (error instanceof BodyTooLargeError) {
          return plainText(413, "Cannot accept the login answer: it is too large");
        }
        if (limit.expired.aborted) {
          return plainText(408, "Cannot accept the login answer: it did not arrive in time");
        }
        return plainText(503, "Cannot accept the login answer: the login listener was closed");
      }
    } finally {
      limit[Symbol.dispose]();
    }
  }

  /** Cancels a body this listener does not read. */
  async #skipBody(request: Request): Promise<void> {
    await request.body?.cancel().catch(() => {});
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
  return new TokenError("Cannot log in: the login listener was closed", { code: "closed" });
}
