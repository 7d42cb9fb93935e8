/**
 * DPoP proofs ([RFC 9449](https://www.rfc-editor.org/rfc/rfc9449)): a key the client holds,
 * the proof JWT it signs for each request, the server nonces it must echo, and the answers
 * that ask for one. WebCrypto only; the private key never leaves its `CryptoKey`.
 *
 * @module
 */

import { base64url, checkPrivateKey, signJwt } from "./_jwt.ts";
import { redactInspect } from "./_redact.ts";
import { isNonce } from "./dpop_nonce.ts";

/**
 * The algorithms a {@linkcode DpopKey} signs with, by its key type: ECDSA
 * P-256 (`ES256`), Ed25519 (`EdDSA`), RSASSA-PKCS1-v1_5 (`RS256`), RSA-PSS (`PS256`).
 */
export type DpopAlgorithm = "ES256" | "EdDSA" | "RS256" | "PS256";

/**
 * Options for {@linkcode DpopKey.generate} and {@linkcode DpopKey.fromKeyPair}.
 *
 * @example A key with an injected clock
 * ```ts
 * import type { DpopKeyOptions } from "@alf/client";
 *
 * const options: DpopKeyOptions = { algorithm: "EdDSA", now: () => 1_700_000_000_000 };
 * ```
 */
export interface DpopKeyOptions {
  /** The algorithm of a generated key. Default: `"ES256"`. Ignored by `fromKeyPair`. */
  algorithm?: DpopAlgorithm;
  /** The clock for `iat`, in epoch milliseconds. Default: `Date.now`. */
  now?: () => number;
}

/**
 * What one proof is for ([RFC 9449 §4.2](https://www.rfc-editor.org/rfc/rfc9449#section-4.2)).
 *
 * @example A proof for a resource request
 * ```ts
 * import type { DpopProofOptions } from "@alf/client";
 *
 * const options: DpopProofOptions = {
 *   method: "GET",
 *   url: "https://api.example/items?page=2",
 *   accessToken: "token",
 * };
 * ```
 */
export interface DpopProofOptions {
  /** The request's method (`htm`); fetch's normalization applies (`get` → `GET`). */
  method: string;
  /** The request's URL; `htu` is this URL without query and fragment. */
  url: string | URL;
  /** The access token sent with the request, for `ath`; none for token requests. */
  accessToken?: string;
  /** The server's latest nonce for this origin (`nonce`), when it gave one. */
  nonce?: string;
}

const rsa = (name: string) => ({
  name,
  modulusLength: 2048,
  publicExponent: new Uint8Array([1, 0, 1]),
  hash: "SHA-256",
});

/** Key generation parameters; as import parameters, WebCrypto ignores the extra members. */
const GENERATE: Record<DpopAlgorithm, RsaHashedKeyGenParams | EcKeyGenParams | Algorithm> = {
  ES256: { name: "ECDSA", namedCurve: "P-256" },
  EdDSA: { name: "Ed25519" },
  RS256: rsa("RSASSA-PKCS1-v1_5"),
  PS256: rsa("RSA-PSS"),
};

/** Signature parameters; PS256's salt is as long as the hash (RFC 7518 §3.5). */
const SIGNATURE: Record<DpopAlgorithm, AlgorithmIdentifier | RsaPssParams | EcdsaParams> = {
  ES256: { name: "ECDSA", hash: "SHA-256" },
  EdDSA: { name: "Ed25519" },
  RS256: { name: "RSASSA-PKCS1-v1_5" },
  PS256: { name: "RSA-PSS", saltLength: 32 },
};

/**
 * The required public members of each key type, in the lexicographic order of
 * [RFC 7638 §3](https://www.rfc-editor.org/rfc/rfc7638#section-3) (the thumbprint's input).
 */
const PUBLIC_MEMBERS: Record<string, readonly string[]> = {
  EC: ["crv", "kty", "x", "y"],
  OKP: ["crv", "kty", "x"],
  RSA: ["e", "kty", "n"],
};

/** Methods fetch upper-cases ([Fetch §2.2.1](https://fetch.spec.whatwg.org/#concept-method-normalize)). */
const NORMALIZED_METHODS = ["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"];

