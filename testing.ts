/**
 * Test helpers for code that uses `@alf/client`: a stand-in authorization
 * server and protected resource on 127.0.0.1, and the cases every token
 * storage must pass.
 *
 * @example Testing your API client without a real authorization server
 * ```ts
 * import assert from "node:assert/strict";
 * import { Client } from "@alf/client";
 * import { startAuthServer } from "@alf/client/testing";
 *
 * await using server = await startAuthServer({ clientId: "id", clientSecret: "secret" });
 * await using client = new Client({
 *   tokenEndpoint: server.tokenEndpoint,
 *   clientId: "id",
 *   clientSecret: "secret",
 * });
 * const responses = await Promise.all(
 *   Array.from({ length: 10 }, () => client.fetch(server.resourceUrl)),
 * );
 * await Promise.all(responses.map((r) => r.body?.cancel()));
 * assert(server.tokenRequests.length === 1);
 * ```
 *
 * @module
 */

export { AuthServer, startAuthServer } from "./src/testing/auth_server.ts";
export type {
  AuthorizationFailure,
  AuthServerOptions,
  TokenFailure,
} from "./src/testing/auth_server_options.ts";
export type { ClientAuthenticationOptions } from "./src/testing/client_authentication_options.ts";
export type { DiscoveryOptions } from "./src/testing/discovery_options.ts";
export type { MetadataDocument, MetadataOptions } from "./src/testing/metadata_options.ts";
export type {
  DecodedJwt,
  RecordedRequest,
  RecordedRevocation,
  RouteHandler,
} from "./src/testing/recorded_request.ts";
export {
  type BrowserPage,
  ScriptedBrowser,
  type ScriptedBrowserOptions,
} from "./src/testing/scripted_browser.ts";
export {
  testTokenStorage,
  type TestTokenStorageOptions,
} from "./src/testing/test_token_storage.ts";
