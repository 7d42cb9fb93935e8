/**
 * Authorization server metadata: finding the endpoints from the issuer
 * ([RFC 8414](https://www.rfc-editor.org/rfc/rfc8414),
 * [OpenID Connect Discovery 1.0](https://openid.net/specs/openid-connect-discovery-1_0.html)).
 *
 * @module
 */

import { abortable, deadline } from "./_abort.ts";
import { discard, readBounded } from "./_body.ts";
import { parseEndpointUrl } from "./_endpoint_url.ts";
import { checkKnownOptions } from "./_known_options.ts";
import { requestFailure } from "./_request_outcome.ts";
import {
  type AuthorizationServerMetadata,
  checkMetadataEndpoint,
  validateMetadata,
} from "./server_metadata.ts";
import { TokenError, type TokenErrorOptions } from "./token_error.ts";
import { parseJsonObject } from "./token_response.ts";

export type { AuthorizationServerMetadata } from "./server_metadata.ts";

/**
 * Options of {@linkcode discover}.
 *
 * @example A slow server on the local network
 * ```ts
 * import type { DiscoverOptions } from "@alf/client";
 *
 * const options: DiscoverOptions = { allowHttp: true, timeout: 60_000 };
 * ```
 */
export interface DiscoverOptions {
  /** The transport. Default: `globalThis.fetch`. Callers with the same transport share the cache. */
  fetch?: typeof fetch;
  /** Stops waiting; the shared request goes on for other callers. */
  signal?: AbortSignal;
  /** Allow plain `http:` issuer and endpoints on a non-loopback host. Default: `false`. */
  allowHttp?: boolean;
  /** How long the metadata request may take, in milliseconds. Default: 30 000. */
  timeout?: number;
  /** Fetch again, replacing what the cache holds (after the server changed). Default: `false`. */
  reload?: boolean;
}

/**
 * Every name of {@linkcode DiscoverOptions}: any other name is refused as a
 * misspelling.
 */
export const DISCOVER_OPTION_NAMES = {
  fetch: true,
  signal: true,
  allowHttp: true,
  timeout: true,
  reload: true,
} as const satisfies Record<keyof DiscoverOptions, true>;

/** Largest metadata document read: 1 MiB. */
const MAX_METADATA_BYTES = 1024 * 1024;
/** An error body is kept for the caller to read: 64 KiB is plenty. */
const MAX_ERROR_BYTES = 64 * 1024;
const DEFAULT_TIMEOUT = 30_000;

interface Pending {
  promise: Promise<AuthorizationServerMetadata>;
  controller: AbortController;
  waiters: number;
  /** Removes this request from the cache, if it is still there. */
  forget(): void;
}

/** One cache per transport: metadata read through another `fetch` may differ. */
const cache = new WeakMap<typeof fetch, Map<string, Pending>>();

/**
 * Fetches an authorization server's metadata from its issuer identifier, once
 * per process.
 *
 * Reads the [RFC 8414 §3.1](https://www.rfc-editor.org/rfc/rfc8414#section-3.1)
 * location first (`https://host/tenant` reads
 * `https://host/.well-known/oauth-authorization-server/tenant`) and, when it
 * answers with no metadata (an error status, or a body that is not a JSON
 * object), the OpenID Connect one (`https://host/tenant/.well-known/openid-configuration`).
 * The document's `issuer` must equal the one asked for
 * ([RFC 8414 §3.3](https://www.rfc-editor.org/rfc/rfc8414#section-3.3)):
 * compared as strings, so `https://host` and `https://host/` differ. Its
 * endpoints must use `https:` (or `http:` on a loopback host, or with
 * `allowHttp`), and `token_endpoint` must be present.
 *
 * The result is kept for the life of the process: concurrent and later
 * callers of one issuer share one request. A failure is not kept.
 *
 * @example Finding the token endpoint
 * ```ts
 * import assert from "node:assert/strict";
 * import { discover } from "@alf/client";
 *
 * // A stand-in transport; without one, the server is asked over the network.
 * const fetch = (input: RequestInfo | URL) =>
 *   Promise.resolve(
 *     String(input) === "https://auth.example.com/.well-known/oauth-authorization-server"
 *       ? Response.json({
 *         issuer: "https://auth.example.com",
 *         token_endpoint: "https://auth.example.com/oauth/token",
 *       })
 *       : new Response(null, { status: 404 }),
 *   );
 * const metadata = await discover("https://auth.example.com", { fetch });
 * assert.equal(metadata.token_endpoint, "https://auth.example.com/oauth/token");
 * ```
 *
 * @param issuer The issuer identifier: an `https:` URL without query or fragment.
 * @param options The transport, signal, timeout and `http:` permission.
 * @returns The metadata, frozen.
 * @throws {TypeError} when the issuer is not such a URL, or an option is malformed or
 * unknown.
 * @throws {TokenError} when no valid metadata can be had.
 */
