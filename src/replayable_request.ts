/**
 * One resource request as the client sends it: prepared once, sent with a
 * token, replayed once with another after a 401 (and, with DPoP, once with
 * the resource's nonce), then released.
 *
 * @module
 */

import { discard, isStreamedBody, withPromptCancel } from "./_body.ts";
import { isLoopbackHost } from "./_endpoint_url.ts";
import type { DpopProver } from "./_dpop_prover.ts";
import { resourceNonceChallenge } from "./dpop_nonce.ts";
import { authorizationValue, bindingDefect, type Token } from "./token.ts";
import { TokenError } from "./token_error.ts";
import { challengeError } from "./www_authenticate.ts";

/** Settings of a {@linkcode ReplayableRequest}, the same for every request of a client. */
export interface ReplayableRequestOptions {
  /** Sends the request. */
  transport: typeof fetch;
  /**
   * The most bytes of a streamed body (a stream or an iterable in `init`, a
   * `Request` input's body) kept for the replay. Default: no limit.
   */
  maxReplayBytes?: number;
  /**
   * Whether the token may go over plain `http:` to a host that is not a
   * loopback host. Default: `false`.
   */
  allowHttp?: boolean;
  /**
   * The client's DPoP key and the resources' latest nonces, for a client
   * with DPoP ([RFC 9449 §7](https://www.rfc-editor.org/rfc/rfc9449#section-7)).
   */
  resourceDpop?: DpopProver;
}

/** Errors of a 401 that a new token would not fix. */
const NOT_THE_TOKEN = new Set(["insufficient_scope", "use_dpop_nonce", "invalid_dpop_proof"]);

