/**
 * One resource request as the client sends it: prepared once, sent with a
 * token, replayed once with another after a 401, then released.
 *
 * @module
 */

import { discard } from "./_body.ts";
import { authorizationValue, type Token } from "./token.ts";

/** Settings of a {@linkcode ReplayableRequest}, the same for every request of a client. */
export interface ReplayableRequestOptions {
  /** Sends the request. */
  transport: typeof fetch;
  /** The most bytes of an `init.body` stream kept for the replay. */
  maxReplayBytes: number;
}

/**
 * A request that can be sent a second time, body included.
 *
 * A URL with no body, a string or a Blob can be sent twice as given: no
 * Request of our own is built on this, the common path. Anything else is
 * built into a Request whose body is cloned, before the first send, for a
 * possible replay. `request.body` is never read: that turns a static body
 * into a stream, sent chunked and teed by clone().
 *
 * Lifecycle: `new` (prepare), `send()`, then `replay()` if `holdForReplay()`
 * allows it; `release()` in every case.
 */
export class ReplayableRequest {
  /** The signal that stops the whole request: the token wait and both sends. */
  readonly signal: AbortSignal | undefined;
  readonly #transport: typeof fetch;
  /** The caller's URL, or a Request of our own. */
  readonly #target: Request | string | URL;
  /** Sent with a URL target (with a limited stream as its body, if one was given). */
  readonly #init: RequestInit | undefined;
  /** Only a stream's copy holds a tee that must be cancelled. */
  readonly #streamed: boolean;
  /** The copy for the replay; none when the target can be sent twice as it is. */
  #spare: Request | undefined;
  /**
   * What becomes of the copy: `kept` until the stream passes the replay limit
   * (`dropped`) or a 401 makes it needed whatever its size (`held`).
   */
  #copy: "kept" | "held" | "dropped" = "kept";

  /**
   * Prepares a request: the caller's arguments are checked as fetch would
   * check them, and a body that cannot be sent twice is copied.
   *
   * @param input The caller's `fetch` input.
   * @param init The caller's `fetch` init; neither is changed.
   * @param options The transport and the replay limit.
   * @throws {TypeError} when fetch would reject the input.
   * @throws {DOMException} when the signal is already aborted.
   */
  constructor(
    input: RequestInfo | URL,
    init: RequestInit | undefined,
    options: ReplayableRequestOptions,
  ) {
    this.#transport = options.transport;
    const body = init?.body;
    if (body instanceof ReadableStream && options.maxReplayBytes !== Infinity) {
      init = { ...init, body: this.#limited(body, options.maxReplayBytes) };
    }
    const request = !(input instanceof Request) &&
        (body == null || typeof body === "string" || body instanceof Blob)
      ? undefined
      : new Request(input, init);
    // Without a Request of our own, fetch's own checks come only at the send:
    // make the cheap ones first, so bad input fails before any token request.
    checkInput(request ?? input as string | URL, init);
    this.signal = request ? request.signal : init?.signal ?? undefined;
    this.signal?.throwIfAborted();
    this.#target = request ?? input as string | URL;
    this.#init = init;
    this.#spare = request && request.method !== "GET" && request.method !== "HEAD"
      ? request.clone()
      : undefined;
    this.#streamed = body instanceof ReadableStream || (body === undefined && !!request);
  }

  /** Sends the request with `token`; the caller's input, init and headers are not changed. */
  send(token: Token): Promise<Response> {
    return this.#send(this.#target, token);
  }

  /**
   * Whether `response` to this request rejects its token
   * ([RFC 6750 §3.1](https://www.rfc-editor.org/rfc/rfc6750#section-3.1)): a
   * 401, unless its challenge says the scope is insufficient, which a new
   * token cannot fix, or it came from another origin after a redirect, where
   * the token was not sent.
   */
  isTokenRejected(response: Response): boolean {
    if (response.status !== 401) return false;
    const sent = this.#target;
    const url = sent instanceof Request ? sent.url : sent;
    if (response.redirected && response.url && origin(response.url) !== origin(url)) {
      return false;
    }
    const challenge = response.headers.get("www-authenticate") ?? "";
    return !/\berror\s*=\s*"?insufficient_scope\b/i.test(challenge);
  }

  /**
   * Keeps the copy for the replay whatever its size: an early 401 may come
   * while the first upload still reads the stream.
   *
   * @returns `false` when there is nothing to replay: the stream passed the
   *   replay limit and its copy is gone.
   */
  holdForReplay(): boolean {
    if (this.#copy === "dropped") return false;
    this.#copy = "held";
    return true;
  }

  /** Sends the request a second time, with `token`. */
  replay(token: Token): Promise<Response> {
    const replay = this.#spare ?? this.#target;
    this.#spare = undefined;
    return this.#send(replay, token);
  }

  /** Frees the copy if it was not sent: cancelling a tee's spare branch frees what it buffered. */
  release(): void {
    if (this.#spare && this.#streamed) void discard(this.#spare);
  }

  #send(target: Request | string | URL, token: Token): Promise<Response> {
    const authorization = authorizationValue(token);
    if (target instanceof Request) {
      // Our own Request (built or cloned when prepared): its headers are a copy.
      target.headers.set("Authorization", authorization);
      return this.#transport(target);
    }
    return this.#transport(target, {
      ...this.#init,
      headers: withAuthorization(this.#init?.headers, authorization),
    });
  }

  /** `body`, counted on its way: past `max` bytes, the copy stops being kept. */
  #limited(body: ReadableStream, max: number): ReadableStream<Uint8Array> {
    let size = 0;
    return body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform: (chunk, controller) => {
          size += chunk?.byteLength ?? 0;
          if (size > max) this.#dropCopy();
          controller.enqueue(chunk);
        },
      }),
    );
  }

  #dropCopy(): void {
    if (this.#copy !== "kept") return;
    this.#copy = "dropped";
    // Cancelling the tee's spare branch frees what it buffered.
    if (this.#spare) void discard(this.#spare);
    this.#spare = undefined;
  }
}

