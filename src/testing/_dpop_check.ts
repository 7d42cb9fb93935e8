// The stand-in server's DPoP checks ([RFC 9449](https://www.rfc-editor.org/rfc/rfc9449)): a
// proof's verification (§4.3), the server's nonce (§8, §9), the `jti`s it has seen (§11.1), and
// the answers that refuse a proof. Written apart from the client's signer (src/dpop.ts), so that
// a fault in one is caught by the other; signatures go through the kit's own verifier.

import { decodeJwt, KeyRing, type VerifyAlgorithm } from "./_jwt_verify.ts";
import type { AuthServerOptions } from "./auth_server_options.ts";
import type { RecordedRequest } from "./recorded_request.ts";

/** The proof algorithms accepted: asymmetric ones only, never `none` nor HS* (§4.3 item 5). */
export const DPOP_ALGORITHMS: readonly VerifyAlgorithm[] = ["ES256", "EdDSA", "RS256", "PS256"];

/** How far a proof's `iat` may be from the server's clock, in seconds, either way. */
export const IAT_WINDOW = 60;

/** The most `jti`s remembered; past it, the oldest goes first. */
const MAX_JTIS = 10_000;

/** The key types each algorithm signs with. */
const KEY_TYPES: Record<string, string> = { ES256: "EC", EdDSA: "OKP", RS256: "RSA", PS256: "RSA" };

/** JWK members that hold private key material (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2). */
const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/** The required members of each key type, in lexicographic order (RFC 7638 §3.2). */
const THUMBPRINT_MEMBERS: Record<string, readonly string[]> = {
  EC: ["crv", "kty", "x", "y"],
  OKP: ["crv", "kty", "x"],
  RSA: ["e", "kty", "n"],
};

/** Where a proof is checked: each may demand the nonce on its own. */
export type DpopEndpoint = "token" | "resource";

/** A proof that passed every check: what {@linkcode RecordedRequest.dpop} holds. */
export type VerifiedProof = NonNullable<RecordedRequest["dpop"]>;

/** Why a proof was refused: what {@linkcode RecordedRequest.dpopRefusal} holds. */
export type ProofRefusal = NonNullable<RecordedRequest["dpopRefusal"]>;

/** What the request carried: a verified proof, a refused one, or none (`undefined`). */
export type ProofOutcome = { proof: VerifiedProof } | { refusal: ProofRefusal } | undefined;

/** The server's DPoP state: its nonce, the `jti`s seen, and the checks that use them. */
export class DpopCheck {
  readonly #now: () => number;
  readonly #demand: Record<DpopEndpoint, boolean>;
  readonly #jtis = new Map<string, number>();
  readonly #maxJtis: number;
  #nonce = newNonce();

  /**
   * @param options The server's options: `dpopNonce`.
   * @param now The server's clock, epoch milliseconds.
   * @param maxJtis The most `jti`s remembered.
   */
  constructor(options: AuthServerOptions, now: () => number, maxJtis = MAX_JTIS) {
    // Checked with the option names (checkAuthServerOptionNames), before the server listens.
    const { dpopNonce = {} } = options;
    this.#demand = { token: dpopNonce.token ?? false, resource: dpopNonce.resource ?? false };
    this.#now = now;
    this.#maxJtis = maxJtis;
  }

  /** The current nonce: base64url characters, unreserved in URLs and headers alike. */
  get nonce(): string {
    return this.#nonce;
  }

  /** Replaces the nonce; the old one is stale from now on. */
  rotateNonce(): string {
    return this.#nonce = newNonce();
  }

  /**
   * Checks the `DPoP` header of a request (RFC 9449 §4.3; §7.1 with an access token), and
   * remembers the proof's `jti` when every check passes.
   *
   * @param recorded The request; the verified proof or the refusal is recorded in it.
   * @param endpoint Where it was sent: whether the nonce is demanded there.
   * @param accessToken The access token the request carries, whose hash `ath` must be.
   * @returns The verified proof, the refusal, or `undefined` when there is no `DPoP` header.
   */
  async verify(
    recorded: RecordedRequest,
    endpoint: DpopEndpoint,
    accessToken?: string,
  ): Promise<ProofOutcome> {
    const outcome = await this.#check(recorded, endpoint, accessToken);
    if (outcome && "proof" in outcome) recorded.dpop = outcome.proof;
    if (outcome && "refusal" in outcome) recorded.dpopRefusal = outcome.refusal;
    return outcome;
  }