/**
 * A request that can be sent a second time, body included.
 *
 * A URL with no body, a string or a Blob can be sent twice as given: no
 * Request of our own is built on this, the common path. Anything else is
 * built into a Request whose body is cloned, before the first send, for a
 * possible replay. `request.body` is never read: that turns a static body
 * into a stream, sent chunked and teed by clone(). A streamed body (a stream,
 * an iterable, a Request input's body) is counted on its way when the replay
 * limit is finite, so that its copy stops at the limit. The transport sees a
 * body whose `cancel()` settles at once, although it is a tee's branch.
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
  /** Sent with a URL target. */
  readonly #init: RequestInit | undefined;
  /** The copy for the replay; none when the target can be sent twice as it is. */
  #spare: Request | undefined;
  /**
   * What becomes of the copy: `kept` until the stream passes the replay limit
   * (`dropped`) or a 401 makes it needed whatever its size (`held`).
   */
  #copy: "kept" | "held" | "dropped" = "kept";
  readonly #dpop: DpopProver | undefined;
  /** Whether the renewal replay was sent. */
  #renewed = false;
  /** Whether the nonce replay was sent ([RFC 9449 §9](https://www.rfc-editor.org/rfc/rfc9449#section-9)). */
  #nonceReplayed = false;
  /** Whether the latest answer asked for a new DPoP nonce. */
  #nonceAsked = false;

  /**
   * Prepares a request: the caller's arguments are checked as fetch would
   * check them, and a body that cannot be sent twice is copied.
   *
   * @param input The caller's `fetch` input.
   * @param init The caller's `fetch` init; neither is changed.
   * @param options The transport, the replay limit and the http rule.
   * @throws {TypeError} when fetch would reject the input, the URL carries
   *   credentials, or it is plain `http:` to a host that is not loopback
   *   without `allowHttp`.
   * @throws {DOMException} when the signal is already aborted.
   */
  constructor(
    input: RequestInfo | URL,
    init: RequestInit | undefined,
    options: ReplayableRequestOptions,
  ) {
    this.#transport = options.transport;
    const dpop = this.#dpop = options.resourceDpop;
    const body = init?.body;
    // A proof names one method and URL (RFC 9449 §4.2): with DPoP, a redirect
    // is returned, not followed (fetch would carry the proof to the next URL).
    if (
      dpop &&
      (init?.redirect ?? (input instanceof Request ? input.redirect : "follow")) === "follow"
    ) init = { ...init, redirect: "manual" };
    let request = !(input instanceof Request) &&
        (body == null || typeof body === "string" || body instanceof Blob)
      ? undefined
      : new Request(input, init);
    // Without a Request of our own, fetch's own checks come only at the send:
    // make the cheap ones first, so bad input fails before any token request.
    checkInput(request ?? input as string | URL, init, options.allowHttp ?? false);
    this.signal = request ? request.signal : init?.signal ?? undefined;
    this.signal?.throwIfAborted();
    if (request && request.method !== "GET" && request.method !== "HEAD") {
      const streamed = isStreamedBody(body) || (body === undefined && input instanceof Request);
      const limit = options.maxReplayBytes ?? Infinity;
      const stream = streamed && limit !== Infinity ? request.body : null;
      // The runtime made the stream (of an iterable too); the copy is counted through it.
      if (stream) request = new Request(request, { body: this.#limited(stream, limit) });
      this.#spare = request.clone();
      withPromptCancel(request);
    }
    this.#target = request ?? input as string | URL;
    this.#init = init;
  }

  /** The request's URL. */
  get url(): string {
    const target = this.#target;
    return target instanceof Request ? target.url : new URL(target, baseUrl()).href;
  }

  /**
   * Sends the request with `token`; the caller's input, init and headers are
   * not changed. With DPoP, a `use_dpop_nonce` answer is replayed once with
   * the nonce, the same token ([RFC 9449 §9](https://www.rfc-editor.org/rfc/rfc9449#section-9)).
   */
  send(token: Token): Promise<Response> {
    const sent = this.#send(this.#target, token);
    return this.#dpop ? this.#afterNonceChallenge(sent, token) : sent;
  }

  /**
   * Whether `response` to this request rejects its token
   * ([RFC 6750 §3.1](https://www.rfc-editor.org/rfc/rfc6750#section-3.1)): a
   * 401, unless the `error` parameter of its Bearer challenge says the scope
   * is insufficient, which a new token cannot fix, or it came from another
   * origin after a redirect, where the token was not sent. Only that
   * parameter counts ([RFC 6750 §3](https://www.rfc-editor.org/rfc/rfc6750#section-3),
   * [RFC 9110 §11.6.1](https://www.rfc-editor.org/rfc/rfc9110#section-11.6.1)):
   * a description, another parameter or another scheme's challenge that
   * merely mentions `insufficient_scope` does not.
   */
  isTokenRejected(response: Response): boolean {
    if (response.status !== 401) return false;
    const sent = this.#target;
    const url = sent instanceof Request ? sent.url : sent;
    if (response.redirected && response.url && origin(response.url) !== origin(url)) {
      return false;
    }
    const header = response.headers.get("www-authenticate");
    const error = (this.#dpop && challengeError(header, "dpop")) ??
      challengeError(header, "bearer");
    return !NOT_THE_TOKEN.has(error?.toLowerCase() ?? "");
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

  /** Sends the request again, with `token` (with DPoP, then maybe once more for a nonce). */
  replay(token: Token): Promise<Response> {
    this.#renewed = true;
    const sent = this.#send(this.#nextTarget(), token);
    return this.#dpop ? this.#afterNonceChallenge(sent, token) : sent;
  }

  /** Frees the copy if it was not sent: cancelling a tee's spare branch frees what it buffered. */
  release(): void {
    if (this.#spare) void discard(this.#spare);
    this.#spare = undefined;
  }

  /** A resource's `use_dpop_nonce` answer replayed once, if the nonce is new and there is a copy. */
  async #afterNonceChallenge(sent: Promise<Response>, token: Token): Promise<Response> {
    const response = await sent;
    // Once; and the same nonce asked for again would be refused again: no loop.
    if (this.#nonceReplayed || !this.#nonceAsked || !this.holdForReplay()) return response;
    this.#nonceReplayed = true;
    void discard(response);
    return await this.#send(this.#nextTarget(), token);
  }

  /**
   * What the next send sends: the copy, itself copied first while one more
   * send may follow (a renewal after a nonce replay, or the other way round:
   * at most three sends, one copy held at a time), else the target itself.
   */
  #nextTarget(): Request | string | URL {
    const spare = this.#spare;
    if (!spare) return this.#target;
    const another = !this.#renewed || (this.#dpop !== undefined && !this.#nonceReplayed);
    this.#spare = another ? spare.clone() : undefined;
    return withPromptCancel(spare);
  }

  #send(target: Request | string | URL, token: Token): Promise<Response> {
    if (this.#dpop || token.tokenType !== "Bearer") return this.#sendBound(target, token);
    const authorization = authorizationValue(token);
    if (target instanceof Request) {
      // Our own Request (built or cloned when prepared): its headers are a copy.
      target.headers.set("Authorization", authorization);
      return this.#transport(target);
    }
    return this.#transport(target, {
      ...this.#init,
      headers: withHeaders(this.#init?.headers, { Authorization: authorization }),
    });
  }

  /**
   * Sends with a DPoP-bound token: `Authorization: DPoP <token>` and a new
   * proof with `ath` and the resource's latest nonce
   * ([RFC 9449 §7](https://www.rfc-editor.org/rfc/rfc9449#section-7)); the
   * answer's nonce is remembered. A token whose type does not match the
   * client's is never sent ([§7.1](https://www.rfc-editor.org/rfc/rfc9449#section-7.1)).
   */
  async #sendBound(target: Request | string | URL, token: Token): Promise<Response> {
    const dpop = this.#dpop;
    const defect = bindingDefect(token.tokenType, dpop !== undefined);
    if (defect !== undefined || dpop === undefined) {
      throw new TokenError(`Cannot send the request with the token: ${defect}`, {
        code: "invalid_response",
      });
    }
    const url = target instanceof Request ? target.url : new URL(target, baseUrl()).href;
    const method = target instanceof Request ? target.method : this.#init?.method ?? "GET";
    const { proof, nonce } = await dpop.sign(method, url, token.accessToken);
    const values = { Authorization: authorizationValue(token), DPoP: proof };
    let response: Response;
    if (target instanceof Request) {
      for (const [name, value] of Object.entries(values)) target.headers.set(name, value);
      response = await this.#transport(target);
    } else {
      const headers = withHeaders(this.#init?.headers, values);
      response = await this.#transport(target, { ...this.#init, headers });
    }
    const from = response.redirected && response.url ? response.url : url;
    this.#nonceAsked = dpop.answered(
      from,
      response.headers,
      resourceNonceChallenge(response),
      nonce,
    );
    return response;
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
 * The caller's headers with `values` set (`Authorization`, and `DPoP`), in a
 * new object. A plain record stays a record: `fetch` reads one faster than a
 * `Headers` object.
 */
function withHeaders(
  headers: HeadersInit | undefined,
  values: Record<string, string>,
): HeadersInit {
  if (headers == null) return values;
  if (headers instanceof Headers || Symbol.iterator in headers) {
    const copy = new Headers(headers);
    for (const [name, value] of Object.entries(values)) copy.set(name, value);
    return copy;
  }
  // No prototype: a header named "__proto__" stays a header where the
  // runtime has that accessor (Node, Bun; Deno removed it).
  const record: Record<string, string> = Object.create(null);
  const replaced = Object.keys(values).map((name) => name.toLowerCase());
  for (const [name, header] of Object.entries(headers)) {
    // Header names are case-insensitive: the caller's own Authorization (and DPoP) go.
    if (!replaced.includes(name.toLowerCase())) record[name] = header;
  }
  return Object.assign(record, values);
}

function origin(url: string | URL): string {
  return new URL(url, baseUrl()).origin;
}

/** The base of relative URLs, as fetch has it: `location` when Deno runs with `--location`. */
function baseUrl(): string | undefined {
  return (globalThis as { location?: { href: string } }).location?.href;
}

/**
 * The checks fetch would make of the input, and where a bearer token may go,
 * made before any token request. A Request was parsed and checked by its
 * constructor; a URL input gets fetch's URL and body checks as well (a string
 * is parsed once, as fetch would; a URL object is not parsed again).
 */
function checkInput(
  target: Request | string | URL,
  init: RequestInit | undefined,
  allowHttp: boolean,
): void {
  if (target instanceof Request) return checkDestination(target.url, allowHttp);
  if (target !== passedUrl || allowHttp !== passedAllowHttp) {
    let url: URL;
    try {
      url = target instanceof URL ? target : new URL(target, baseUrl());
    } catch {
      throw new TypeError("Cannot send the request: the URL is not valid");
    }
    checkDestination(url.href, allowHttp);
    if (typeof target === "string") [passedUrl, passedAllowHttp] = [target, allowHttp];
  }
  const method = init?.method?.toUpperCase();
  if (init?.body != null && (method === undefined || method === "GET" || method === "HEAD")) {
    throw new TypeError(
      `Cannot send the request: a ${method ?? "GET"} request cannot have a body`,
    );
  }
}

/**
 * The last string URL that passed {@linkcode checkInput}, and the http rule it
 * passed under: a client that calls one URL again and again parses it once.
 * A string's checks depend only on it and `location`, fixed for the process.
 */
let passedUrl: string | undefined;
let passedAllowHttp = false;

/**
 * Where a bearer token may go: `https:`, or `http:` to a loopback host or with
 * `allowHttp` ([RFC 6750 §5.3](https://www.rfc-editor.org/rfc/rfc6750#section-5.3):
 * a client must use TLS), never with credentials in the URL (fetch would send
 * them as a second, Basic, authorization). Messages never show the URL.
 *
 * @param href A normalized URL, read as a string (no parse on the hot path):
 *   `scheme://[userinfo@]host[:port]/path`, the path never empty for `http:`
 *   and `https:`.
 */
function checkDestination(href: string, allowHttp: boolean): void {
  const colon = href.indexOf(":");
  const protocol = href.slice(0, colon + 1);
  if (protocol !== "https:" && protocol !== "http:") {
    throw new TypeError(
      `Cannot send the request: a bearer token goes only to http: and https: URLs, not ${protocol}`,
    );
  }
  const start = colon + 3;
  const end = href.indexOf("/", start);
  if (href.lastIndexOf("@", end) >= start) {
    throw new TypeError(
      "Cannot send the request: the URL must not carry credentials (user:password@); a bearer token authorizes it",
    );
  }
  if (protocol === "http:" && !allowHttp && !isLoopbackHost(hostOf(href.slice(start, end)))) {
    throw new TypeError(
      'Cannot send the request: a bearer token goes over plain http: only to a loopback host; use https: or set "allowHttp"',
    );
  }
}

/** The host of a normalized authority without userinfo: `[::1]:8080` → `[::1]`. */
function hostOf(authority: string): string {
  const end = authority.startsWith("[") ? authority.indexOf("]") + 1 : authority.indexOf(":");
  return end <= 0 ? authority : authority.slice(0, end);
}