/**
 * The caller's headers with `Authorization` set, in a new object. A plain
 * record stays a record: `fetch` reads one faster than a `Headers` object.
 */
function withAuthorization(headers: HeadersInit | undefined, value: string): HeadersInit {
  if (headers == null) return { Authorization: value };
  if (headers instanceof Headers || Symbol.iterator in headers) {
    const copy = new Headers(headers);
    copy.set("Authorization", value);
    return copy;
  }
  // No prototype: a header named "__proto__" stays a header where the
  // runtime has that accessor (Node, Bun; Deno removed it).
  const record: Record<string, string> = Object.create(null);
  for (const [name, header] of Object.entries(headers)) {
    // Header names are case-insensitive: the caller's own Authorization goes.
    if (name.toLowerCase() !== "authorization") record[name] = header;
  }
  record.Authorization = value;
  return record;
}

function origin(url: string | URL): string {
  return new URL(url, baseUrl()).origin;
}

/** The base of relative URLs, as fetch has it: `location` when Deno runs with `--location`. */
function baseUrl(): string | undefined {
  return (globalThis as { location?: { href: string } }).location?.href;
}

/**
 * The checks fetch would make of the input, made before any token request.
 * A Request was parsed and checked by its constructor: only the scheme is
 * left; a URL input gets fetch's URL and body checks as well.
 */
function checkInput(target: Request | string | URL, init: RequestInit | undefined): void {
  let protocol: string;
  if (target instanceof Request) {
    protocol = target.url.slice(0, target.url.indexOf(":") + 1);
  } else {
    try {
      protocol = new URL(target, baseUrl()).protocol;
    } catch {
      throw new TypeError("Cannot send the request: the URL is not valid");
    }
    const method = init?.method?.toUpperCase();
    if (init?.body != null && (method === undefined || method === "GET" || method === "HEAD")) {
      throw new TypeError(
        `Cannot send the request: a ${method ?? "GET"} request cannot have a body`,
      );
    }
  }
  if (protocol !== "https:" && protocol !== "http:") {
    throw new TypeError(
      `Cannot send the request: a bearer token goes only to http: and https: URLs, not ${protocol}`,
    );
  }
}