  async #check(
    request: RecordedRequest,
    endpoint: DpopEndpoint,
    accessToken: string | undefined,
  ): Promise<ProofOutcome> {
    const value = request.headers.get("DPoP");
    if (value === null) return undefined;
    const refuse = (description: string): ProofOutcome => ({
      refusal: { error: "invalid_dpop_proof", description: `Invalid DPoP proof: ${description}` },
    });
    // Headers joins repeated fields with ", ", which a compact JWS never contains (item 1).
    if (value.includes(",")) return refuse("the request carries more than one DPoP header");
    const jwt = decodeJwt(value.trim());
    if (jwt === undefined) return refuse("it is not a JWT (a compact JWS)");
    const { header, claims } = jwt;
    if (header.typ !== "dpop+jwt") return refuse('its "typ" is not dpop+jwt');
    const alg = header.alg;
    if (typeof alg !== "string" || !DPOP_ALGORITHMS.includes(alg as VerifyAlgorithm)) {
      return refuse(`its "alg" ${JSON.stringify(alg)} is not one of ${DPOP_ALGORITHMS.join(", ")}`);
    }
    const jwk = header.jwk;
    if (typeof jwk !== "object" || jwk === null || Array.isArray(jwk)) {
      return refuse('its header has no "jwk" object');
    }
    const members = jwk as Record<string, unknown>;
    const secret = PRIVATE_MEMBERS.find((name) => name in members);
    if (secret !== undefined) return refuse(`its "jwk" holds private key material ("${secret}")`);
    if (members.kty !== KEY_TYPES[alg]) return refuse(`its "jwk" is not a key for ${alg}`);
    let keys: KeyRing;
    try {
      keys = await KeyRing.import([members as JsonWebKey], "jwk");
    } catch {
      return refuse(`its "jwk" is not a usable ${alg} public key`);
    }
    const signature = await keys.verify(value.trim(), header);
    if (signature !== undefined) return refuse(`its signature does not verify with its "jwk"`);
    const { jti, htm, htu, iat, ath, nonce } = claims;
    if (typeof jti !== "string" || jti === "") return refuse('"jti" is missing or not a string');
    if (htm !== request.method) {
      return refuse(`"htm" ${JSON.stringify(htm)} is not the request's method ${request.method}`);
    }
    const target = withoutQuery(request.url);
    if (typeof htu !== "string" || target === undefined || withoutQuery(htu) !== target) {
      return refuse(`"htu" ${JSON.stringify(htu)} is not the request's URL`);
    }
    const now = this.#now();
    if (typeof iat !== "number" || Math.abs(now / 1000 - iat) > IAT_WINDOW) {
      return refuse(`"iat" is missing or more than ${IAT_WINDOW} s from the server's clock`);
    }
    if (accessToken !== undefined && ath !== await sha256(accessToken)) {
      return refuse('"ath" is missing or not the hash of the access token');
    }
    if (this.#demand[endpoint] && nonce !== this.#nonce) {
      const description = nonce === undefined
        ? "The server requires a nonce in the DPoP proof"
        : "The DPoP proof's nonce is not the server's current nonce";
      return { refusal: { error: "use_dpop_nonce", description } };
    }
    const expiry = this.#jtis.get(jti);
    if (expiry !== undefined && expiry >= now) return refuse('its "jti" was used already');
    this.#remember(jti, iat * 1000 + IAT_WINDOW * 1000, now);
    return { proof: { jkt: await thumbprint(members), header, payload: claims } };
  }

  /**
   * The token endpoint's refusal (§4.3, §8): 400 with the error as JSON, and the nonce with
   * `use_dpop_nonce`.
   */
  tokenRefusal({ error, description }: ProofRefusal): Response {
    const headers = new Headers({ "Cache-Control": "no-store" });
    if (error === "use_dpop_nonce") headers.set("DPoP-Nonce", this.#nonce);
    return Response.json({ error, error_description: description }, { status: 400, headers });
  }

  /**
   * A resource's refusal (§7.1, §9): 401 with a `DPoP` challenge naming the error and the
   * algorithms, and the nonce where the resource demands it.
   */
  resourceRefusal(error: string, description: string): Response {
    // RFC 6750 §3: the description's characters exclude '"' and '\'.
    const safe = description.replace(/["\\]/g, "'");
    const headers = new Headers({
      "WWW-Authenticate": `DPoP error="${error}", error_description="${safe}", algs="${
        DPOP_ALGORITHMS.join(" ")
      }"`,
    });
    if (error === "use_dpop_nonce" || this.#demand.resource) {
      headers.set("DPoP-Nonce", this.#nonce);
    }
    return Response.json({ error, error_description: description }, { status: 401, headers });
  }

  /**
   * Adds the current nonce to an answer of an endpoint that demands it, so that a client learns
   * a rotated nonce from any answer (§8.2).
   */
  withNonce(response: Response, endpoint: DpopEndpoint): Response {
    if (this.#demand[endpoint]) response.headers.set("DPoP-Nonce", this.#nonce);
    return response;
  }

  #remember(jti: string, expiry: number, now: number): void {
    if (this.#jtis.size >= this.#maxJtis) {
      for (const [seen, until] of this.#jtis) if (until < now) this.#jtis.delete(seen);
    }
    if (this.#jtis.size >= this.#maxJtis) {
      const oldest = this.#jtis.keys().next().value;
      if (oldest !== undefined) this.#jtis.delete(oldest);
    }
    this.#jtis.set(jti, expiry);
  }
}

/**
 * A URL without its query and fragment, normalized by the URL parser (scheme and host case,
 * default port: RFC 3986 §6.2.2–6.2.3, as §4.3 item 9 allows); `undefined` for no URL.
 */
function withoutQuery(value: string): string | undefined {
  const url = URL.parse(value);
  if (url === null || (url.protocol !== "https:" && url.protocol !== "http:")) return undefined;
  url.search = "";
  url.hash = "";
  return url.href;
}

function newNonce(): string {
  return base64url(crypto.getRandomValues(new Uint8Array(16)));
}

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return base64url(new Uint8Array(digest));
}

/** The JWK SHA-256 thumbprint ([RFC 7638 §3](https://www.rfc-editor.org/rfc/rfc7638#section-3)). */
async function thumbprint(jwk: Record<string, unknown>): Promise<string> {
  const members = THUMBPRINT_MEMBERS[String(jwk.kty)] ?? [];
  return await sha256(JSON.stringify(Object.fromEntries(members.map((name) => [name, jwk[name]]))));
}

function base64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_")
    .replace(/=+$/, "");
}
