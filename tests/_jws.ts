// Test helpers for signed JWTs: keys of each type, PEM text, and a verifier written
// from RFC 7515 independently of src/_jwt.ts (it verifies; that file signs).

export type Alg = "RS256" | "PS256" | "ES256" | "EdDSA";

const GENERATE: Record<Alg, RsaHashedKeyGenParams | EcKeyGenParams | Algorithm> = {
  RS256: {
    name: "RSASSA-PKCS1-v1_5",
    modulusLength: 2048,
    publicExponent: new Uint8Array([1, 0, 1]),
    hash: "SHA-256",
  },
  PS256: {
    name: "RSA-PSS",
    modulusLength: 2048,
    publicExponent: new Uint8Array([1, 0, 1]),
    hash: "SHA-256",
  },
  ES256: { name: "ECDSA", namedCurve: "P-256" },
  EdDSA: { name: "Ed25519" },
};

const VERIFY: Record<Alg | "HS256", AlgorithmIdentifier | RsaPssParams | EcdsaParams> = {
  RS256: { name: "RSASSA-PKCS1-v1_5" },
  PS256: { name: "RSA-PSS", saltLength: 32 },
  ES256: { name: "ECDSA", hash: "SHA-256" },
  EdDSA: { name: "Ed25519" },
  HS256: { name: "HMAC" },
};

/** A key pair of `alg`, extractable so that tests can write it as PEM or JWK. */
export async function keyPair(alg: Alg): Promise<CryptoKeyPair> {
  return await crypto.subtle.generateKey(GENERATE[alg], true, ["sign", "verify"]) as CryptoKeyPair;
}

/** PEM text of DER bytes under `label`, 64 columns (RFC 7468). */
export function pem(label: string, der: Uint8Array | ArrayBuffer): string {
  const bytes = der instanceof Uint8Array ? der : new Uint8Array(der);
  const base64 = btoa(String.fromCharCode(...bytes));
  const lines = base64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

/** The PKCS#8 PEM of a private key. */
export async function pkcs8Pem(key: CryptoKey): Promise<string> {
  return pem("PRIVATE KEY", await crypto.subtle.exportKey("pkcs8", key));
}

/** A DER element (X.690), for building key encodings by hand. */
export function der(tag: number, ...parts: Uint8Array[]): Uint8Array {
  const length = parts.reduce((sum, part) => sum + part.length, 0);
  const head = length < 0x80
    ? [tag, length]
    : length < 0x100
    ? [tag, 0x81, length]
    : [tag, 0x82, length >> 8, length & 0xff];
  const out = new Uint8Array(head.length + length);
  out.set(head);
  let offset = head.length;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** The content of the DER element at `offset`, and where the next one starts. */
export function derContent(bytes: Uint8Array, offset = 0): { content: Uint8Array; next: number } {
  let length = bytes[offset + 1] ?? 0;
  let start = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + (bytes[start + i] ?? 0);
    start += count;
  }
  return { content: bytes.subarray(start, start + length), next: start + length };
}

/** The inner private key of a PKCS#8 PrivateKeyInfo: PKCS#1 for RSA, SEC1 for EC. */
export function innerKey(pkcs8: Uint8Array): Uint8Array {
  const { content: info } = derContent(pkcs8);
  const version = derContent(info, 0);
  const algorithm = derContent(info, version.next);
  return derContent(info, algorithm.next).content;
}

export function base64urlDecode(text: string): Uint8Array<ArrayBuffer> {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
  return Uint8Array.from(
    atob(base64 + "=".repeat((4 - base64.length % 4) % 4)),
    (c) => c.charCodeAt(0),
  );
}

export interface Verified {
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
}

/** Decodes a compact JWS without checking its signature. */
export function decodeJws(jws: string): Verified {
  const [header = "", claims = ""] = jws.split(".");
  const decode = (part: string) => JSON.parse(new TextDecoder().decode(base64urlDecode(part)));
  return { header: decode(header), claims: decode(claims) };
}

/**
 * Verifies a compact JWS with a public key (or an HMAC secret) and returns its
 * header and claims; throws when the signature or the `alg` is wrong.
 */
export async function verifyJws(
  jws: string,
  key: CryptoKey | string,
  alg: Alg | "HS256",
): Promise<Verified> {
  const parts = jws.split(".");
  if (parts.length !== 3) throw new Error("not a compact JWS");
  const [header = "", claims = "", signature = ""] = parts;
  const decoded = decodeJws(jws);
  if (decoded.header.alg !== alg) throw new Error(`alg is ${decoded.header.alg}, not ${alg}`);
  const verifyKey = typeof key === "string"
    ? await crypto.subtle.importKey(
      "raw",
      new TextEncoder().encode(key),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["verify"],
    )
    : key;
  const ok = await crypto.subtle.verify(
    VERIFY[alg],
    verifyKey,
    base64urlDecode(signature),
    new TextEncoder().encode(`${header}.${claims}`),
  );
  if (!ok) throw new Error("bad signature");
  return decoded;
}

/** A loopback server whose handler tests set; records every request's form. */
export function formServer(
  handler: (form: URLSearchParams, request: Request) => Response | Promise<Response>,
): {
  url: string;
  forms: URLSearchParams[];
  requests: Request[];
  [Symbol.asyncDispose](): Promise<void>;
} {
  const forms: URLSearchParams[] = [];
  const requests: Request[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const form = new URLSearchParams(await request.text());
    forms.push(form);
    requests.push(request);
    return await handler(form, request);
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    forms,
    requests,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}
