// DPoP proofs for the stand-in server's tests: well-formed ones from the client's DpopKey, and
// hand-made ones (any header, any claims) for the negative cases, signed by tests/testing/_sign.ts.

import type { Alg } from "../_jws.ts";
import { keyPair } from "../_jws.ts";
import { base64url, sign } from "./_sign.ts";

/** A key pair whose public JWK goes into hand-made proofs. */
export interface HandKey {
  alg: Alg;
  privateKey: CryptoKey;
  /** The public JWK, as exported (with `key_ops` and `ext`). */
  jwk: JsonWebKey;
}

/** A new extractable key pair of `alg`, and its public JWK. */
export async function handKey(alg: Alg = "ES256"): Promise<HandKey> {
  const pair = await keyPair(alg);
  return {
    alg,
    privateKey: pair.privateKey,
    jwk: await crypto.subtle.exportKey("jwk", pair.publicKey),
  };
}

/** Claims of a proof for `method` and `url`, issued at `now` (ms). */
export function proofClaims(
  method: string,
  url: string,
  now = Date.now(),
): Record<string, unknown> {
  return { jti: crypto.randomUUID(), htm: method, htu: url, iat: Math.floor(now / 1000) };
}

/**
 * A proof signed by `key` under a `dpop+jwt` header carrying its public JWK; `header` and
 * `claims` replace or add members (a member set to `undefined` is left out).
 */
export async function handProof(
  key: HandKey,
  claims: Record<string, unknown>,
  header: Record<string, unknown> = {},
): Promise<string> {
  const full = { typ: "dpop+jwt", jwk: key.jwk, ...header };
  return await sign(claims, key.privateKey, key.alg, full);
}

/** An unsigned proof (`alg: none`), as an attacker would send. */
export function unsignedProof(key: HandKey, claims: Record<string, unknown>): string {
  const header = { alg: "none", typ: "dpop+jwt", jwk: key.jwk };
  return `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}.`;
}

/** A POST of a form to `url` with extra headers: the status, headers and JSON body. */
export async function post(
  url: string,
  form: Record<string, string>,
  headers: HeadersInit = {},
): Promise<{ status: number; headers: Headers; json: Record<string, unknown> }> {
  const response = await fetch(url, { method: "POST", body: new URLSearchParams(form), headers });
  return { status: response.status, headers: response.headers, json: await response.json() };
}

/** A public client's client credentials request, as the kit takes it. */
export const CLIENT_CREDENTIALS = { grant_type: "client_credentials", client_id: "app" };
