/**
 * Random values of a browser login: the `state`
 * ([RFC 6749 §10.12](https://www.rfc-editor.org/rfc/rfc6749#section-10.12)) and the PKCE
 * code verifier and its S256 challenge
 * ([RFC 7636 §4](https://www.rfc-editor.org/rfc/rfc7636#section-4)).
 *
 * @module
 */

/**
 * Encodes bytes as base64url without padding
 * ([RFC 7636 Appendix A](https://www.rfc-editor.org/rfc/rfc7636#appendix-A)).
 */
function base64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_")
    .replace(/=+$/, "");
}

/**
 * A random, URL-safe string from `bytes` random bytes: 32 bytes give the
 * 43-character code verifier
 * [RFC 7636 §7.1](https://www.rfc-editor.org/rfc/rfc7636#section-7.1) recommends, and an
 * unguessable `state`.
 */
export function randomString(bytes = 32): string {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

/**
 * The S256 code challenge of a code verifier: BASE64URL(SHA256(verifier))
 * ([RFC 7636 §4.2](https://www.rfc-editor.org/rfc/rfc7636#section-4.2)).
 */
export async function s256Challenge(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}
