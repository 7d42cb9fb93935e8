/**
 * How a test sets up the stand-in {@linkcode AuthServer}: the options it starts
 * with. The failures its endpoints answer with when scripted to are in
 * `scripted_failures.ts`.
 *
 * @module
 */

import { checkKnownOptions } from "../_known_options.ts";
import { METADATA_OPTION_NAMES, type MetadataOptions } from "./metadata_options.ts";

export type { AuthorizationFailure, TokenFailure } from "./scripted_failures.ts";

/**
 * Options of {@linkcode startAuthServer}: the credentials it requires, the
 * lifetime of its tokens and its clock.
 *
 * @example A server that checks the credentials and lets tokens expire on its own clock
 * ```ts
 * import assert from "node:assert/strict";
 * import { Client, TokenError } from "@alf/client";
 * import { type AuthServerOptions, startAuthServer } from "@alf/client/testing";
 *
 * let now = 1_000_000; // one clock for the server and the client, moved by hand
 * const options: AuthServerOptions = {
 *   clientId: "id",
 *   clientSecret: "secret",
 *   expiresIn: 60,
 *   now: () => now,
 * };
 * await using server = await startAuthServer(options);
 *
 * await using intruder = new Client({
 *   tokenEndpoint: server.tokenEndpoint,
 *   clientId: "id",
 *   clientSecret: "guess",
 * });
 * await assert.rejects(
 *   intruder.getToken(),
 *   (error) => error instanceof TokenError && error.error === "invalid_client",
 * );
 *
 * await using client = new Client({
 *   tokenEndpoint: server.tokenEndpoint,
 *   clientId: "id",
 *   clientSecret: "secret",
 *   now: () => now,
 * });
 * const token = await client.getToken();
 * assert.equal(token.expiresAt, now + 60_000);
 * assert(server.accepts(token.accessToken));
 * now += 60_000;
 * assert(!server.accepts(token.accessToken)); // expired on the server's clock
 * ```
 */
