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
export interface AuthServerOptions extends ClientAuthenticationOptions {
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
  ...CLIENT_AUTHENTICATION_OPTION_NAMES,
  expiresIn: true,
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
