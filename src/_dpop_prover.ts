// Proofs for one kind of server (the authorization server, or the resources):
// the key, and the latest nonce each origin gave (RFC 9449 §8, §9: an
// authorization server's nonces and a resource's are apart).

import type { DpopKeySource } from "./_dpop_option.ts";
import type { DpopKey } from "./dpop.ts";
import { DpopNonces, tokenNonceChallenge } from "./dpop_nonce.ts";
import { TokenError } from "./token_error.ts";
import { parseJsonObject } from "./token_response.ts";

/** A signed proof, and the nonce it carries. */
export interface SignedProof {
  proof: string;
  nonce: string | undefined;
}

/** Signs DPoP proofs with one key and the nonces of one kind of server. */
export class DpopProver {
  readonly #key: DpopKeySource;
  readonly #nonces = new DpopNonces();

  /** @param key The client's key, made on first use. */
  constructor(key: DpopKeySource) {
    this.#key = key;
  }

  /** The key (made on its first use). */
  key(): Promise<DpopKey> {
    return this.#key();
  }

  /**
   * The key, for a request to the authorization server: checked against the
   * algorithms its metadata says it takes
   * ([RFC 9449 §5.1](https://www.rfc-editor.org/rfc/rfc9449#section-5.1)).
   *
   * @param supported The metadata's `dpop_signing_alg_values_supported`, if known.
   * @throws {TokenError} (`grant_failed`) when the key cannot be made (a key
   *   pair whose halves do not match) or its algorithm is not supported.
   */
  async checkedKey(supported: readonly string[] | undefined): Promise<DpopKey> {
    let key: DpopKey;
    try {
      key = await this.#key();
    } catch (cause) {
      // The key pair given is unusable: say why (the message names no key material).
      const why = cause instanceof Error ? cause.message : String(cause);
      throw new TokenError(`Cannot obtain a token: ${why}`, { code: "grant_failed", cause });
    }
    if (supported !== undefined && !supported.includes(key.algorithm)) {
      throw new TokenError(
        `Cannot obtain a token: the authorization server takes DPoP proofs signed with ${
          supported.join(", ") || "no algorithm"
        }, not ${key.algorithm} (RFC 9449 §5.1); set "dpop.algorithm" to one of them`,
        { code: "grant_failed" },
      );
    }
    return key;
  }

  /**
   * {@linkcode DpopProver.prototype.answered} for an answer of the
   * authorization server, whose nonce challenge is a `400` with `error`
   * `use_dpop_nonce` ([§8](https://www.rfc-editor.org/rfc/rfc9449#section-8)).
   *
   * @param error The answer's `error` code, if it is an error response.
   */
  serverAnswered(
    url: string | URL,
    answer: { status: number; headers: Headers },
    error: string | undefined,
    sent: string | undefined,
  ): boolean {
    const { status, headers } = answer;
    return this.answered(url, headers, tokenNonceChallenge({ status, headers, error }), sent);
  }

  /**
   * Sends a POST to the authorization server with a proof, and once more
   * with the nonce of a `use_dpop_nonce` answer that names a new one
   * ([§8](https://www.rfc-editor.org/rfc/rfc9449#section-8)).
   *
   * @param send Sends the request with the proof (a new request each time).
   */
  async withNonceRetry(
    url: URL,
    send: (proof: string) => Promise<{ status: number; headers: Headers; body: string }>,
  ): Promise<{ status: number; headers: Headers; body: string }> {
    for (let retried = false;; retried = true) {
      const signed = await this.sign("POST", url);
      const answer = await send(signed.proof);
      const error = parseJsonObject(answer.body)?.error;
      const code = typeof error === "string" ? error : undefined;
      if (!this.serverAnswered(url, answer, code, signed.nonce) || retried) return answer;
    }
  }

  /**
   * A proof for one request, with the latest nonce of `url`'s origin.
   *
   * @param accessToken The token sent with a resource request, for `ath`.
   */
  async sign(method: string, url: string | URL, accessToken?: string): Promise<SignedProof> {
    const nonce = this.#nonces.get(url);
    const key = await this.#key();
    return { proof: await key.proof({ method, url, accessToken, nonce }), nonce };
  }

  /**
   * Remembers the nonce an answer carries, if any, and says whether to send
   * the request again: the answer is a nonce challenge (`challenge`, as
   * `tokenNonceChallenge` or `resourceNonceChallenge` read it) naming a nonce
   * other than the one sent, which would be refused again.
   *
   * @param url Where the answer came from.
   * @param headers Its headers.
   * @param challenge The nonce it asks for, if it is a nonce challenge.
   * @param sent The nonce the request carried.
   */
  answered(
    url: string | URL,
    headers: Headers,
    challenge: string | undefined,
    sent: string | undefined,
  ): boolean {
    const latest = this.#nonces.remember(url, headers);
    return challenge !== undefined && challenge === latest && challenge !== sent;
  }
}