/**
 * A DPoP key pair and the proofs it signs
 * ([RFC 9449 §4](https://www.rfc-editor.org/rfc/rfc9449#section-4)).
 *
 * Made by {@linkcode DpopKey.generate} (ES256 by default, the private key not extractable) or
 * {@linkcode DpopKey.fromKeyPair} with the caller's own pair; the algorithm follows the key type
 * (ECDSA P-256 → ES256, Ed25519 → EdDSA, RSASSA-PKCS1-v1_5 → RS256, RSA-PSS → PS256). Neither
 * inspect nor `JSON.stringify` shows more than the algorithm.
 *
 * @example Signing a proof for a resource request
 * ```ts
 * import assert from "node:assert/strict";
 * import { DpopKey } from "@alf/client";
 *
 * const key = await DpopKey.generate();
 * const proof = await key.proof({
 *   method: "GET",
 *   url: "https://api.example/items?page=2",
 *   accessToken: "token",
 * });
 * assert.equal(proof.split(".").length, 3);
 * assert.equal(key.algorithm, "ES256");
 * ```
 */
export class DpopKey {
  /** The JWS algorithm of the proofs: by the key's type. */
  readonly algorithm: DpopAlgorithm;
  readonly #privateKey: CryptoKey;
  readonly #jwk: Readonly<Record<string, string>>;
  readonly #now: () => number;
  #thumbprint: Promise<string> | undefined;

  static {
    // The cast: redactInspect's type wants a public constructor; it only reads the prototype.
    const type = DpopKey as unknown as abstract new () => DpopKey;
    redactInspect(type, (key) => ({ algorithm: key.algorithm }));
  }

  private constructor(
    algorithm: DpopAlgorithm,
    privateKey: CryptoKey,
    jwk: Record<string, string>,
    now: () => number,
  ) {
    this.algorithm = algorithm;
    this.#privateKey = privateKey;
    this.#jwk = Object.freeze(jwk);
    this.#now = now;
  }

  /**
   * Generates a key pair whose private key cannot be exported.
   *
   * @param options The algorithm (default `"ES256"`) and the clock.
   * @returns The key.
   * @throws {TypeError} when the algorithm is not one of ES256, EdDSA, RS256, PS256.
   *
   * @example An Ed25519 key
   * ```ts
   * import assert from "node:assert/strict";
   * import { DpopKey } from "@alf/client";
   *
   * const key = await DpopKey.generate({ algorithm: "EdDSA" });
   * assert.equal(key.publicJwk.crv, "Ed25519");
   * ```
   */
  static async generate(options: DpopKeyOptions = {}): Promise<DpopKey> {
    const algorithm = options.algorithm ?? "ES256";
    if (!Object.hasOwn(GENERATE, algorithm)) {
      throw new TypeError(
        `Cannot generate the DPoP key: "algorithm" must be one of ES256, EdDSA, RS256, PS256`,
      );
    }
    const pair = await crypto.subtle.generateKey(GENERATE[algorithm], false, [
      "sign",
      "verify",
    ]) as CryptoKeyPair;
    return await DpopKey.fromKeyPair(pair, options);
  }

