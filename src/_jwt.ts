// Compact JWS signing with WebCrypto (RFC 7515 §7.1), and the private keys it signs with:
// a CryptoKey, a private JWK, or a PEM string (PKCS#8; PKCS#1 RSA and SEC1 EC are rewrapped).

/** The JWS algorithms this client signs with ([RFC 7518 §3.1](https://www.rfc-editor.org/rfc/rfc7518#section-3.1)). */
export type JwsAlgorithm = "RS256" | "PS256" | "ES256" | "EdDSA" | "HS256";

/** A private key: a `CryptoKey`, a private JWK, or a PEM string. */
export type PrivateKeyInput = CryptoKey | JsonWebKey | string;

/** A checked private key, imported on first use. */
export interface SigningKey {
  /** The algorithm the key signs with. */
  readonly alg: Exclude<JwsAlgorithm, "HS256">;
  /** The key's `kid` when its JWK had one. */
  readonly kid?: string;
  /** Imports the key (once) for signing. */
  readonly key: () => Promise<CryptoKey>;
}

type Import = RsaHashedImportParams | EcKeyImportParams | Algorithm;

const IMPORT: Record<Exclude<JwsAlgorithm, "HS256">, Import> = {
  RS256: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
  PS256: { name: "RSA-PSS", hash: "SHA-256" },
  ES256: { name: "ECDSA", namedCurve: "P-256" },
  EdDSA: { name: "Ed25519" },
};

const SIGN: Record<JwsAlgorithm, AlgorithmIdentifier | RsaPssParams | EcdsaParams> = {
  RS256: { name: "RSASSA-PKCS1-v1_5" },
  PS256: { name: "RSA-PSS", saltLength: 32 }, // RFC 7518 §3.5: salt as long as the hash
  ES256: { name: "ECDSA", hash: "SHA-256" }, // WebCrypto's r || s is JWS's form (RFC 7518 §3.4)
  EdDSA: { name: "Ed25519" },
  HS256: { name: "HMAC" },
};

/** Object identifiers of key types, as DER content bytes in hex. */
const OID = {
  rsaEncryption: "2a864886f70d010101",
  rsassaPss: "2a864886f70d01010a",
  ecPublicKey: "2a8648ce3d0201",
  p256: "2a8648ce3d030107",
  ed25519: "2b6570",
};