export function discover(
  issuer: string | URL,
  options: DiscoverOptions = {},
): Promise<AuthorizationServerMetadata> {
  checkKnownOptions(options, DISCOVER_OPTION_NAMES, "discovery request");
  const allowHttp = options.allowHttp ?? false;
  const url = parseIssuer(issuer, "discovery request", "issuer", allowHttp);
  const timeout = options.timeout ?? DEFAULT_TIMEOUT;
  if (typeof timeout !== "number" || !(timeout >= 1)) {
    throw new RangeError(
      'Cannot create the discovery request: "timeout" must be a number of milliseconds >= 1',
    );
  }
  const transport = options.fetch ?? globalThis.fetch;
  if (typeof transport !== "function") {
    throw new TypeError('Cannot create the discovery request: "fetch" must be a function');
  }
  // A URL object cannot tell `https://host` from `https://host/`: either is the issuer asked for.
  const names = typeof issuer === "string"
    ? [issuer]
    : url.pathname === "/"
    ? [url.href, url.href.slice(0, -1)]
    : [url.href];
  const key = `${allowHttp}\n${names[0]}`;
  let entries = cache.get(transport);
  if (entries === undefined) cache.set(transport, entries = new Map());
  let pending = options.reload ? undefined : entries.get(key);
  if (pending === undefined) {
    const controller = new AbortController();
    const fetched = fetchMetadata(url, names, transport, timeout, allowHttp, controller.signal);
    const entry: Pending = {
      promise: fetched,
      controller,
      waiters: 0,
      forget: () => {
        if (entries.get(key) === entry) entries.delete(key);
      },
    };
    entries.set(key, entry);
    fetched.catch(entry.forget);
    pending = entry;
  }
  return wait(pending, names[0] ?? url.href, options.signal);
}

/**
 * Parses an issuer identifier: an endpoint URL (see `parseEndpointUrl`)
 * without query or fragment ([RFC 8414 §2](https://www.rfc-editor.org/rfc/rfc8414#section-2)).
 *
 * @param value The option's value.
 * @param context What is being created, for messages: `client`, `discovery request`.
 * @param option The option's name, for messages.
 * @param allowHttp Whether plain `http:` is allowed on any host.
 * @throws {TypeError} when the value is not such a URL.
 */
export function parseIssuer(
  value: unknown,
  context: string,
  option: string,
  allowHttp: boolean,
): URL {
  const url = parseEndpointUrl(value, context, option, allowHttp);
  if (url.search || url.hash || String(value).includes("#")) {
    throw new TypeError(`Cannot create the ${context}: "${option}" must have no query or fragment`);
  }
  return url;
}

/** Waits for a shared request; the last waiter to give up aborts it. */
async function wait(
  pending: Pending,
  asked: string,
  signal: AbortSignal | undefined,
): Promise<AuthorizationServerMetadata> {
  pending.waiters++;
  try {
    return await abortable(pending.promise, signal);
  } catch (error) {
    if (signal?.aborted && error === signal.reason) {
      throw new TokenError(`Cannot discover the metadata of ${asked}: the request was aborted`, {
        code: "aborted",
        cause: signal.reason,
      });
    }
    throw error;
  } finally {
    pending.waiters--;
    if (pending.waiters === 0 && signal?.aborted) {
      // Forgotten now, so that a caller arriving before the rejection settles asks anew.
      pending.forget();
      pending.controller.abort(signal.reason);
    }
  }
}