export interface AuthServerOptions {
  /**
   * The `expires_in` of issued tokens, in seconds; `null` leaves it out.
   * Default: 3600. Change it later with {@linkcode AuthServer.expiresIn}.
   */
  expiresIn?: number | null;
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
   * passes {@linkcode AuthServerOptions.assertionAudience}, `exp` is ahead,
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
   * `aud` passes {@linkcode AuthServerOptions.assertionAudience}, `exp` is
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
  /**
   * The path of the issuer identifier, for a server with tenants or realms
   * ([RFC 8414 §3.1](https://www.rfc-editor.org/rfc/rfc8414#section-3.1)):
   * `"/tenant"` makes {@linkcode AuthServer.issuer} `http://127.0.0.1:<port>/tenant`,
   * and serves the metadata at `/.well-known/oauth-authorization-server/tenant`
   * and `/tenant/.well-known/openid-configuration`. The endpoints stay where
   * they are. Default: none; the issuer is the origin.
   *
   * @example A tenant's issuer
   * ```ts
   * import assert from "node:assert/strict";
   * import { startAuthServer } from "@alf/client/testing";
   *
   * await using server = await startAuthServer({ issuerPath: "/tenant" });
   * assert.equal(server.issuer, `${server.origin}/tenant`);
   * const response = await fetch(server.url("/.well-known/oauth-authorization-server/tenant"));
   * const metadata = await response.json();
   * assert.equal(metadata.issuer, server.issuer);
   * assert.equal(metadata.token_endpoint, server.tokenEndpoint);
   * ```
   */
  issuerPath?: string;
  /**
   * Which metadata documents the server serves, and what they say; see
   * {@linkcode MetadataOptions}. Default: both documents, true to the server.
   *
   * @example Only the OpenID Connect document, naming another issuer
   * ```ts
   * import assert from "node:assert/strict";
   * import { startAuthServer } from "@alf/client/testing";
   *
   * await using server = await startAuthServer({
   *   metadata: { documents: ["openid-configuration"], issuer: "https://impostor.example" },
   * });
   * const missing = await fetch(server.url("/.well-known/oauth-authorization-server"));
   * assert.equal(missing.status, 404);
   * await missing.body?.cancel();
   * const metadata = await (await fetch(server.url("/.well-known/openid-configuration"))).json();
   * assert.equal(metadata.issuer, "https://impostor.example");
   * assert.equal(server.metadataRequests.length, 2);
   * ```
   */
  metadata?: MetadataOptions;
  /**
   * The device authorization grant ([RFC 8628](https://www.rfc-editor.org/rfc/rfc8628)):
   * `/device_authorization` issues codes (§3.2) to any named client; a GET of
   * `/device?user_code=...` (the `verification_uri_complete`) approves them, as
   * the user would; the token endpoint answers
   * `grant_type=urn:ietf:params:oauth:grant-type:device_code` with the next of
   * `answers` while any are left (each poll takes one:
   * `"authorization_pending"`, `"slow_down"`, `"access_denied"`,
   * `"expired_token"`), else `expired_token` past `expiresIn` on the server's
   * clock, a token once approved, `authorization_pending` before (§3.5).
   *
   * @example A user who approves the code at once
   * ```ts
   * import assert from "node:assert/strict";
   * import { startAuthServer } from "@alf/client/testing";
   *
   * await using server = await startAuthServer({ deviceAuthorization: { interval: 0 } });
   * const codes = await (await fetch(server.url("/device_authorization"), {
   *   method: "POST",
   *   body: new URLSearchParams({ client_id: "cli" }),
   * })).json();
   * assert.equal(codes.interval, 0);
   * await (await fetch(codes.verification_uri_complete)).body?.cancel(); // the user approves
   * const response = await fetch(server.tokenEndpoint, {
   *   method: "POST",
   *   body: new URLSearchParams({
   *     grant_type: "urn:ietf:params:oauth:grant-type:device_code",
   *     device_code: codes.device_code,
   *     client_id: "cli",
   *   }),
   * });
   * assert.equal(response.status, 200);
   * await response.body?.cancel();
   * ```
   */
  deviceAuthorization?: {
    /** The answers of the next polls, taken in order (the array is read as it is then). */
    answers?: string[];
    /** The codes' `expires_in`, in seconds. Default: 600. */
    expiresIn?: number;
    /** The `interval` answered, in seconds. Default: none (the client waits 5 s). */
    interval?: number;
  };
  /** The server's clock for token expiry, epoch milliseconds. Default: `Date.now`. */
  now?: () => number;
  /** The port to listen on. Default: 0, any free port. */
  port?: number;
  /**
   * Whether each refresh issues a new refresh token and revokes the old one
   * (rotation, [RFC 9700 §4.14.2](https://www.rfc-editor.org/rfc/rfc9700#section-4.14.2)).
   * Default: `false`, the refresh response carries no refresh token and the
   * old one stays valid.
   */
  rotateRefreshTokens?: boolean;
}

/**
 * Every name of {@linkcode AuthServerOptions}: any other name is refused as a
 * misspelling. The type requires each name of the interface and no other, so
 * the two cannot drift apart.
 */
export const AUTH_SERVER_OPTION_NAMES = {
  expiresIn: true,
  clientId: true,
  clientSecret: true,
  clientKeys: true,
  clientAuthMethods: true,
  assertionAudience: true,
  assertionIssuers: true,
  issuerPath: true,
  metadata: true,
  deviceAuthorization: true,
  now: true,
  port: true,
  rotateRefreshTokens: true,
} as const satisfies Record<keyof AuthServerOptions, true>;

/**
 * Refuses options with a name that is neither one of
 * {@linkcode AUTH_SERVER_OPTION_NAMES} nor, in `metadata`, one of
 * {@linkcode METADATA_OPTION_NAMES}, naming the nearest known one.
 *
 * @throws {TypeError} on the first unknown name, or options that are not an object.
 */
export function checkAuthServerOptionNames(options: unknown): void {
  checkKnownOptions(options, AUTH_SERVER_OPTION_NAMES, "AuthServer", "start");
  const { metadata } = options as AuthServerOptions;
  if (metadata !== undefined) {
    checkKnownOptions(metadata, METADATA_OPTION_NAMES, 'AuthServer ("metadata")', "start");
  }
}