/** Encodes bytes or text as base64url without padding (RFC 7515 §2). */
export function base64url(input: Uint8Array | string): string {
  const bytes = typeof input === "string" ? new TextEncoder().encode(input) : input;
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/**
 * Signs a JWT in compact serialization.
 *
 * @param header The protected header; `alg` is set from `alg`.
 * @param claims The claims set.
 * @param key The signing key.
 * @param alg The algorithm the key signs with.
 */
export async function signJwt(
  header: Record<string, unknown>,
  claims: Record<string, unknown>,
  key: CryptoKey,
  alg: JwsAlgorithm,
): Promise<string> {
  const input = `${base64url(JSON.stringify({ ...header, alg }))}.${
    base64url(JSON.stringify(claims))
  }`;
  const signature = await crypto.subtle.sign(SIGN[alg], key, new TextEncoder().encode(input));
  return `${input}.${base64url(new Uint8Array(signature))}`;
}

/** Imports a shared secret for HS256 (RFC 7518 §3.2). */
export function importSecret(secret: string): Promise<CryptoKey> {
  return crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
}

/**
 * Checks a private key now, and imports it on first use.
 *
 * @param input The key.
 * @param algorithm `"PS256"` to sign with an RSA key by RSA-PSS; else by the key's type.
 * @param fail Builds the error for a key that cannot sign: `fail("is a public key")`.
 * @throws {TypeError} (from `fail`) when the key is not a usable private key.
 */
export function checkPrivateKey(
  input: unknown,
  algorithm: JwsAlgorithm | undefined,
  fail: (reason: string) => TypeError,
): SigningKey {
  if (algorithm === "HS256") throw fail('cannot sign with "HS256": it is for a client secret');
  if (typeof input === "string") return pemKey(input, algorithm, fail);
  if (input instanceof CryptoKey) return cryptoKey(input, algorithm, fail);
  if (typeof input === "object" && input !== null) return jwkKey(input, algorithm, fail);
  throw fail("must be a CryptoKey, a private JWK or a PEM string");
}

function cryptoKey(
  key: CryptoKey,
  algorithm: JwsAlgorithm | undefined,
  fail: (reason: string) => TypeError,
): SigningKey {
  if (key.type !== "private") throw fail(`is a ${key.type} key, not a private key`);
  if (!key.usages.includes("sign")) throw fail('is a CryptoKey without the "sign" usage');
  const { name, hash, namedCurve } = key.algorithm as {
    name: string;
    hash?: { name: string };
    namedCurve?: string;
  };
  const alg = name === "RSASSA-PKCS1-v1_5" && hash?.name === "SHA-256"
    ? "RS256"
    : name === "RSA-PSS" && hash?.name === "SHA-256"
    ? "PS256"
    : name === "ECDSA" && namedCurve === "P-256"
    ? "ES256"
    : name === "Ed25519"
    ? "EdDSA"
    : undefined;
  if (alg === undefined) {
    const detail = [name, hash?.name, namedCurve].filter(Boolean).join(" ");
    throw fail(`uses ${detail}; supported: RS256, PS256, ES256 (P-256) and EdDSA (Ed25519)`);
  }
  if (algorithm !== undefined && algorithm !== alg) {
    throw fail(`signs ${alg}, not "${algorithm}"`);
  }
  return { alg, key: () => Promise.resolve(key) };
}

function jwkKey(
  jwk: JsonWebKey & { kid?: unknown },
  algorithm: JwsAlgorithm | undefined,
  fail: (reason: string) => TypeError,
): SigningKey {
  if (jwk.kty === "oct") throw fail("is a symmetric JWK; use client_secret_jwt with the secret");
  if (typeof jwk.d !== "string") throw fail("is a public JWK, not a private key");
  const alg = jwk.kty === "RSA"
    ? algorithm ?? (jwk.alg === "PS256" ? "PS256" : "RS256")
    : jwk.kty === "EC" && jwk.crv === "P-256"
    ? "ES256"
    : jwk.kty === "OKP" && jwk.crv === "Ed25519"
    ? "EdDSA"
    : undefined;
  if (alg === undefined || alg === "HS256") {
    throw fail(
      `is a JWK of type ${
        [jwk.kty, jwk.crv].filter(Boolean).join(" ")
      }; supported: RSA, EC P-256 and OKP Ed25519`,
    );
  }
  // "Ed25519" is the newer, fully-specified name of EdDSA over Ed25519.
  const named = jwk.alg === "Ed25519" ? "EdDSA" : jwk.alg;
  if ((algorithm !== undefined && algorithm !== alg) || (named !== undefined && named !== alg)) {
    throw fail(`signs ${alg}, not "${algorithm ?? jwk.alg}"`);
  }
  const kid = typeof jwk.kid === "string" ? jwk.kid : undefined;
  // Checked above; WebCrypto would refuse a JWK "alg" or "key_ops" it reads differently.
  const { alg: _alg, key_ops: _ops, ...material } = jwk;
  return { alg, kid, key: once(() => importKey("jwk", material, alg)) };
}

function pemKey(
  text: string,
  algorithm: JwsAlgorithm | undefined,
  fail: (reason: string) => TypeError,
): SigningKey {
  // A key kept in an environment variable often carries "\n" as two characters.
  const blocks = pemBlocks(text.replace(/\\n/g, "\n"));
  const label = (name: string) => blocks.find((block) => block.label === name);
  const pkcs8 = label("PRIVATE KEY");
  const pkcs1 = label("RSA PRIVATE KEY");
  const sec1 = label("EC PRIVATE KEY");
  let der: Uint8Array;
  let alg: Exclude<JwsAlgorithm, "HS256">;
  try {
    if (pkcs8) {
      ({ der, alg } = fromPkcs8(pkcs8.der, algorithm, fail));
    } else if (pkcs1) {
      alg = algorithm === "PS256" ? "PS256" : "RS256";
      der = wrapPkcs8(OID.rsaEncryption, NULL, pkcs1.der);
    } else if (sec1) {
      alg = "ES256";
      der = fromSec1(sec1.der, fail);
    } else if (label("ENCRYPTED PRIVATE KEY")) {
      throw fail("is an encrypted private key; decrypt it first (openssl pkcs8 -nocrypt)");
    } else if (blocks.length > 0) {
      throw fail(`holds a ${blocks.map((b) => b.label).join(", ")}, not a private key`);
    } else {
      throw fail("is not a PEM-encoded private key");
    }
  } catch (error) {
    if (error instanceof TypeError) throw error;
    throw fail("is not a well-formed private key");
  }
  if (algorithm !== undefined && algorithm !== alg) {
    throw fail(`signs ${alg}, not "${algorithm}"`);
  }
  return { alg, key: once(() => importKey("pkcs8", der, alg)) };
}

async function importKey(
  format: "jwk" | "pkcs8",
  material: JsonWebKey | Uint8Array,
  alg: Exclude<JwsAlgorithm, "HS256">,
): Promise<CryptoKey> {
  try {
    return format === "jwk"
      ? await crypto.subtle.importKey("jwk", material as JsonWebKey, IMPORT[alg], false, ["sign"])
      : await crypto.subtle.importKey(
        "pkcs8",
        material as Uint8Array<ArrayBuffer>,
        IMPORT[alg],
        false,
        ["sign"],
      );
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new TypeError(`Cannot import the private key for ${alg}: ${reason}`, { cause });
  }
}

/** Runs `load` at most once at a time; a failure is not kept, so a later call tries again. */
function once<T>(load: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () => {
    pending ??= load().catch((error) => {
      pending = undefined;
      throw error;
    });
    return pending;
  };
}

/** The DER bytes of the first X.509 certificate in a PEM text. */
export function certificateDer(text: string): Uint8Array<ArrayBuffer> | undefined {
  return pemBlocks(text.replace(/\\n/g, "\n")).find((block) => block.label === "CERTIFICATE")?.der;
}

/** The PEM blocks of a text ([RFC 7468 §2](https://www.rfc-editor.org/rfc/rfc7468#section-2)). */
export function pemBlocks(text: string): { label: string; der: Uint8Array<ArrayBuffer> }[] {
  const blocks = [];
  for (const match of text.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----([^-]*)-----END \1-----/g)) {
    const [, label = "", body = ""] = match;
    const base64 = body.replace(/\s+/g, "");
    let der: Uint8Array<ArrayBuffer>;
    try {
      der = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    } catch {
      continue;
    }
    blocks.push({ label, der });
  }
  return blocks;
}

