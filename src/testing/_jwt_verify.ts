// The stand-in server's JWT checks: compact JWS decoding, signature verification with WebCrypto
// ([RFC 7515 §5.2](https://www.rfc-editor.org/rfc/rfc7515#section-5.2)) and the claims of
// [RFC 7523 §3](https://www.rfc-editor.org/rfc/rfc7523#section-3). Written apart from the
// client's signer (src/_jwt.ts), so that a fault in one is caught by the other.

import type { DecodedJwt } from "./recorded_request.ts";

/** The algorithms the stand-in verifies ([RFC 7518 §3.1](https://www.rfc-editor.org/rfc/rfc7518#section-3.1)). */
export type VerifyAlgorithm = "RS256" | "PS256" | "ES256" | "EdDSA" | "HS256";

/** A key registered with the server: a public `CryptoKey`, a JWK, or an HS256 secret. */
export type VerifyKeyInput = CryptoKey | (JsonWebKey & { kid?: string }) | string;

interface Entry {
  alg: VerifyAlgorithm;
  key: CryptoKey;
  kid?: string;
}

const PARAMS: Record<
  VerifyAlgorithm,
  RsaHashedImportParams | EcKeyImportParams | HmacImportParams | Algorithm
> = {
  RS256: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
  PS256: { name: "RSA-PSS", hash: "SHA-256" },
  ES256: { name: "ECDSA", namedCurve: "P-256" },
  EdDSA: { name: "Ed25519" },
  HS256: { name: "HMAC", hash: "SHA-256" },
};

const VERIFY: Record<VerifyAlgorithm, AlgorithmIdentifier | RsaPssParams | EcdsaParams> = {
  RS256: { name: "RSASSA-PKCS1-v1_5" },
  PS256: { name: "RSA-PSS", saltLength: 32 }, // RFC 7518 §3.5
  ES256: { name: "ECDSA", hash: "SHA-256" }, // r || s, as JWS has it (RFC 7518 §3.4)
  EdDSA: { name: "Ed25519" },
  HS256: { name: "HMAC" },
};

/** JWK members that make a key private: dropped, so a private JWK registers its public half. */
const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/** The keys one party (a client, an assertion issuer) signs with, ready to verify. */
export class KeyRing {
  readonly #entries: Entry[];

  private constructor(entries: Entry[]) {
    this.#entries = entries;
  }

  /** An empty ring: every signature fails. */
  static readonly empty: KeyRing = new KeyRing([]);

  /**
   * Imports keys for verification.
   *
   * @param inputs The keys.
   * @param name The option's name, for errors: `"clientKeys"`.
   * @throws {TypeError} when a key is private (a `CryptoKey`), of an unsupported type, or malformed.
   */
  static async import(inputs: readonly VerifyKeyInput[], name: string): Promise<KeyRing> {
    if (!Array.isArray(inputs)) {
      throw new TypeError(`Cannot start the AuthServer: "${name}" must be a list of keys`);
    }
    const entries: Entry[] = [];
    for (const [index, input] of inputs.entries()) {
      const fail = (reason: string) =>
        new TypeError(`Cannot start the AuthServer: "${name}[${index}]" ${reason}`);
      entries.push(...await importOne(input, fail));
    }
    return new KeyRing(entries);
  }