  /**
   * Takes the caller's key pair; the algorithm follows its type. The pair is checked by signing
   * and verifying once, so that a public key of another pair is refused now rather than by
   * every server later.
   *
   * @param keyPair The pair: a private key with the `sign` usage, its public key.
   * @param options The clock.
   * @returns The key.
   * @throws {TypeError} when the pair is not a usable key pair of a supported type, or its
   *   halves do not match.
   *
   * @example The caller's own pair
   * ```ts
   * import assert from "node:assert/strict";
   * import { DpopKey } from "@alf/client";
   *
   * const pair = await crypto.subtle.generateKey(
   *   { name: "ECDSA", namedCurve: "P-256" },
   *   false,
   *   ["sign", "verify"],
   * );
   * const key = await DpopKey.fromKeyPair(pair);
   * assert.equal(key.algorithm, "ES256");
   * ```
   */
  static async fromKeyPair(keyPair: CryptoKeyPair, options: DpopKeyOptions = {}): Promise<DpopKey> {
    const context = "Cannot use the DPoP key pair";
    const fail = (reason: string) => new TypeError(`${context}: "privateKey" ${reason}`);
    if (typeof keyPair !== "object" || keyPair === null) {
      throw new TypeError(`${context}: it must be a CryptoKeyPair`);
    }
    const { privateKey, publicKey } = keyPair;
    const { alg } = checkPrivateKey(privateKey, undefined, fail);
    if (!(privateKey instanceof CryptoKey)) throw fail("must be a CryptoKey");
    if (!(publicKey instanceof CryptoKey) || publicKey.type !== "public") {
      throw new TypeError(`${context}: "publicKey" must be a public CryptoKey`);
    }
    if (options.now !== undefined && typeof options.now !== "function") {
      throw new TypeError(`${context}: "now" must be a function`);
    }
    let exported: JsonWebKey;
    try {
      exported = await crypto.subtle.exportKey("jwk", publicKey);
    } catch (cause) {
      throw new TypeError(`${context}: "publicKey" cannot be exported as a JWK`, { cause });
    }
    const members = PUBLIC_MEMBERS[exported.kty ?? ""] ?? [];
    // Only the public members: never "d", and nothing (key_ops, ext) a server may refuse.
    const jwk: Record<string, string> = {};
    for (const name of members) {
      const value = (exported as Record<string, unknown>)[name];
      if (typeof value === "string") jwk[name] = value;
    }
    // The pair must match: one signature verified by the public key proves it.
    const probe = new TextEncoder().encode("dpop key pair check");
    let matches = false;
    try {
      const signature = await crypto.subtle.sign(SIGNATURE[alg], privateKey, probe);
      const verifyKey = await crypto.subtle.importKey("jwk", jwk, GENERATE[alg], false, [
        "verify",
      ]);
      matches = await crypto.subtle.verify(SIGNATURE[alg], verifyKey, signature, probe);
    } catch {
      matches = false;
    }
    if (!matches) {
      throw new TypeError(`${context}: "publicKey" is not the public key of "privateKey"`);
    }
    return new DpopKey(alg, privateKey, jwk, options.now ?? Date.now);
  }

