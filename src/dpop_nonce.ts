/**
 * DPoP server nonces ([RFC 9449 §8](https://www.rfc-editor.org/rfc/rfc9449#section-8),
 * [§9](https://www.rfc-editor.org/rfc/rfc9449#section-9)): the latest nonce of each origin, and
 * the answers that ask for one.
 *
 * @module
 */

import { challengeError } from "./www_authenticate.ts";

/**
 * Whether a value has DPoP nonce syntax: `1*NQCHAR`
 * ([RFC 9449 §8.1](https://www.rfc-editor.org/rfc/rfc9449#section-8.1)).
 *
 * @param value Any value.
 * @returns `true` for a non-empty string of visible ASCII other than `"` and `\`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isNonce } from "./dpop_nonce.ts";
 *
 * assert.equal(isNonce("eyJ7S_zG.eyJH0-Z.HX4w-7v"), true);
 * assert.equal(isNonce('a"b'), false);
 * ```
 */
export function isNonce(value: unknown): value is string {
  return typeof value === "string" && value.length <= MAX_NONCE_LENGTH &&
    /^[\x21\x23-\x5B\x5D-\x7E]+$/.test(value);
}

/**
 * The longest nonce taken: 4 KiB. A longer one is ignored, so that a server
 * cannot make every later proof (and the client's memory of its nonces) huge.
 */
const MAX_NONCE_LENGTH = 4096;

/** The `DPoP-Nonce` header of an answer, when it holds a valid nonce. */
function nonceHeader(headers: Headers | undefined): string | undefined {
  const value = headers?.get("DPoP-Nonce") ?? undefined;
  return isNonce(value) ? value : undefined;
}

/** The most origins a {@linkcode DpopNonces} remembers; the least recently used goes first. */
const MAX_ORIGINS = 1000;

/**
 * The latest `DPoP-Nonce` of each origin. A server may send a new nonce with any answer, a
 * success included ([RFC 9449 §8.2](https://www.rfc-editor.org/rfc/rfc9449#section-8.2)); the
 * next proof to that origin carries it. Nonces of one origin are never sent to another.
 *
 * @example Remembering and using a nonce
 * ```ts
 * import assert from "node:assert/strict";
 * import { DpopNonces } from "./dpop_nonce.ts";
 *
 * const nonces = new DpopNonces();
 * nonces.remember("https://auth.example/token", new Headers({ "DPoP-Nonce": "n-1" }));
 * assert.equal(nonces.get("https://auth.example/other?x=1"), "n-1");
 * assert.equal(nonces.get("https://api.example/items"), undefined);
 * ```
 */
export class DpopNonces {
  readonly #byOrigin = new Map<string, string>();

  /**
   * The latest nonce of a URL's origin.
   *
   * @param url Any URL of the origin.
   * @returns The nonce, or `undefined` when the origin gave none (or the URL is not valid).
   */
  get(url: string | URL): string | undefined {
    const origin = originOf(url);
    return origin === undefined ? undefined : this.#byOrigin.get(origin);
  }

  /**
   * Keeps the `DPoP-Nonce` of an answer from `url`, when it has a valid one; it replaces the
   * origin's previous nonce.
   *
   * @param url The URL the request went to.
   * @param headers The answer's headers.
   * @returns The nonce kept, or `undefined` when the answer had none.
   */
  remember(url: string | URL, headers: Headers): string | undefined {
    const nonce = nonceHeader(headers);
    const origin = originOf(url);
    if (nonce === undefined || origin === undefined) return undefined;
    this.#byOrigin.delete(origin);
    this.#byOrigin.set(origin, nonce);
    if (this.#byOrigin.size > MAX_ORIGINS) {
      const oldest = this.#byOrigin.keys().next().value;
      if (oldest !== undefined) this.#byOrigin.delete(oldest);
    }
    return nonce;
  }
}

function originOf(url: string | URL): string | undefined {
  try {
    const origin = new URL(url).origin;
    return origin === "null" ? undefined : origin;
  } catch {
    return undefined;
  }
}

/**
 * The nonce a token endpoint asks for: a `400` whose error is `use_dpop_nonce`, with a
 * `DPoP-Nonce` header ([RFC 9449 §8](https://www.rfc-editor.org/rfc/rfc9449#section-8)).
 *
 * @param answer The token endpoint's error: a `TokenError` has these fields.
 * @returns The nonce to retry with, or `undefined` when the answer is not such a request.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tokenNonceChallenge } from "./dpop_nonce.ts";
 *
 * const headers = new Headers({ "DPoP-Nonce": "n-1" });
 * assert.equal(tokenNonceChallenge({ status: 400, error: "use_dpop_nonce", headers }), "n-1");
 * assert.equal(tokenNonceChallenge({ status: 400, error: "invalid_grant", headers }), undefined);
 * ```
 */
export function tokenNonceChallenge(
  answer: { status?: number; error?: string; headers?: Headers },
): string | undefined {
  if (answer.status !== 400 || answer.error !== "use_dpop_nonce") return undefined;
  return nonceHeader(answer.headers);
}

/**
 * The nonce a resource server asks for: a `401` with
 * `WWW-Authenticate: DPoP error="use_dpop_nonce"` and a `DPoP-Nonce` header
 * ([RFC 9449 §9](https://www.rfc-editor.org/rfc/rfc9449#section-9)). Such an answer calls for
 * the same token with a new proof, not for a new token.
 *
 * @param response The resource's answer.
 * @returns The nonce to replay with, or `undefined` when the answer is not such a request.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resourceNonceChallenge } from "./dpop_nonce.ts";
 *
 * const response = new Response(null, {
 *   status: 401,
 *   headers: {
 *     "WWW-Authenticate": 'DPoP error="use_dpop_nonce", algs="ES256"',
 *     "DPoP-Nonce": "n-2",
 *   },
 * });
 * assert.equal(resourceNonceChallenge(response), "n-2");
 * ```
 */
export function resourceNonceChallenge(
  response: { status: number; headers: Headers },
): string | undefined {
  if (response.status !== 401) return undefined;
  if (challengeError(response.headers.get("WWW-Authenticate"), "dpop") !== "use_dpop_nonce") {
    return undefined;
  }
  return nonceHeader(response.headers);
}
