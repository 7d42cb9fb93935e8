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
  /** The form fields of a token request (empty for other requests). */
  form: URLSearchParams;
  /** The bearer token a resource request carried, if any. */
  token?: string;
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
