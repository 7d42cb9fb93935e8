// npm:oidc-provider (panva) set up for the DPoP interoperability tests (RFC 9449): its
// features.dPoP with or without server nonces, introspection, the device flow and its pages
// (driven with fetch, as a user's browser on another device would), and an RFC 7638
// thumbprint written here from the RFC, independently of the client's.

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { decodeJws } from "../_jws.ts";
import { type RunningProvider, startProvider } from "./_oidc_provider.ts";

export const CC_SECRET = "dpop-cc-secret";
export const DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code";

/** What oidc-provider's page functions get: a Koa context, whose body they set. */
type Page = { body: string };

/** How {@linkcode startDpopProvider} sets up oidc-provider's DPoP. */
export interface DpopSetup {
  /**
   * Server nonces ([RFC 9449 §8](https://www.rfc-editor.org/rfc/rfc9449#section-8)):
   * `"required"` demands one in every proof (`requireNonce`), `"offered"` only sets
   * `nonceSecret` (a nonce is demanded when `iat` is out of the window); none by default.
   */
  nonces?: "required" | "offered";
  /** Where oidc-provider is mounted, so that its issuer has a path. */
  path?: string;
  /** `enabledJWA.dPoPSigningAlgValues`; oidc-provider's default is ES256, Ed25519, EdDSA. */
  algs?: string[];
}

/** One request a client sent, as it went out, and the status and nonce of its answer. */
export interface Exchange {
  method: string;
  url: string;
  authorization: string | null;
  dpop: string | null;
  /** The form of a POST. */
  form?: URLSearchParams;
  status: number;
  /** The answer's `DPoP-Nonce`. */
  nonce: string | null;
}

/** A transport for a Client that records each exchange (a wrapping fetch, as a user would). */
export function recorder(): { fetch: typeof fetch; exchanges: Exchange[] } {
  const exchanges: Exchange[] = [];
  return {
    exchanges,
    async fetch(input, init) {
      const request = new Request(input, init);
      const form = request.method === "POST"
        ? new URLSearchParams(await request.clone().text())
        : undefined;
      const response = await fetch(request);
      exchanges.push({
        method: request.method,
        url: request.url,
        authorization: request.headers.get("authorization"),
        dpop: request.headers.get("dpop"),
        form,
        status: response.status,
        nonce: response.headers.get("dpop-nonce"),
      });
      return response;
    },
  };
}

/** The exchanges with `url` (query ignored). */
export function exchangesWith(exchanges: Exchange[], url: string): Exchange[] {
  return exchanges.filter((exchange) => exchange.url.split("?")[0] === url);
}

/**
 * oidc-provider with features.dPoP, introspection, client credentials and the device flow,
 * and these clients: `cc` (client_secret_basic, client credentials), `cc-bound` (the same,
 * registered with `dpop_bound_access_tokens`), `device` (public, device code and refresh
 * token). `resourceRequests` counts the requests to its resource.
 */
export async function startDpopProvider(
  setup: DpopSetup = {},
): Promise<RunningProvider & { resourceRequests: number }> {
  const counts = { resource: 0 };
  const cc = {
    client_secret: CC_SECRET,
    token_endpoint_auth_method: "client_secret_basic",
    grant_types: ["client_credentials"],
    response_types: [],
    redirect_uris: [],
    scope: "read",
  };
  const dPoP: Record<string, unknown> = { enabled: true };
  if (setup.nonces) {
    dPoP.nonceSecret = Buffer.alloc(32, 7);
    dPoP.requireNonce = () => setup.nonces === "required";
  }
  const op = await startProvider({
    path: setup.path,
    configuration: {
      clients: [
        { ...cc, client_id: "cc" },
        { ...cc, client_id: "cc-bound", dpop_bound_access_tokens: true },
        {
          client_id: "device",
          token_endpoint_auth_method: "none",
          grant_types: [DEVICE_CODE, "refresh_token"],
          response_types: [],
          redirect_uris: [],
        },
      ],
      scopes: ["openid", "offline_access", "read"],
      features: {
        dPoP,
        clientCredentials: { enabled: true },
        introspection: { enabled: true, allowedPolicy: () => true },
        // oidc-provider's forms, on pages of the test's (its defaults print a notice each).
        deviceFlow: {
          enabled: true,
          userCodeInputSource(ctx: Page, form: string, _out: unknown, error?: Error) {
            ctx.body = `<p>${error ? `Error: ${error.name}` : "Enter the code"}</p>${form}`;
          },
          userCodeConfirmSource(ctx: Page, form: string, _c: unknown, _d: unknown, code: string) {
            ctx.body = `<h1>Confirm Device</h1><code>${code}</code>${form}`;
          },
          successSource(ctx: Page) {
            ctx.body = "<h1>Sign-in Success</h1>";
          },
        },
        devInteractions: { enabled: true },
      },
      ...(setup.algs ? { enabledJWA: { dPoPSigningAlgValues: setup.algs } } : {}),
      findAccount: (_ctx: unknown, sub: string) => ({
        accountId: sub,
        claims: () => ({ sub }),
      }),
      ttl: {
        AccessToken: 60,
        ClientCredentials: 60,
        DeviceCode: 600,
        Grant: 600,
        IdToken: 60,
        Interaction: 600,
        RefreshToken: 600,
        Session: 600,
      },
    },
    resource() {
      counts.resource++;
      return new Response(null, { status: 204 });
    },
  });
  return Object.assign(op, {
    get resourceRequests() {
      return counts.resource;
    },
  });
}

/** Decodes a proof's header and claims (its signature is oidc-provider's to check). */
export function proofOf(request: Exchange | undefined): {
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
} {
  assert(request?.dpop, `a DPoP proof on ${request?.method} ${request?.url}`);
  return decodeJws(request.dpop);
}

/** The RFC 7638 §3 thumbprint of a public JWK: its required members, in order, SHA-256. */
export async function thumbprint(jwk: JsonWebKey): Promise<string> {
  const members = jwk.kty === "EC"
    ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }
    : jwk.kty === "OKP"
    ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x }
    : { e: jwk.e, kty: jwk.kty, n: jwk.n };
  return await sha256(JSON.stringify(members));
}

/** base64url(SHA-256(text)): a thumbprint's last step, and a proof's `ath`. */
export async function sha256(text: string): Promise<string> {
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)),
  );
  return btoa(String.fromCharCode(...digest)).replace(/\+/g, "-").replace(/\//g, "_")
    .replace(/=+$/, "");
}