// --- Just enough DER (X.690) to tell key types apart and rewrap keys ---

/** One DER element: its tag, and where its content starts and ends. */
interface Element {
  tag: number;
  start: number;
  end: number;
}

const NULL = Uint8Array.of(0x05, 0x00);

function read(der: Uint8Array, offset: number): Element {
  const tag = der[offset];
  let length = der[offset + 1];
  if (tag === undefined || length === undefined) throw new RangeError("truncated DER");
  let start = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 4) throw new RangeError("unsupported DER length");
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + (der[start + i] ?? NaN);
    start += count;
  }
  const end = start + length;
  if (!(end <= der.length)) throw new RangeError("truncated DER");
  return { tag, start, end };
}

/** The elements inside a constructed element. */
function children(der: Uint8Array, parent: Element): Element[] {
  const list: Element[] = [];
  for (let offset = parent.start; offset < parent.end;) {
    const element = read(der, offset);
    list.push(element);
    offset = element.end;
  }
  return list;
}

function expect(element: Element | undefined, tag: number): Element {
  if (element?.tag !== tag) throw new RangeError("unexpected DER structure");
  return element;
}

function hex(der: Uint8Array, element: Element): string {
  return Array.from(
    der.subarray(element.start, element.end),
    (b) => b.toString(16).padStart(2, "0"),
  )
    .join("");
}