  /** The algorithms of the keys. */
  get algorithms(): VerifyAlgorithm[] {
    return [...new Set(this.#entries.map((entry) => entry.alg))];
  }

  /**
   * Verifies a compact JWS's signature with the keys of its `alg` (and its
   * `kid`, when both it and a key have one).
   *
   * @returns `undefined` when a key verifies it, else why not.
   */
  async verify(jws: string, header: Record<string, unknown>): Promise<string | undefined> {
    const alg = header.alg;
    if (typeof alg !== "string" || !(alg in VERIFY)) {
      return `its "alg" ${JSON.stringify(alg)} is not one of ${Object.keys(VERIFY).join(", ")}`;
    }
    const candidates = this.#entries.filter((entry) =>
      entry.alg === alg &&
      (entry.kid === undefined || header.kid === undefined || entry.kid === header.kid)
    );
    if (candidates.length === 0) return `no registered key verifies ${alg}`;
    const dot = jws.lastIndexOf(".");
    const input = new TextEncoder().encode(jws.slice(0, dot));
    const signature = fromBase64url(jws.slice(dot + 1));
    if (signature === undefined) return "its signature is not base64url";
    for (const { key } of candidates) {
      if (await crypto.subtle.verify(VERIFY[alg as VerifyAlgorithm], key, signature, input)) {
        return undefined;
      }
    }
    return `its signature does not verify with the registered ${alg} keys`;
  }
}

async function importOne(
  input: VerifyKeyInput,
  fail: (reason: string) => TypeError,
): Promise<Entry[]> {
  if (typeof input === "string") {
    if (input === "") throw fail("is an empty secret");
    const key = await crypto.subtle.importKey(
      "raw",
      new TextEncoder().encode(input),
      PARAMS.HS256,
      false,
      ["verify"],
    );
    return [{ alg: "HS256", key }];
  }
  if (input instanceof CryptoKey) {
    if (input.type === "private") throw fail("is a private key; register the public key");
    if (!input.usages.includes("verify")) throw fail('is a CryptoKey without the "verify" usage');
    const alg = algorithmOf(input.algorithm);
    if (alg === undefined) {
      throw fail(`uses ${input.algorithm.name}, which this server cannot verify`);
    }
    return [{ alg, key: input }];
  }
  if (typeof input !== "object" || input === null) {
    throw fail("must be a CryptoKey, a JWK or an HS256 secret");
  }
  const jwk = input as JsonWebKey & { kid?: unknown };
  const kid = typeof jwk.kid === "string" ? jwk.kid : undefined;
  const algs: VerifyAlgorithm[] = jwk.kty === "RSA"
    ? (jwk.alg === "RS256" || jwk.alg === "PS256" ? [jwk.alg] : ["RS256", "PS256"])
    : jwk.kty === "EC" && jwk.crv === "P-256"
    ? ["ES256"]
    : jwk.kty === "OKP" && jwk.crv === "Ed25519"
    ? ["EdDSA"]
    : [];
  if (algs.length === 0) {
    throw fail(
      `is a JWK of type ${
        [jwk.kty, jwk.crv].filter(Boolean).join(" ")
      }; supported: RSA, EC P-256, OKP Ed25519`,
    );
  }
  const material: Record<string, unknown> = { ...jwk };
  for (const member of [...PRIVATE_MEMBERS, "alg", "key_ops", "use", "kid"]) {
    delete material[member];
  }
  const entries: Entry[] = [];
  for (const alg of algs) {
    try {
      const key = await crypto.subtle.importKey("jwk", material, PARAMS[alg], true, ["verify"]);
      entries.push({ alg, key, ...(kid === undefined ? {} : { kid }) });
    } catch (cause) {
      const reason = cause instanceof Error ? cause.message : String(cause);
      throw fail(`cannot be imported for ${alg}: ${reason}`);
    }
  }
  return entries;
}

function algorithmOf(algorithm: KeyAlgorithm): VerifyAlgorithm | undefined {
  const { name, hash, namedCurve } = algorithm as KeyAlgorithm & {
    hash?: { name: string };
    namedCurve?: string;
  };
  if (name === "RSASSA-PKCS1-v1_5" && hash?.name === "SHA-256") return "RS256";
  if (name === "RSA-PSS" && hash?.name === "SHA-256") return "PS256";
  if (name === "ECDSA" && namedCurve === "P-256") return "ES256";
  if (name === "Ed25519") return "EdDSA";
  if (name === "HMAC" && hash?.name === "SHA-256") return "HS256";
  return undefined;
}

function fromBase64url(text: string): Uint8Array<ArrayBuffer> | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return undefined;
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
  try {
    return Uint8Array.from(
      atob(base64 + "=".repeat((4 - base64.length % 4) % 4)),
      (c) => c.charCodeAt(0),
    );
  } catch {
    return undefined;
  }
}

/**
 * Decodes a compact JWS without verifying it: its header and claims when
 * both are JSON objects, else `undefined`.
 */
export function decodeJwt(jws: string): DecodedJwt | undefined {
  const parts = jws.split(".");
  if (parts.length !== 3) return undefined;
  const [header, claims] = parts.slice(0, 2).map((part) => {
    const bytes = fromBase64url(part);
    if (bytes === undefined) return undefined;
    try {
      const value: unknown = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
      return typeof value === "object" && value !== null && !Array.isArray(value)
        ? value as Record<string, unknown>
        : undefined;
    } catch {
      return undefined;
    }
  });
  return header && claims ? { header, claims } : undefined;
}

/** What the time claims and `aud` of a JWT are checked against. */
export interface ClaimRules {
  /** The accepted `aud` values: one must be the `aud`, or in it. */
  audiences: readonly string[];
  /** What the accepted audiences are, for the failure: "the issuer or the token endpoint". */
  audienceName: string;
  /** The server's clock, epoch milliseconds. */
  now: number;
  /** Whether `jti` must be present (OIDC Core §9) or may be left out (RFC 7523 §3). */
  requireJti: boolean;
  /** The `iss` and `jti` pairs seen, for replay ([RFC 7523 §3](https://www.rfc-editor.org/rfc/rfc7523#section-3) item 7). */
  seen: Set<string>;
}

/**
 * Checks `aud`, `exp`, `nbf`, `iat` and `jti`; records the `jti` when all pass.
 *
 * @returns `undefined` when the claims pass, else the failed check.
 */
export function checkClaims(
  claims: Record<string, unknown>,
  rules: ClaimRules,
): string | undefined {
  const { aud, exp, nbf, iat, jti, iss } = claims;
  const audiences = Array.isArray(aud) ? aud : [aud];
  if (!audiences.some((value) => typeof value === "string" && rules.audiences.includes(value))) {
    return `"aud" ${JSON.stringify(aud)} is not ${rules.audienceName}`;
  }
  if (typeof exp !== "number") return '"exp" is missing or not a number';
  if (exp * 1000 <= rules.now) return '"exp" is in the past';
  if (nbf !== undefined && (typeof nbf !== "number" || nbf * 1000 > rules.now)) {
    return '"nbf" is in the future or not a number';
  }
  if (iat !== undefined && (typeof iat !== "number" || iat * 1000 > rules.now)) {
    return '"iat" is in the future or not a number';
  }
  if (jti === undefined && !rules.requireJti) return undefined;
  if (typeof jti !== "string" || jti === "") return '"jti" is missing or not a string';
  const key = `${String(iss)}\n${jti}`;
  if (rules.seen.has(key)) return '"jti" was used already (a replayed assertion)';
  rules.seen.add(key);
  return undefined;
}
