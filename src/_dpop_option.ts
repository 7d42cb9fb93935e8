// The `dpop` option of a client, checked when the client is created; and the
// key it stands for, made once on first use (WebCrypto is asynchronous).

import { checkKnownOptions } from "./_known_options.ts";
import type { DpopOptions } from "./client_options.ts";
import { type DpopAlgorithm, DpopKey } from "./dpop.ts";

/** A DPoP key made on first use; a failure is not kept, so the next use tries again. */
export type DpopKeySource = () => Promise<DpopKey>;

const DPOP_OPTION_NAMES = {
  keyPair: true,
  algorithm: true,
} as const satisfies Record<keyof DpopOptions, true>;

const ALGORITHMS: readonly DpopAlgorithm[] = ["ES256", "EdDSA", "RS256", "PS256"];

/** The WebCrypto algorithm names a DPoP key may have. */
const KEY_ALGORITHMS = ["ECDSA", "Ed25519", "RSASSA-PKCS1-v1_5", "RSA-PSS"];

/**
 * Checks a client's `dpop` option.
 *
 * @param value `true`, `false`, `undefined` or {@linkcode DpopOptions}.
 * @param now The client's clock, for the proofs' `iat`.
 * @returns The key source, or `undefined` without DPoP.
 * @throws {TypeError} when the option is malformed: not a boolean or an
 *   object, an unknown member, a `keyPair` that is not a WebCrypto key pair
 *   of a DPoP algorithm, an unknown `algorithm`, or both.
 */
export function parseDpopOption(value: unknown, now: () => number): DpopKeySource | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return keySource(() => DpopKey.generate({ now }));
  if (typeof value !== "object" || value === null) {
    throw new TypeError('Cannot create the client: "dpop" must be a boolean or an object');
  }
  checkKnownOptions(value, DPOP_OPTION_NAMES, 'client ("dpop")');
  const { keyPair, algorithm } = value as DpopOptions;
  if (keyPair !== undefined && algorithm !== undefined) {
    throw new TypeError(
      'Cannot create the client: give "dpop.keyPair" or "dpop.algorithm", not both (a key pair has its algorithm)',
    );
  }
  if (keyPair === undefined) {
    if (algorithm !== undefined && !ALGORITHMS.includes(algorithm)) {
      throw new TypeError(
        `Cannot create the client: "dpop.algorithm" must be one of ${ALGORITHMS.join(", ")}`,
      );
    }
    return keySource(() => DpopKey.generate({ algorithm, now }));
  }
  const { privateKey, publicKey } = (keyPair ?? {}) as Partial<CryptoKeyPair>;
  if (!(privateKey instanceof CryptoKey) || !(publicKey instanceof CryptoKey)) {
    throw new TypeError(
      'Cannot create the client: "dpop.keyPair" must be a CryptoKeyPair ({ privateKey, publicKey })',
    );
  }
  if (privateKey.type !== "private" || publicKey.type !== "public") {
    throw new TypeError(
      `Cannot create the client: "dpop.keyPair" must hold a private and a public key, not a ${privateKey.type} and a ${publicKey.type} key`,
    );
  }
  const { name, namedCurve, modulusLength, hash } = privateKey.algorithm as
    & EcKeyAlgorithm
    & Partial<RsaHashedKeyAlgorithm>;
  const what = `${name}${namedCurve ? ` ${namedCurve}` : ""}${hash ? ` with ${hash.name}` : ""}${
    modulusLength ? ` (${modulusLength} bits)` : ""
  }`;
  const rsa = name === "RSASSA-PKCS1-v1_5" || name === "RSA-PSS";
  if (
    !KEY_ALGORITHMS.includes(name) || (name === "ECDSA" && namedCurve !== "P-256") ||
    // RFC 7518 §3.3, §3.5: RS256 and PS256 hash with SHA-256, with keys of 2048 bits or more.
    (rsa && (hash?.name !== "SHA-256" || (modulusLength ?? 0) < 2048))
  ) {
    throw new TypeError(
      `Cannot create the client: "dpop.keyPair" must be an ECDSA P-256, Ed25519, or RSASSA-PKCS1-v1_5 or RSA-PSS (SHA-256, 2048 bits or more) key pair, not ${what}`,
    );
  }
  return keySource(() => DpopKey.fromKeyPair(keyPair, { now }));
}

/**
 * A key, or the function that makes it, as a source that makes it once.
 *
 * @param key The key, or what makes it.
 */
export function keySource(key: DpopKey | (() => Promise<DpopKey>)): DpopKeySource {
  if (typeof key !== "function") return () => Promise.resolve(key);
  let made: Promise<DpopKey> | undefined;
  return () =>
    made ??= key().catch((error) => {
      made = undefined; // try again on the next use
      throw error;
    });
}
