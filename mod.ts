/**
 * An OAuth 2 client for Deno: a `fetch` that obtains, caches and renews bearer
 * tokens by itself, replays a request once after a 401, and keeps tokens in
 * memory or in Deno KV.
 *
 * @example Calling an API protected by OAuth 2
 * ```ts
 * import assert from "node:assert/strict";
 * import { Client } from "@alf/client";
 * import { startAuthServer } from "@alf/client/testing";
 *
 * await using server = await startAuthServer(); // a local stand-in
 * await using client = new Client({
 *   tokenEndpoint: server.tokenEndpoint,
 *   clientId: "client-id",
 *   clientSecret: "secret",
 *   scope: ["read", "write"],
 * });
 * const response = await client.fetch(server.resourceUrl);
 * assert(response.status === 200);
 * await response.body?.cancel();
 * ```
 *
 * @module
 */

export { Client, type ClientOptions, type GetTokenOptions } from "./src/client.ts";
export type { DpopOptions } from "./src/client_options.ts";
export {
  type DpopAlgorithm,
  DpopKey,
  type DpopKeyOptions,
  type DpopProofOptions,
} from "./src/dpop.ts";
export type { ClientAuthMethod } from "./src/client_auth.ts";
export type { ClientEvent, TokenReason, TokenRequestEvent } from "./src/client_event.ts";
export type { Grant, GrantContext } from "./src/grant.ts";
export {
  type AssertionContext,
  type CredentialSource,
  JwtBearerGrant,
  type JwtBearerGrantOptions,
} from "./src/grants/jwt_bearer.ts";
export { TokenExchangeGrant, type TokenExchangeGrantOptions } from "./src/grants/token_exchange.ts";
export { ClientCredentialsGrant } from "./src/grants/client_credentials.ts";
export {
  DeviceCodeGrant,
  type DeviceCodeGrantOptions,
  type DeviceUserCode,
} from "./src/grants/device_code.ts";
export { RefreshTokenGrant, type RefreshTokenGrantOptions } from "./src/grants/refresh_token.ts";
export { AuthorizationCodeGrant } from "./src/login/authorization_code_grant.ts";
export {
  type BrowserFlow,
  useAuthorizationCodeFlow,
  useImplicitFlow,
} from "./src/login/browser_flow.ts";
export { ImplicitGrant } from "./src/login/implicit_grant.ts";
export type {
  AuthorizationCodeFlowOptions,
  AuthorizationCodeGrantOptions,
  ImplicitFlowOptions,
  ImplicitGrantOptions,
  LoginOptions,
  LoopbackLoginOptions,
  PortRange,
} from "./src/login/login_options.ts";
export { KvTokenStorage, type KvTokenStorageOptions } from "./src/storage/kv.ts";
export { MemoryTokenStorage, type MemoryTokenStorageOptions } from "./src/storage/memory.ts";
export type {
  AcquireLeaseOptions,
  DeleteTokenOptions,
  SetTokenOptions,
  TokenLease,
  TokenStorage,
  WaitForChangeOptions,
} from "./src/storage/token_storage.ts";
export type { Token } from "./src/token.ts";
export {
  type EndpointAnswer,
  type ErrorResponse,
  TokenEndpoint,
  type TokenEndpointOptions,
  type TokenResult,
} from "./src/token_endpoint.ts";
export { TokenError, type TokenErrorCode, type TokenErrorOptions } from "./src/token_error.ts";
export {
  type AssertionTarget,
  ClientAssertion,
  type ClientAssertionAudience,
  type ClientAssertionMethod,
  type ClientAssertionOptions,
  type ClientKey,
} from "./src/client_assertion.ts";
export {
  type AuthorizationServerMetadata,
  discover,
  type DiscoverOptions,
} from "./src/discovery.ts";
export {
  googleServiceAccount,
  type GoogleServiceAccountClientOptions,
  type GoogleServiceAccountKey,
  type GoogleServiceAccountOptions,
} from "./src/google_service_account.ts";
export { revokeToken, type RevokeTokenOptions } from "./src/revocation.ts";
export {
  discoverResource,
  type DiscoverResourceOptions,
  type ProtectedResourceMetadata,
} from "./src/protected_resource.ts";
export {
  type ClientMetadata,
  type ClientRegistration,
  registerClient,
  type RegisterClientOptions,
} from "./src/client_registration.ts";
export {
  type ClientCertificate,
  createMtlsFetch,
  type MtlsFetch,
  type MtlsFetchOptions,
  type TlsClientAuthMethod,
} from "./src/mtls.ts";