function encode(tag: number, ...parts: Uint8Array[]): Uint8Array {
  const length = parts.reduce((sum, part) => sum + part.length, 0);
  const header = [tag];
  if (length < 0x80) {
    header.push(length);
  } else {
    const bytes: number[] = [];
    for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n % 256);
    header.push(0x80 | bytes.length, ...bytes);
  }
  const out = new Uint8Array(header.length + length);
  out.set(header);
  let offset = header.length;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function oid(hexDigits: string): Uint8Array {
  return encode(0x06, Uint8Array.from(hexDigits.match(/../g) ?? [], (h) => parseInt(h, 16)));
}

/** A PKCS#8 PrivateKeyInfo ([RFC 5208 §5](https://www.rfc-editor.org/rfc/rfc5208#section-5)). */
function wrapPkcs8(algorithm: string, parameters: Uint8Array, key: Uint8Array): Uint8Array {
  return encode(
    0x30,
    Uint8Array.of(0x02, 0x01, 0x00),
    encode(0x30, oid(algorithm), parameters),
    encode(0x04, key),
  );
}

function fromPkcs8(
  der: Uint8Array,
  algorithm: JwsAlgorithm | undefined,
  fail: (reason: string) => TypeError,
): { der: Uint8Array; alg: Exclude<JwsAlgorithm, "HS256"> } {
  const [version, identifier, key] = children(der, expect(read(der, 0), 0x30));
  expect(version, 0x02);
  const [type, parameters] = children(der, expect(identifier, 0x30));
  const keyType = hex(der, expect(type, 0x06));
  const privateKey = expect(key, 0x04);
  switch (keyType) {
    case OID.rsaEncryption:
      return { der, alg: algorithm === "PS256" ? "PS256" : "RS256" };
    case OID.rsassaPss:
      // WebCrypto imports RSA-PSS keys only under rsaEncryption; the key itself is the same.
      return {
        der: wrapPkcs8(OID.rsaEncryption, NULL, der.subarray(privateKey.start, privateKey.end)),
        alg: "PS256",
      };
    case OID.ecPublicKey:
      if (parameters?.tag === 0x06 && hex(der, parameters) === OID.p256) {
        return { der, alg: "ES256" };
      }
      throw fail("is an EC key on a curve other than P-256; supported: ES256 (P-256)");
    case OID.ed25519:
      return { der, alg: "EdDSA" };
    default:
      throw fail(
        "is a key of an unsupported type; supported: RSA, EC P-256 and Ed25519",
      );
  }
}

/** Rewraps a SEC1 ECPrivateKey ([RFC 5915 §3](https://www.rfc-editor.org/rfc/rfc5915#section-3)). */
function fromSec1(der: Uint8Array, fail: (reason: string) => TypeError): Uint8Array {
  const fields = children(der, expect(read(der, 0), 0x30));
  const curve = fields.find((field) => field.tag === 0xa0);
  const curveOid = curve === undefined ? undefined : children(der, curve)[0];
  if (curveOid?.tag !== 0x06 || hex(der, curveOid) !== OID.p256) {
    throw fail("is an EC key without the P-256 curve; supported: ES256 (P-256)");
  }
  return wrapPkcs8(OID.ecPublicKey, oid(OID.p256), der);
}
