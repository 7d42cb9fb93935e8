// The keys a client's records are stored under: everything that changes them, hashed.

import { sha256Hex } from "../_sha256.ts";
import type { Grant } from "../grant.ts";

/** What tells one client's tokens apart from another's. */
export interface TokenKeyParts {
  /**
   * The token endpoint URL; for a client that finds it by discovery, the
   * issuer's (the endpoint's `url` before discovery). The issuer names the
   * server as surely as its token endpoint does
   * ([RFC 8414 §3.3](https://www.rfc-editor.org/rfc/rfc8414#section-3.3): its
   * metadata is used only when it names that issuer), and is known before any
   * request, so a key never waits for the network. A URL, or its `href`.
   */
  url: URL | string;
  /** The client identifier. */
  clientId: string;
  /**
   * The client's credential (its secret, or what tells its private key apart),
   * if any: only its fingerprint goes into the key, so that a client with
   * another secret or key never gets these tokens.
   */
  credential?: string;
  /** The grant, by its name and its identity (such as whose refresh token it holds). */
  grant: Grant;
  /** The parameters every token request carries (`scope`, `audience`, ...). */
  params: URLSearchParams;
  /**
   * The thumbprint of the DPoP key the client's tokens are bound to, for a
   * client with DPoP: a token bound to one key is useless with another, so
   * each key has records of its own (and the login's refresh token, bound
   * too for a public client, [RFC 9449 §5](https://www.rfc-editor.org/rfc/rfc9449#section-5)).
   */
  boundTo?: () => Promise<string>;
}

/** The two keys of one client: its access token's and its login's. */
export interface TokenKeys {
  /** The access token's record: one per set of token parameters. */
  access: string;
  /**
   * The login's record (its latest refresh token), shared by every access
   * token of one login whatever their parameters, and the key of the renewal
   * lease.
   */
  login: string;
}

/**
 * Names a token by everything that changes it: endpoint, client, credential
 * fingerprint, grant (and the grant's identity) and parameters, in any order.
 * Hashed, so the key holds nothing in clear.
 *
 * @param parts The endpoint, client, credential, grant and parameters.
 * @returns `alf1:` and 64 hex digits.
 */
export async function storageKey(parts: TokenKeyParts): Promise<string> {
  const { url, clientId, grant, params } = parts;
  const sorted = [...params].sort(([a, x], [b, y]) =>
    a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0
  );
  const identity = grant.identity?.() ?? null;
  const access = ["alf/1", hrefOf(url), clientId, grant.name, identity, sorted];
  return await hashedKey([...access, ...await boundParts(parts)]);
}

/**
 * The login key: the material of the access key ({@linkcode storageKey})
 * without the parameters, so one login's refresh token is one record
 * whatever scope or resource its access tokens are for. Also the key of the
 * renewal lease.
 *
 * @param parts The endpoint, client, credential and grant (the parameters are not used).
 * @returns `alf1:` and 64 hex digits.
 */
export async function loginKey(parts: TokenKeyParts): Promise<string> {
  const { url, clientId, grant } = parts;
  const identity = grant.identity?.() ?? null;
  const login = ["alf/login/1", hrefOf(url), clientId, grant.name, identity];
  return await hashedKey([...login, ...await boundParts(parts)]);
}

/**
 * The access key ({@linkcode storageKey}) and the login key ({@linkcode loginKey}).
 *
 * @param parts The endpoint, client, credential, grant and parameters.
 * @returns Both keys, each `alf1:` and 64 hex digits.
 */
export async function storageKeys(parts: TokenKeyParts): Promise<TokenKeys> {
  const [access, login] = await Promise.all([storageKey(parts), loginKey(parts)]);
  return { access, login };
}

/** What both keys end with: the credential's fingerprint and the DPoP binding, when there are. */
async function boundParts(parts: TokenKeyParts): Promise<unknown[]> {
  const { credential, boundTo } = parts;
  // Without a credential the material is what it always was: a public
  // client's records (a CLI login's refresh token) stay where they are.
  const fingerprint = credential ? [await credentialFingerprint(credential)] : [];
  // Without DPoP the material is unchanged too.
  const binding = boundTo ? [{ dpop: await boundTo() }] : [];
  return [...fingerprint, ...binding];
}

function hrefOf(url: URL | string): string {
  return typeof url === "string" ? url : url.href;
}

async function hashedKey(material: unknown[]): Promise<string> {
  return `alf1:${await sha256Hex(JSON.stringify(material))}`;
}

/**
 * The SHA-256 of a domain-separated form of a client's credential: tells two
 * secrets apart without holding either (the key it goes into is hashed again).
 */
export function credentialFingerprint(credential: string): Promise<string> {
  return sha256Hex(`@alf/client credential fingerprint\n${credential}`);
}
