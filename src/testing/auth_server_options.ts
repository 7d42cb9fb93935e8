/**
 * How a test sets up the stand-in {@linkcode AuthServer}: the options it starts
 * with. The failures its endpoints answer with when scripted to are in
 * `scripted_failures.ts`.
 *
 * @module
 */

import { checkKnownOptions } from "../_known_options.ts";
import {
  CLIENT_AUTHENTICATION_OPTION_NAMES,
  type ClientAuthenticationOptions,
} from "./client_authentication_options.ts";
import {
  checkDiscoveryOptionNames,
  DISCOVERY_OPTION_NAMES,
  type DiscoveryOptions,
} from "./discovery_options.ts";
import { METADATA_OPTION_NAMES, type MetadataOptions } from "./metadata_options.ts";
import type { TokenFailure } from "./scripted_failures.ts";

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
export interface AuthServerOptions extends ClientAuthenticationOptions, DiscoveryOptions {
  /**
   * The `expires_in` of issued tokens, in seconds; `null` leaves it out.
   * Default: 3600. Change it later with {@linkcode AuthServer.expiresIn}.
   */
  expiresIn?: number | null;
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
   * `/device_authorization` issues codes (§3.2) to a client authenticated as at `/token`; a GET of
   * `/device?user_code=...` (the `verification_uri_complete`) approves them, as
   * the user would; the token endpoint answers
   * `grant_type=urn:ietf:params:oauth:grant-type:device_code` with the next of
   * `answers` while any are left (each poll takes one:
   * `"authorization_pending"`, `"slow_down"`, `"access_denied"`,
   * `"expired_token"`), else `expired_token` past `expiresIn` on the server's
   * clock, a token and a refresh token once approved, `authorization_pending`
   * before (§3.5).
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
  /**
   * Where the server demands its DPoP nonce
   * ([RFC 9449 §8](https://www.rfc-editor.org/rfc/rfc9449#section-8),
   * [§9](https://www.rfc-editor.org/rfc/rfc9449#section-9)). Default: nowhere.
   *
   * DPoP is always on: a token request with a valid `DPoP` proof (§4.3: `typ`
   * `dpop+jwt`; `alg` ES256, EdDSA, RS256 or PS256; a public `jwk` that verifies
   * the signature; `htm` and `htu` (query and fragment aside) of the request;
   * `iat` within 60 s of `now`; a `jti` never seen before) gets tokens of
   * `token_type` `DPoP`, bound to the key's thumbprint, and so does its refresh
   * token when the client is public (`none`; §5); any other proof is answered
   * `400 invalid_dpop_proof`. The resource then takes the token only as
   * `Authorization: DPoP <token>` with a proof by that key whose `ath` is the
   * token's hash (§7), else `401` with a `WWW-Authenticate: DPoP` challenge.
   *
   * Where the nonce is demanded, a proof without {@linkcode AuthServer.dpopNonce}
   * (or with a stale one, after {@linkcode AuthServer.rotateDpopNonce}) is
   * answered `use_dpop_nonce` with a `DPoP-Nonce` header: `400` at the token
   * endpoint, `401` at the resource. Every answer there carries the current
   * nonce (§8.2). {@linkcode RecordedRequest.dpopRefusal} tells which proofs
   * were refused, and why.
   *
   * @example A token endpoint that demands a nonce
   * ```ts
   * import assert from "node:assert/strict";
   * import { DpopKey } from "@alf/client";
   * import { startAuthServer } from "@alf/client/testing";
   *
   * await using server = await startAuthServer({ dpopNonce: { token: true } });
   * const key = await DpopKey.generate();
   * const requestToken = async (nonce?: string) =>
   *   await fetch(server.tokenEndpoint, {
   *     method: "POST",
   *     headers: { DPoP: await key.proof({ method: "POST", url: server.tokenEndpoint, nonce }) },
   *     body: new URLSearchParams({ grant_type: "client_credentials", client_id: "app" }),
   *   });
   * const challenge = await requestToken();
   * assert.equal(challenge.status, 400);
   * assert.equal((await challenge.json()).error, "use_dpop_nonce");
   * const nonce = challenge.headers.get("DPoP-Nonce") ?? undefined;
   * assert.equal(nonce, server.dpopNonce);
   * const answer = await requestToken(nonce);
   * assert.equal((await answer.json()).token_type, "DPoP");
   * ```
   */
  dpopNonce?: {
    /** Whether the token endpoint demands the nonce. Default: `false`. */
    token?: boolean;
    /** Whether the resource (`/resource` and below) demands the nonce. Default: `false`. */
    resource?: boolean;
  };
  /**
   * Pushed authorization requests ([RFC 9126](https://www.rfc-editor.org/rfc/rfc9126)):
   * `/par` (named `pushed_authorization_request_endpoint` in the metadata) authenticates the
   * client as the token endpoint does, checks the request as `/authorize` would (loopback
   * `redirect_uri`, `response_type`, PKCE S256), and answers `201` with a one-time `request_uri`
   * (§2.2). `/authorize` takes it with the same `client_id` and nothing else beside it, before it
   * expires on the server's clock (§4), and redirects with the pushed parameters. Each push is
   * recorded in {@linkcode AuthServer.pushedAuthorizationRequests}.
   *
   * @example A server that accepts pushed requests only
   * ```ts
   * import assert from "node:assert/strict";
   * import { startAuthServer } from "@alf/client/testing";
   *
   * await using server = await startAuthServer({ pushedAuthorizationRequests: { required: true } });
   * const pushed = await fetch(server.url("/par"), {
   *   method: "POST",
   *   body: new URLSearchParams({
   *     client_id: "cli",
   *     response_type: "code",
   *     redirect_uri: "http://127.0.0.1:9/callback",
   *     code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
   *     code_challenge_method: "S256",
   *   }),
   * });
   * assert.equal(pushed.status, 201);
   * const { request_uri: requestUri, expires_in: expiresIn } = await pushed.json();
   * assert.equal(expiresIn, 60);
   * const authorize = new URL(server.authorizationEndpoint);
   * authorize.search = new URLSearchParams({ client_id: "cli", request_uri: requestUri }).toString();
   * const redirect = await fetch(authorize, { redirect: "manual" });
   * await redirect.body?.cancel();
   * const location = new URL(redirect.headers.get("location")!);
   * assert.ok(location.searchParams.get("code"));
   * assert.equal(location.searchParams.get("iss"), server.issuer);
   * ```
   */
  pushedAuthorizationRequests?: {
    /**
     * Whether `/authorize` refuses a request that was not pushed (with an `invalid_request`
     * redirect), as the metadata then says (`require_pushed_authorization_requests`, §5).
     * Default: `false`.
     */
    required?: boolean;
    /** The `expires_in` of a `request_uri`, in seconds. Default: 60. */
    expiresIn?: number;
    /**
     * The answers of the next pushes instead of a `request_uri`, taken in order (the array is
     * read as it is then): a failing PAR endpoint.
     */
    failures?: TokenFailure[];
  };
  /**
   * The `iss` of the next authorization redirects, taken in order (the array is read as it is
   * then): a string instead of the issuer, as from a mix-up
   * ([RFC 9207](https://www.rfc-editor.org/rfc/rfc9207)); `null` for none. Every other redirect,
   * an error one included, carries {@linkcode AuthServer.issuer} (§2), as the metadata says
   * (`authorization_response_iss_parameter_supported`). A forged `state` instead, as from
   * another login: {@linkcode AuthServer.answerWithWrongState}.
   *
   * @example A redirect from the wrong server, then a right one
   * ```ts
   * import assert from "node:assert/strict";
   * import { startAuthServer } from "@alf/client/testing";
   *
   * await using server = await startAuthServer({
   *   authorizationResponseIssuers: ["https://attacker.example"],
   * });
   * const authorize = new URL(server.authorizationEndpoint);
   * authorize.search = new URLSearchParams({
   *   response_type: "token",
   *   client_id: "cli",
   *   redirect_uri: "http://127.0.0.1:9/callback",
   * }).toString();
   * const issuers = [];
   * for (let i = 0; i < 2; i++) {
   *   const redirect = await fetch(authorize, { redirect: "manual" });
   *   await redirect.body?.cancel();
   *   const fragment = new URL(redirect.headers.get("location")!).hash.slice(1);
   *   issuers.push(new URLSearchParams(fragment).get("iss"));
   * }
   * assert.deepEqual(issuers, ["https://attacker.example", server.issuer]);
   * ```
   *
   * @example A forged `state` (`answerWithWrongState`) is ignored; the real one logs in
   * ```ts
   * import assert from "node:assert/strict";
   * import { Client, ImplicitGrant } from "@alf/client";
   * import { ScriptedBrowser, startAuthServer } from "@alf/client/testing";
   *
   * await using server = await startAuthServer();
   * server.answerWithWrongState(1);
   * await using browser = new ScriptedBrowser();
   * await using client = new Client({
   *   tokenEndpoint: server.tokenEndpoint,
   *   clientId: "cli",
   *   grant: new ImplicitGrant({
   *     portRange: [0, 0],
   *     openBrowser: async (url) => {
   *       await browser.open(url); // wrong state: an error page, the login waits on
   *       await browser.open(url); // the right state: the login completes
   *     },
   *   }),
   * });
   * await client.getToken();
   * await browser.close(); // waits for the last page
   * assert.deepEqual(browser.pages.map((page) => page.status), [400, 200]);
   * ```
   */
  authorizationResponseIssuers?: (string | null)[];
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
  ...CLIENT_AUTHENTICATION_OPTION_NAMES,
  ...DISCOVERY_OPTION_NAMES,
  expiresIn: true,
  issuerPath: true,
  metadata: true,
  deviceAuthorization: true,
  pushedAuthorizationRequests: true,
  authorizationResponseIssuers: true,
  now: true,
  port: true,
  rotateRefreshTokens: true,
  dpopNonce: true,
} as const satisfies Record<keyof AuthServerOptions, true>;

