/**
 * How the stand-in {@linkcode AuthServer} authenticates clients at its token,
 * revocation, device authorization and pushed authorization endpoints: part
 * of {@linkcode AuthServerOptions}.
 *
 * @module
 */

/**
 * The client credentials the stand-in server requires, and how it checks
 * signed client assertions; part of {@linkcode AuthServerOptions}.
 *
 * @example A server that requires a client secret
 * ```ts
 * import type { ClientAuthenticationOptions } from "@alf/client/testing";
 *
 * const options: ClientAuthenticationOptions = { clientId: "id", clientSecret: "secret" };
 * ```
 */
export interface ClientAuthenticationOptions {
  /** When set, token requests must authenticate with this client id. */
  clientId?: string;
  /**
   * When set, token requests must authenticate with this secret: Basic, form,
   * or an HS256 client assertion signed with it (`client_secret_jwt`,
   * [OpenID Connect Core §9](https://openid.net/specs/openid-connect-core-1_0.html#ClientAuthentication)).
   */
  clientSecret?: string;
  /**
   * The public keys of the client's `private_key_jwt` assertions
   * ([RFC 7523 §2.2](https://www.rfc-editor.org/rfc/rfc7523#section-2.2)):
   * `CryptoKey`s or JWKs, for RS256, PS256, ES256 and EdDSA (an RSA JWK
   * without `alg` verifies both RS256 and PS256; a private JWK registers its
   * public half; a JWK's `kid` must match the assertion's when both have one).
   *
   * An assertion passes when its `client_assertion_type` is
   * `urn:ietf:params:oauth:client-assertion-type:jwt-bearer`, its signature
   * verifies, `iss` and `sub` are the client id (`clientId`, when set), `aud`
   * passes {@linkcode ClientAuthenticationOptions.assertionAudience}, `exp` is ahead,
   * `iat` and `nbf` are not, and its `jti` is new; else the answer is 401
   * `invalid_client`, naming the failed check. With keys, the client must use
   * them (or the secret, when `clientSecret` is set too). Default: none.
   *
   * @example A client that signs its assertions with an ES256 key
   * ```ts
   * import assert from "node:assert/strict";
   * import { startAuthServer } from "@alf/client/testing";
   *
   * const { publicKey, privateKey } = await crypto.subtle.generateKey(
   *   { name: "ECDSA", namedCurve: "P-256" },
   *   false,
   *   ["sign", "verify"],
   * );
   * await using server = await startAuthServer({ clientId: "app", clientKeys: [publicKey] });
   *
   * // What a client does for private_key_jwt: sign a JWT naming itself and the server.
   * const encode = (bytes: Uint8Array) =>
   *   btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
   * const json = (value: unknown) => encode(new TextEncoder().encode(JSON.stringify(value)));
   * const now = Math.floor(Date.now() / 1000);
   * const input = `${json({ alg: "ES256" })}.${
   *   json({ iss: "app", sub: "app", aud: server.issuer, jti: crypto.randomUUID(), iat: now, exp: now + 60 })
   * }`;
   * const signature = await crypto.subtle.sign(
   *   { name: "ECDSA", hash: "SHA-256" },
   *   privateKey,
   *   new TextEncoder().encode(input),
   * );
   * const form = {
   *   grant_type: "client_credentials",
   *   client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
   *   client_assertion: `${input}.${encode(new Uint8Array(signature))}`,
   * };
   * const post = () => fetch(server.tokenEndpoint, { method: "POST", body: new URLSearchParams(form) });
   *
   * const response = await post();
   * assert.equal(response.status, 200);
   * await response.body?.cancel();
   * assert.equal(server.tokenRequests[0]?.clientAuthMethod, "private_key_jwt");
   * assert.equal(server.tokenRequests[0]?.clientAssertion?.claims.iss, "app");
   *
   * const replayed = await post(); // the same jti again
   * assert.equal(replayed.status, 401);
   * assert.deepEqual(await replayed.json(), {
   *   error: "invalid_client",
   *   error_description: 'Client assertion rejected: "jti" was used already (a replayed assertion)',
   * });
   * ```
   */
  clientKeys?: (CryptoKey | (JsonWebKey & { kid?: string }))[];
  /**
   * The client authentication methods the token and revocation endpoints
   * accept, and their metadata advertises
   * (`token_endpoint_auth_methods_supported`): `"none"`,
   * `"client_secret_basic"`, `"client_secret_post"`, `"client_secret_jwt"`,
   * `"private_key_jwt"`. A request by another method is answered 401
   * `invalid_client`. Default: by what is registered: with neither
   * `clientSecret` nor `clientKeys`, the first three (anything goes); else
   * the secret's three methods when `clientSecret` is set, and
   * `"private_key_jwt"` when `clientKeys` is.
   *
   * @example A server that advertises and takes client_secret_post only
   * ```ts
   * import assert from "node:assert/strict";
   * import { startAuthServer } from "@alf/client/testing";
   *
   * await using server = await startAuthServer({
   *   clientId: "app",
   *   clientSecret: "secret",
   *   clientAuthMethods: ["client_secret_post"],
   * });
   * const metadata = await (await fetch(server.url("/.well-known/oauth-authorization-server")))
   *   .json();
   * assert.deepEqual(metadata.token_endpoint_auth_methods_supported, ["client_secret_post"]);
   * const basic = await fetch(server.tokenEndpoint, {
   *   method: "POST",
   *   headers: { Authorization: `Basic ${btoa("app:secret")}` },
   *   body: new URLSearchParams({ grant_type: "client_credentials" }),
   * });
   * assert.equal(basic.status, 401);
   * await basic.body?.cancel();
   * ```
   */
  clientAuthMethods?: string[];
  /**
   * Which `aud` a client assertion or a JWT bearer grant's assertion must
   * carry ([RFC 7523 §3](https://www.rfc-editor.org/rfc/rfc7523#section-3)
   * leaves it to the server): `"issuer"` ({@linkcode AuthServer.issuer}),
   * `"token_endpoint"`, or `"endpoint"`, the URL the request was sent to (the
   * token or the revocation endpoint). An `aud` list passes when one of its
   * values does. Default: any of the three.
   *
   * @example A server that wants the token endpoint, as Entra ID does
   * ```ts
   * import assert from "node:assert/strict";
   * import { startAuthServer } from "@alf/client/testing";
   *
   * const { publicKey, privateKey } = await crypto.subtle.generateKey(
   *   { name: "Ed25519" },
   *   false,
   *   ["sign", "verify"],
   * ) as CryptoKeyPair;
   * await using server = await startAuthServer({
   *   clientId: "app",
   *   clientKeys: [publicKey],
   *   assertionAudience: "token_endpoint",
   * });
   * const encode = (bytes: Uint8Array) =>
   *   btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
   * const json = (value: unknown) => encode(new TextEncoder().encode(JSON.stringify(value)));
   * async function authenticateWithAudience(aud: string): Promise<Response> {
   *   const now = Math.floor(Date.now() / 1000);
   *   const claims = { iss: "app", sub: "app", aud, jti: crypto.randomUUID(), exp: now + 60 };
   *   const input = `${json({ alg: "EdDSA" })}.${json(claims)}`;
   *   const signature = await crypto.subtle.sign("Ed25519", privateKey, new TextEncoder().encode(input));
   *   return await fetch(server.tokenEndpoint, {
   *     method: "POST",
   *     body: new URLSearchParams({
   *       grant_type: "client_credentials",
   *       client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
   *       client_assertion: `${input}.${encode(new Uint8Array(signature))}`,
   *     }),
   *   });
   * }
   * const refused = await authenticateWithAudience(server.issuer);
   * assert.equal(refused.status, 401);
   * assert.match((await refused.json()).error_description, /"aud" .* is not the token endpoint/);
   * const accepted = await authenticateWithAudience(server.tokenEndpoint);
   * assert.equal(accepted.status, 200);
   * await accepted.body?.cancel();
   * ```
   */
  assertionAudience?: "issuer" | "token_endpoint" | "endpoint";
  /**
   * The issuers whose assertions the JWT bearer grant accepts
   * ([RFC 7523 §2.1](https://www.rfc-editor.org/rfc/rfc7523#section-2.1)),
   * by `iss`, with their keys: public `CryptoKey`s, JWKs, or HS256 secrets.
   * A request with `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`
   * gets a token when its `assertion` is signed by a key of its `iss`, its
   * `aud` passes {@linkcode ClientAuthenticationOptions.assertionAudience}, `exp` is
   * ahead, `iat` and `nbf` are not, and its `jti` (optional) was not seen
   * before; else it is answered 400 `invalid_grant`
   * ([§3.1](https://www.rfc-editor.org/rfc/rfc7523#section-3.1)), the
   * `error_description` naming the failed check. The token's scope is the
   * form's `scope`, else the assertion's `scope` claim (as Google's
   * assertions carry it). Default: none.
   *
   * @example A Google-like service account, with the JWK of its key
   * ```ts
   * import assert from "node:assert/strict";
   * import { startAuthServer } from "@alf/client/testing";
   *
   * const { publicKey } = await crypto.subtle.generateKey(
   *   {
   *     name: "RSASSA-PKCS1-v1_5",
   *     modulusLength: 2048,
   *     publicExponent: new Uint8Array([1, 0, 1]),
   *     hash: "SHA-256",
   *   },
   *   true,
   *   ["sign", "verify"],
   * );
   * const jwk = await crypto.subtle.exportKey("jwk", publicKey);
   * await using server = await startAuthServer({
   *   assertionIssuers: { "bot@project.iam.gserviceaccount.com": [{ ...jwk, kid: "key-1" }] },
   * });
   * const response = await fetch(server.tokenEndpoint, {
   *   method: "POST",
   *   body: new URLSearchParams({
   *     grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer",
   *     assertion: "not-a-jwt",
   *   }),
   * });
   * assert.equal(response.status, 400);
   * assert.equal((await response.json()).error, "invalid_grant");
   * ```
   */
  assertionIssuers?: Record<string, (CryptoKey | (JsonWebKey & { kid?: string }) | string)[]>;
}

/** Every option of {@linkcode ClientAuthenticationOptions}, for the check of unknown names. */
export const CLIENT_AUTHENTICATION_OPTION_NAMES = {
  clientId: true,
  clientSecret: true,
  clientKeys: true,
  clientAuthMethods: true,
  assertionAudience: true,
  assertionIssuers: true,
} as const satisfies Record<keyof ClientAuthenticationOptions, true>;
