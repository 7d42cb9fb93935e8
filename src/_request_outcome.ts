// What a token request ended in: its `request` event, and why it failed as a
// TokenError whose message names the endpoint and the transport's own cause
// (a logger that prints only the message still shows where and why).

import { BodyTooLargeError } from "./_body.ts";
import type { ClientEvent } from "./client_event.ts";
import { TokenError } from "./token_error.ts";

/**
 * What a failed request to an authorization server was doing, in the words
 * of its messages: one classification serves the token, revocation and
 * metadata requests.
 */
export interface RequestFailureContext {
  /** The request's signal: its reason tells a timeout from an abort. */
  signal: AbortSignal;
  /** The status of the response whose body failed, if any. */
  status?: number;
  /** The message when the body passed its bound. */
  tooLarge: string;
  /** The message when the request's own timeout ended it. */
  timedOut: string;
  /** The message when the caller aborted it. */
  aborted: string;
  /** The message of a transport failure, from its cause. */
  unreachable(cause: unknown): string;
}

/** The TokenError for a request that ended in `cause`, with a stable code. */
export function requestFailure(cause: unknown, context: RequestFailureContext): TokenError {
  const { signal, status } = context;
  if (cause instanceof BodyTooLargeError) {
    return new TokenError(context.tooLarge, { code: "invalid_response", status, cause });
  }
  if (
    signal.aborted && signal.reason instanceof DOMException &&
    signal.reason.name === "TimeoutError"
  ) {
    return new TokenError(context.timedOut, { code: "timeout", cause: signal.reason });
  }
  if (signal.aborted) {
    return new TokenError(context.aborted, { code: "aborted", cause: signal.reason });
  }
  return new TokenError(context.unreachable(cause), { code: "network_error", cause });
}

/** Where a token request failed, and its limits. */
export interface TokenRequestFailure {
  signal: AbortSignal;
  /** What could not be done: `Cannot reach the token endpoint https://…`. */
  what: string;
  status?: number;
  timeout: number;
  maxBytes: number;
}

/** The TokenError of a token request that ended in `cause`, naming the endpoint and the cause. */
export function tokenRequestFailure(cause: unknown, failure: TokenRequestFailure): TokenError {
  const { signal, what, status, timeout, maxBytes } = failure;
  return requestFailure(cause, {
    signal,
    status,
    tooLarge: `Cannot read the token response: the body exceeds ${maxBytes} bytes`,
    timedOut: `Cannot obtain a token: the token endpoint did not answer within ${timeout} ms`,
    aborted: "Cannot obtain a token: the token request was aborted",
    unreachable: (reason) => `${what}: ${causeText(reason)}`,
  });
}

/** A URL as messages and events name it: origin and path, never the query. */
export function endpointName(url: URL): string {
  return url.origin + url.pathname;
}

/**
 * A network error's message and its causes' ("fetch failed" alone says
 * little), without the URL Deno repeats in them (it may carry a query).
 */
export function causeText(cause: unknown): string {
  const texts: string[] = [];
  for (let error = cause, depth = 0; depth < 3 && error !== undefined; depth++) {
    const text = error instanceof Error ? error.message : String(error);
    texts.push(text.replace(/^error sending request for url \([^)]*\): /, ""));
    error = error instanceof Error ? error.cause : undefined;
  }
  return texts.join(": ");
}

/** How a token request ended, for its `request` event. */
export interface RequestReport {
  /** The `grant_type` sent. */
  grant: string;
  status: number | undefined;
  /** When the request began, by `performance.now()`. */
  started: number;
  /** Why it failed, if it did. */
  error: string | undefined;
}

/** Passes the `request` event of a token request to `onEvent`, whose own failure is not the request's. */
export function reportRequest(
  onEvent: ((event: ClientEvent) => void) | undefined,
  url: URL,
  report: RequestReport,
): void {
  const { grant, status, started, error } = report;
  const durationMs = Math.round(performance.now() - started);
  try {
    const event = {
      type: "request",
      endpoint: endpointName(url),
      grant,
      status,
      durationMs,
    } as const;
    onEvent?.(error === undefined ? event : { ...event, error });
  } catch {
    // A listener's failure is not the request's.
  }
}