/** Every name of {@linkcode AuthServerOptions.dpopNonce}. */
export const DPOP_NONCE_OPTION_NAMES = {
  token: true,
  resource: true,
} as const satisfies Record<keyof NonNullable<AuthServerOptions["dpopNonce"]>, true>;

/**
 * Refuses options with a name that is neither one of
 * {@linkcode AUTH_SERVER_OPTION_NAMES} nor, in `metadata`, one of
 * {@linkcode METADATA_OPTION_NAMES} (in `dpopNonce`, one of
 * {@linkcode DPOP_NONCE_OPTION_NAMES}; in `protectedResource` and `registration`, see
 * {@linkcode checkDiscoveryOptionNames}), naming the nearest known one.
 *
 * @throws {TypeError} on the first unknown name, options that are not an object, or a
 *   `dpopNonce` member that is not a boolean.
 */
export function checkAuthServerOptionNames(options: unknown): void {
  checkKnownOptions(options, AUTH_SERVER_OPTION_NAMES, "AuthServer", "start");
  const { metadata } = options as AuthServerOptions;
  if (metadata !== undefined) {
    checkKnownOptions(metadata, METADATA_OPTION_NAMES, 'AuthServer ("metadata")', "start");
  }
  checkDiscoveryOptionNames(options as AuthServerOptions);
  const { dpopNonce } = options as AuthServerOptions;
  if (dpopNonce !== undefined) {
    checkKnownOptions(dpopNonce, DPOP_NONCE_OPTION_NAMES, 'AuthServer ("dpopNonce")', "start");
    for (const [name, value] of Object.entries(dpopNonce)) {
      if (typeof value !== "boolean" && value !== undefined) {
        throw new TypeError(`Cannot start the AuthServer: "dpopNonce.${name}" must be a boolean`);
      }
    }
  }
}