  /**
   * The public key as a JWK: its required public members only (`kty`, `crv`, `x`, `y`; or
   * `kty`, `n`, `e`), a new copy at each read.
   */
  get publicJwk(): JsonWebKey {
    return { ...this.#jwk };
  }

  /**
   * The JWK SHA-256 thumbprint of the public key
   * ([RFC 7638 §3](https://www.rfc-editor.org/rfc/rfc7638#section-3)), base64url: the
   * `dpop_jkt` of an authorization request
   * ([RFC 9449 §10](https://www.rfc-editor.org/rfc/rfc9449#section-10)) and the `jkt` a server
   * binds tokens to.
   *
   * @returns The thumbprint.
   *
   * @example The value for `dpop_jkt`
   * ```ts
   * import assert from "node:assert/strict";
   * import { DpopKey } from "@alf/client";
   *
   * const key = await DpopKey.generate();
   * assert.match(await key.thumbprint(), /^[A-Za-z0-9_-]{43}$/);
   * ```
   */
  thumbprint(): Promise<string> {
    return this.#thumbprint ??= jwkThumbprint(this.#jwk);
  }

  /**
   * Signs a new proof for one request
   * ([RFC 9449 §4.2](https://www.rfc-editor.org/rfc/rfc9449#section-4.2)): header `typ`
   * `dpop+jwt`, `alg`, `jwk`; claims a fresh `jti`, `htm`, `htu` (the URL without query and
   * fragment), `iat`, and `ath` and `nonce` when given.
   *
   * @param options The method, the URL, the access token and the nonce.
   * @returns The compact JWT for the `DPoP` header.
   * @throws {TypeError} when the method is empty, the URL is not an absolute URL, or the nonce
   *   or access token is not a header-safe string.
   *
   * @example A proof for a token request, with the server's nonce
   * ```ts
   * import assert from "node:assert/strict";
   * import { DpopKey } from "@alf/client";
   *
   * const key = await DpopKey.generate();
   * const proof = await key.proof({
   *   method: "POST",
   *   url: "https://auth.example/token",
   *   nonce: "eyJ7S_zG.eyJH0-Z.HX4w-7v",
   * });
   * const claims = JSON.parse(atob(proof.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/")));
   * assert.equal(claims.nonce, "eyJ7S_zG.eyJH0-Z.HX4w-7v");
   * ```
   */
  async proof(options: DpopProofOptions): Promise<string> {
    const context = "Cannot sign the DPoP proof";
    const { method, url, accessToken, nonce } = options;
    if (typeof method !== "string" || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(method)) {
      throw new TypeError(`${context}: "method" must be an HTTP method`);
    }
    const upper = method.toUpperCase();
    const htm = NORMALIZED_METHODS.includes(upper) ? upper : method;
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      throw new TypeError(`${context}: "url" must be an absolute URL`);
    }
    target.search = "";
    target.hash = "";
    const claims: Record<string, unknown> = {
      jti: crypto.randomUUID(),
      htm,
      htu: target.href,
      iat: Math.floor(this.#now() / 1000),
    };
    if (accessToken !== undefined) {
      if (typeof accessToken !== "string" || accessToken === "") {
        throw new TypeError(`${context}: "accessToken" must be a non-empty string`);
      }
      claims.ath = await accessTokenHash(accessToken);
    }
    if (nonce !== undefined) {
      if (!isNonce(nonce)) throw new TypeError(`${context}: "nonce" is not a valid DPoP nonce`);
      claims.nonce = nonce;
    }
    return await signJwt(
      { typ: "dpop+jwt", jwk: this.#jwk },
      claims,
      this.#privateKey,
      this.algorithm,
    );
  }
}

/**
 * The `ath` of an access token: base64url of its SHA-256
 * ([RFC 9449 §4.2](https://www.rfc-editor.org/rfc/rfc9449#section-4.2)).
 *
 * @param accessToken The access token, as sent.
 * @returns The hash, base64url without padding.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { accessTokenHash } from "./dpop.ts";
 *
 * // RFC 9449 §7.1's example token and its ath.
 * assert.equal(
 *   await accessTokenHash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
 *   "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo",
 * );
 * ```
 */
export async function accessTokenHash(accessToken: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(accessToken));
  return base64url(new Uint8Array(digest));
}

/**
 * The JWK SHA-256 thumbprint of a public JWK
 * ([RFC 7638 §3](https://www.rfc-editor.org/rfc/rfc7638#section-3)): SHA-256 over the JSON of
 * its required members in lexicographic order, base64url.
 *
 * @param jwk A public (or private: only the public members count) EC, OKP or RSA JWK.
 * @returns The thumbprint.
 * @throws {TypeError} when the JWK is not of a known type or lacks a required member.
 *
 * @example The thumbprint of an EC key
 * ```ts
 * import assert from "node:assert/strict";
 * import { jwkThumbprint } from "./dpop.ts";
 *
 * const thumbprint = await jwkThumbprint({ kty: "EC", crv: "P-256", x: "x", y: "y" });
 * assert.match(thumbprint, /^[A-Za-z0-9_-]{43}$/);
 * ```
 */
export async function jwkThumbprint(jwk: JsonWebKey): Promise<string> {
  const members = PUBLIC_MEMBERS[jwk.kty ?? ""];
  if (members === undefined) {
    throw new TypeError(`Cannot compute the JWK thumbprint: "kty" must be EC, OKP or RSA`);
  }
  const required: Record<string, string> = {};
  for (const name of members) {
    const value = (jwk as Record<string, unknown>)[name];
    if (typeof value !== "string") {
      throw new TypeError(`Cannot compute the JWK thumbprint: "${name}" is missing`);
    }
    required[name] = value;
  }
  // JSON.stringify writes members in insertion order, here the lexicographic one, no spaces.
  return await accessTokenHash(JSON.stringify(required));
}
