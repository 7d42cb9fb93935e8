/**
 * What the stand-in {@linkcode AuthServer} records of each request it
 * receives, and the handlers of its custom routes, which see that record.
 *
 * @module
 */

/**
 * A request the {@linkcode AuthServer} received: what a test checks the
 * client sent.
 *
 * @example Checking what the client sent to the token endpoint and the resource
 * ```ts
 * import assert from "node:assert/strict";
 * import { Client } from "@alf/client";
 * import { type RecordedRequest, startAuthServer } from "@alf/client/testing";
 *
 * await using server = await startAuthServer();
 * await using client = new Client({
 *   tokenEndpoint: server.tokenEndpoint,
 *   clientId: "id",
 *   clientSecret: "secret",
 *   scope: ["read", "write"],
 * });
 * const response = await client.fetch(server.url("/resource/items"), {
 *   method: "POST",
 *   body: "hello",
 * });
 * await response.body?.cancel();
 *
 * const [tokenRequest]: RecordedRequest[] = server.tokenRequests;
 * assert(tokenRequest);
 * assert.equal(tokenRequest.form.get("grant_type"), "client_credentials");
 * assert.equal(tokenRequest.form.get("scope"), "read write");
 * assert.equal(tokenRequest.headers.get("authorization"), `Basic ${btoa("id:secret")}`);
 *
 * const [resourceRequest]: RecordedRequest[] = server.resourceRequests;
 * assert(resourceRequest);
 * assert.equal(resourceRequest.method, "POST");
 * assert.equal(resourceRequest.url, server.url("/resource/items"));
 * assert.equal(new TextDecoder().decode(resourceRequest.body), "hello");
 * assert.equal(resourceRequest.token, server.issuedTokens[0]);
 * ```
 */
export interface RecordedRequest {
  /** The HTTP method. */
  method: string;
  /** The full URL. */
  url: string;
  /** The request headers. */
  headers: Headers;
  /** The request body, whole. */
  body: Uint8Array;
  /** The form fields of a token or revocation request (empty for other requests). */
  form: URLSearchParams;
  /**
   * The access token a resource request carried, if any: `Authorization: Bearer <token>`, or
   * `Authorization: DPoP <token>` ([RFC 9449 §7.1](https://www.rfc-editor.org/rfc/rfc9449#section-7.1)).
   */
  token?: string;
  /**
   * The `DPoP` proof of a token or resource request, decoded, when it passed every check
   * ([RFC 9449 §4.3](https://www.rfc-editor.org/rfc/rfc9449#section-4.3)): `jkt` is the
   * thumbprint of its key ([RFC 7638](https://www.rfc-editor.org/rfc/rfc7638)), the one the
   * tokens it obtains are bound to. A refused proof is not recorded here; its request's
   * `headers` still hold it.
   *
   * @example Checking that the client proved its key at the token endpoint
   * ```ts
   * import assert from "node:assert/strict";
   * import { DpopKey } from "@alf/client";
   * import { startAuthServer } from "@alf/client/testing";
   *
   * await using server = await startAuthServer();
   * const key = await DpopKey.generate();
   * const response = await fetch(server.tokenEndpoint, {
   *   method: "POST",
   *   headers: { DPoP: await key.proof({ method: "POST", url: server.tokenEndpoint }) },
   *   body: new URLSearchParams({ grant_type: "client_credentials", client_id: "app" }),
   * });
   * assert.equal((await response.json()).token_type, "DPoP");
   * const dpop = server.tokenRequests[0]?.dpop;
   * assert.equal(dpop?.jkt, await key.thumbprint());
   * assert.equal(dpop?.payload.htm, "POST");
   * ```
   */
  dpop?: {
    /** The JWK SHA-256 thumbprint of the proof's `jwk`, base64url. */
    jkt: string;
    /** The JOSE header: `typ`, `alg`, `jwk`. */
    header: Record<string, unknown>;
    /** The claims: `jti`, `htm`, `htu`, `iat`, and `ath` and `nonce` when sent. */
    payload: Record<string, unknown>;
  };
  /**
   * Why the server refused the `DPoP` proof of a token or resource request: `use_dpop_nonce`
   * when it lacked the server's current nonce
   * ([RFC 9449 §8](https://www.rfc-editor.org/rfc/rfc9449#section-8)), else
   * `invalid_dpop_proof`, with the failed check.
   *
   * @example Counting the nonce challenges a client met
   * ```ts
   * import assert from "node:assert/strict";
   * import { DpopKey } from "@alf/client";
   * import { startAuthServer } from "@alf/client/testing";
   *
   * await using server = await startAuthServer({ dpopNonce: { token: true } });
   * const key = await DpopKey.generate();
   * const response = await fetch(server.tokenEndpoint, {
   *   method: "POST",
   *   headers: { DPoP: await key.proof({ method: "POST", url: server.tokenEndpoint }) },
   *   body: new URLSearchParams({ grant_type: "client_credentials", client_id: "app" }),
   * });
   * assert.equal(response.status, 400);
   * await response.body?.cancel();
   * const challenges = server.tokenRequests.filter((request) =>
   *   request.dpopRefusal?.error === "use_dpop_nonce"
   * );
   * assert.equal(challenges.length, 1);
   * ```
   */
  dpopRefusal?: {
    /** The error answered. */
    error: "invalid_dpop_proof" | "use_dpop_nonce";
    /** The check that failed, as answered in `error_description`. */
    description: string;
  };
  /**
   * How a token or revocation request authenticated the client, as the server
   * saw it: `"client_secret_basic"`, `"client_secret_post"`,
   * `"private_key_jwt"`, `"client_secret_jwt"` or `"none"`.
   */
  clientAuthMethod?: string;
  /**
   * The client assertion of a `private_key_jwt` or `client_secret_jwt`
   * request, decoded (whether or not it passed the checks;
   * [RFC 7523 §2.2](https://www.rfc-editor.org/rfc/rfc7523#section-2.2)).
   */
  clientAssertion?: DecodedJwt;
  /**
   * The `assertion` of a JWT bearer grant request, decoded (whether or not it
   * passed the checks; [RFC 7523 §2.1](https://www.rfc-editor.org/rfc/rfc7523#section-2.1)).
   */
  assertion?: DecodedJwt;
}