async function fetchMetadata(
  issuer: URL,
  names: string[],
  transport: typeof fetch,
  timeout: number,
  allowHttp: boolean,
  signal: AbortSignal,
): Promise<AuthorizationServerMetadata> {
  const asked = names[0] ?? issuer.href;
  const locations = wellKnownUrls(issuer);
  const { document } = await fetchJsonDocument(locations, {
    asked,
    transport,
    timeout,
    allowHttp,
    signal,
  });
  return validateMetadata(document, asked, names, allowHttp);
}

/** Where {@linkcode fetchJsonDocument} looks, and what for. */
export interface DocumentRequest {
  /** What the document describes, for messages: an issuer, a resource. */
  asked: string;
  transport: typeof fetch;
  /** The bound of the whole search, in milliseconds. */
  timeout: number;
  /** Allow plain `http:` for a redirected location on a non-loopback host. */
  allowHttp: boolean;
  signal?: AbortSignal;
}

/**
 * The first JSON object found at `locations`, tried in order: a location
 * that answers an HTTP error or no JSON object (a catch-all page) is skipped;
 * a network failure, a timeout or a document past 1 MiB ends the search.
 *
 * @returns The document and the location that served it.
 * @throws {TokenError} naming every location's failure.
 */
export async function fetchJsonDocument(
  locations: URL[],
  request: DocumentRequest,
): Promise<{ document: Record<string, unknown>; location: URL }> {
  const { asked, transport, timeout, allowHttp } = request;
  const bound = deadline(request.signal, timeout, "The metadata request timed out");
  try {
    const failures: string[] = [];
    /** The last location's failure: its HTTP error, or a body that is no metadata. */
    let last: TokenErrorOptions = {};
    for (const location of locations) {
      let response: Response;
      let text: string;
      try {
        response = await transport(location, {
          headers: { Accept: "application/json" },
          signal: bound.signal,
        });
      } catch (cause) {
        throw failure(asked, cause, bound.signal, timeout, `cannot reach ${location}`);
      }
      if (response.status < 200 || response.status > 299) {
        const { status, headers } = response;
        let body: string;
        try {
          body = new TextDecoder().decode(await readBounded(response, MAX_ERROR_BYTES));
        } catch {
          // Its status says enough; a body past the bound or cut off is not kept.
          await discard(response);
          body = "";
        }
        failures.push(`${location} answered ${status}`);
        last = { code: "http_error", status, headers, body };
        continue;
      }
      try {
        text = new TextDecoder().decode(await readBounded(response, MAX_METADATA_BYTES));
      } catch (cause) {
        throw failure(asked, cause, bound.signal, timeout, `cannot read ${location}`);
      }
      const document = parseJsonObject(text);
      if (document === undefined) {
        // A catch-all page (a single-page app's index.html) answers 200 to any path.
        failures.push(`${location} answered no JSON object`);
        last = { code: "invalid_response", status: response.status };
        continue;
      }
      if (response.url && response.redirected) {
        checkMetadataEndpoint(asked, "the metadata location", response.url, allowHttp);
      }
      return { document, location };
    }
    throw new TokenError(`Cannot discover the metadata of ${asked}: ${failures.join("; ")}`, last);
  } finally {
    bound[Symbol.dispose]();
  }
}

/**
 * The two locations of the metadata: RFC 8414 §3.1 inserts the well-known
 * path before the issuer's path; OpenID Connect Discovery §4 appends it.
 * Both drop a terminating `/` of the path first.
 */
export function wellKnownUrls(issuer: URL): [URL, URL] {
  const path = issuer.pathname.replace(/\/$/, "");
  return [
    new URL(`/.well-known/oauth-authorization-server${path}`, issuer.origin),
    new URL(`${path}/.well-known/openid-configuration`, issuer.origin),
  ];
}

function failure(
  asked: string,
  cause: unknown,
  signal: AbortSignal,
  timeout: number,
  what: string,
): TokenError {
  const prefix = `Cannot discover the metadata of ${asked}`;
  return requestFailure(cause, {
    signal,
    tooLarge: `${prefix}: the document exceeds ${MAX_METADATA_BYTES} bytes`,
    timedOut: `${prefix}: the server did not answer within ${timeout} ms`,
    aborted: `${prefix}: the request was aborted`,
    unreachable: (reason) =>
      `${prefix}: ${what}: ${reason instanceof Error ? reason.message : String(reason)}`,
  });
}
