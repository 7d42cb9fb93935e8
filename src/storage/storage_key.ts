// The key a token is stored under: everything that changes the token, hashed.

import { sha256Hex } from "../_sha256.ts";
import type { Grant } from "../grant.ts";

/** What tells one client's tokens apart from another's. */
export interface TokenKeyParts {
  /** The token endpoint URL. */
  url: URL;
  /** The client identifier. */
  clientId: string;
  /** The grant, by its name and its identity (such as whose refresh token it holds). */
  grant: Grant;
  /** The parameters every token request carries (`scope`, `audience`, ...). */
  params: URLSearchParams;
}

/**
 * Names a token by everything that changes it: endpoint, client, grant (and
 * the grant's identity) and parameters, in any order. Hashed, so the key
 * holds nothing in clear.
 *
 * @param parts The endpoint, client, grant and parameters.
 * @returns `alf1:` and 64 hex digits.
 */
export async function storageKey(parts: TokenKeyParts): Promise<string> {
  const { url, clientId, grant, params } = parts;
  const sorted = [...params].sort(([a, x], [b, y]) =>
    a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0
  );
  const identity = grant.identity?.() ?? null;
  const material = JSON.stringify(["alf/1", url.href, clientId, grant.name, identity, sorted]);
  return `alf1:${await sha256Hex(material)}`;
}
