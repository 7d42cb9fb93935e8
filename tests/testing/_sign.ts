// Signs JWTs the way a faulty or hostile client might (any header, any claims), for the negative
// cases of the stand-in server's checks. Written apart from src/_jwt.ts and the server's verifier.

import type { Alg } from "../_jws.ts";

const SIGN: Record<Alg | "HS256", AlgorithmIdentifier | RsaPssParams | EcdsaParams> = {
  RS256: { name: "RSASSA-PKCS1-v1_5" },
  PS256: { name: "RSA-PSS", saltLength: 32 },
  ES256: { name: "ECDSA", hash: "SHA-256" },
  EdDSA: { name: "Ed25519" },
  HS256: { name: "HMAC" },
};

export function base64url(bytes: Uint8Array | string): string {
  const data = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes;
  return btoa(String.fromCharCode(...data)).replace(/\+/g, "-").replace(/\//g, "_")
    .replace(/=+$/, "");
}

/**
 * Signs `claims` under `header` (its `alg` defaults to `alg`) with a private key, or an HMAC
 * secret for HS256.
 */
export async function sign(
  claims: Record<string, unknown>,
  key: CryptoKey | string,
  alg: Alg | "HS256",
  header: Record<string, unknown> = {},
): Promise<string> {
  const input = `${base64url(JSON.stringify({ alg, ...header }))}.${
    base64url(JSON.stringify(claims))
  }`;
  const signingKey = typeof key === "string"
    ? await crypto.subtle.importKey(
      "raw",
      new TextEncoder().encode(key),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    )
    : key;
  const signature = await crypto.subtle.sign(
    SIGN[alg],
    signingKey,
    new TextEncoder().encode(input),
  );
  return `${input}.${base64url(new Uint8Array(signature))}`;
}

/** Claims of a client assertion for `clientId` to `aud`, valid for a minute from `now` (ms). */
export function assertionClaims(
  clientId: string,
  aud: string,
  now: number = Date.now(),
): Record<string, unknown> {
  const iat = Math.floor(now / 1000);
  return { iss: clientId, sub: clientId, aud, jti: crypto.randomUUID(), iat, exp: iat + 60 };
}

/** Posts a form; returns the status and the JSON body (or `null` for an empty one). */
export async function postForm(
  url: string,
  form: Record<string, string>,
  headers: HeadersInit = {},
): Promise<{ status: number; json: Record<string, unknown> | null }> {
  const response = await fetch(url, { method: "POST", body: new URLSearchParams(form), headers });
  const text = await response.text();
  return { status: response.status, json: text === "" ? null : JSON.parse(text) };
}