/**
 * A JWT as the {@linkcode AuthServer} decoded it: its JOSE header and its
 * claims, for a test to check what the client signed.
 *
 * @example Checking the claims of a client assertion
 * ```ts
 * import assert from "node:assert/strict";
 * import type { DecodedJwt } from "@alf/client/testing";
 *
 * function assertSignedBy(jwt: DecodedJwt | undefined, clientId: string): void {
 *   assert.equal(jwt?.claims.iss, clientId);
 *   assert.equal(jwt?.claims.sub, clientId);
 *   assert.notEqual(jwt?.header.alg, "none");
 * }
 * assertSignedBy({ header: { alg: "ES256" }, claims: { iss: "app", sub: "app" } }, "app");
 * ```
 */
export interface DecodedJwt {
  /** The JOSE header: `alg`, `kid`, `typ`... */
  header: Record<string, unknown>;
  /** The claims: `iss`, `sub`, `aud`, `exp`, `jti`... */
  claims: Record<string, unknown>;
}

/**
 * A token revocation the {@linkcode AuthServer}'s revocation endpoint
 * performed ([RFC 7009 §2.1](https://www.rfc-editor.org/rfc/rfc7009#section-2.1)),
 * in {@linkcode AuthServer.revocations}.
 *
 * @example A refresh token revoked with its hint
 * ```ts
 * import assert from "node:assert/strict";
 * import type { RecordedRevocation } from "@alf/client/testing";
 *
 * const revocation: RecordedRevocation = {
 *   token: "rt-1",
 *   tokenTypeHint: "refresh_token",
 *   found: "refresh_token",
 *   clientId: "app",
 * };
 * assert.equal(revocation.found, revocation.tokenTypeHint);
 * ```
 */
export interface RecordedRevocation {
  /** The token the client asked to revoke. */
  token: string;
  /** The `token_type_hint` sent, or `null`. */
  tokenTypeHint: string | null;
  /**
   * What the token was: an access or a refresh token this server issued, or
   * `null` when it knew no such token (answered 200 all the same,
   * [RFC 7009 §2.2](https://www.rfc-editor.org/rfc/rfc7009#section-2.2)).
   */
  found: "access_token" | "refresh_token" | null;
  /** The client that asked, as authenticated (or named in the form), or `null`. */
  clientId: string | null;
}

/**
 * A handler for a custom route of the {@linkcode AuthServer}, set with
 * {@linkcode AuthServer.route}: it answers instead of the resource, after the
 * request was recorded.
 *
 * @param request The request; its body was read into `recorded.body`.
 * @param recorded The request as recorded, with its bearer token.
 * @returns The response to send.
 *
 * @example An API endpoint that checks the token itself
 * ```ts
 * import assert from "node:assert/strict";
 * import { Client } from "@alf/client";
 * import { type RouteHandler, startAuthServer } from "@alf/client/testing";
 *
 * await using server = await startAuthServer();
 * const me: RouteHandler = (request, recorded) =>
 *   recorded.token !== undefined && server.accepts(recorded.token)
 *     ? Response.json({ user: "ada", method: request.method })
 *     : new Response(null, { status: 401 });
 * server.route("/api/me", me);
 *
 * await using client = new Client({ tokenEndpoint: server.tokenEndpoint, clientId: "id" });
 * const response = await client.fetch(server.url("/api/me"));
 * assert.deepEqual(await response.json(), { user: "ada", method: "GET" });
 * const anonymous = await fetch(server.url("/api/me"));
 * assert.equal(anonymous.status, 401);
 * await anonymous.body?.cancel();
 * ```
 */
export type RouteHandler = (
  request: Request,
  recorded: RecordedRequest,
) => Response | Promise<Response>;
