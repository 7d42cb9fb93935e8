// oidc-provider (panva) as the authorization server of a protected resource
// that publishes RFC 9728 metadata: dynamic registration (RFC 7591), resource
// indicators (RFC 8707) and pushed requests enabled; and the resource itself,
// written here by hand: its metadata, its 401 challenge naming the metadata,
// and its token check (oidc-provider's introspection for opaque tokens, its
// JWKS for JWT tokens), with the audience compared with the resource's URL.

import { createRemoteJWKSet, jwtVerify } from "npm:jose@6.2.18";
import { FormBrowser } from "./_device_approval.ts";
import { type RunningProvider, startProvider } from "./_oidc_provider.ts";

/** The resource server's own client at oidc-provider, for introspection. */
const INTROSPECTOR = { client_id: "resource-server", client_secret: "rs-secret" };

/** How {@linkcode startResourceProvider} sets things up. */
export interface ResourceSetup {
  /** Whether registration needs an initial access token (RFC 7591 §3). Default: `false`. */
  initialAccessToken?: boolean;
  /** The access token format oidc-provider issues for the resource. Default: `"opaque"`. */
  format?: "opaque" | "jwt";
  /** Whether oidc-provider refuses the resource as unknown (`invalid_target`). Default: `false`. */
  unknownResource?: boolean;
}

/** One request the resource got. */
export interface ResourceRequest {
  path: string;
  /** Whether it carried an `Authorization` header. */
  authorized: boolean;
  status: number;
}

/** oidc-provider, the resource, and what each saw. */
export interface ResourceProvider extends RunningProvider {
  /** The protected resource: `http://127.0.0.1:<port>/mcp`. */
  mcpUrl: string;
  /** The metadata URL the resource's challenge names. */
  metadataUrl: string;
  /** `METHOD /path` of every request oidc-provider got (the browser's too). */
  paths: string[];
  /** Every request the resource got. */
  resourceRequests: ResourceRequest[];
  /** The scopes the resource requires; a token without one of them gets 403 `insufficient_scope`. */
  required: string[];
  /** What the resource saw of the last accepted token: its audience and scope. */
  accepted: { aud: unknown; scope: string; clientId: string }[];
  /** The resource indicators oidc-provider was asked about (`getResourceServerInfo`). */
  indicators: string[];
  /** The user's browser, which keeps the session at oidc-provider across logins. */
  browser: UserBrowser;
  /** The clients oidc-provider registered, as it keeps them. */
  registeredClients(): Promise<Record<string, unknown>[]>;
  /** Makes oidc-provider forget a registered client. */
  forgetClient(clientId: string): Promise<void>;
}

/** The user: logs in and consents on oidc-provider's development pages, and reaches the loopback callback. */
export class UserBrowser {
  readonly #browser = new FormBrowser();
  /** The prompts the user answered, in order (`login`, `consent`). */
  readonly prompts: string[] = [];
  /** The authorization URLs the client opened. */
  readonly opened: URL[] = [];
  /** The redirects that reached the client's listener. */
  readonly callbacks: URL[] = [];
  readonly #logins: Promise<void>[] = [];

  /** An `openBrowser` for the client: runs the login beside it. */
  readonly open = (url: string): void => {
    this.opened.push(new URL(url));
    this.#logins.push(this.#logIn(url));
  };

  /** Waits for the logins started, and throws the first failure. */
  async settled(): Promise<void> {
    await Promise.all(this.#logins);
  }

  async #logIn(url: string): Promise<void> {
    let page = await this.#browser.open(url);
    for (let step = 0; step < 5; step++) {
      if (new URL(page.url).pathname === "/callback") {
        this.callbacks.push(new URL(page.url));
        return;
      }
      const prompt = /name="prompt" value="(\w+)"/.exec(page.html)?.[1];
      if (prompt === undefined) {
        throw new Error(`Cannot log in: unexpected page ${page.url}: ${page.html.slice(0, 400)}`);
      }
      this.prompts.push(prompt);
      page = await this.#browser.submit(
        page,
        prompt === "login" ? { login: "alice", password: "any" } : {},
      );
    }
    throw new Error("Cannot log in: too many steps");
  }
}

/** Starts oidc-provider with registration and resource indicators, and the protected resource. */
export async function startResourceProvider(setup: ResourceSetup = {}): Promise<ResourceProvider> {
  const { initialAccessToken = false, format = "opaque", unknownResource = false } = setup;
  const paths: string[] = [];
  const resourceRequests: ResourceRequest[] = [];
  const accepted: ResourceProvider["accepted"] = [];
  const indicators: string[] = [];
  const required = ["mcp:read"];
  // Known once the resource listens; read only when requests arrive.
  let mcpUrl = "";
  let metadataUrl = "";
  let jwks: ReturnType<typeof createRemoteJWKSet> | undefined;

  const op = await startProvider({
    configuration: {
      clients: [{
        ...INTROSPECTOR,
        grant_types: [],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: "client_secret_basic",
      }],
      scopes: ["openid", "offline_access"],
      features: {
        devInteractions: { enabled: true },
        introspection: {
          enabled: true,
          allowedPolicy: (_ctx: unknown, client: { clientId: string }) =>
            client.clientId === INTROSPECTOR.client_id,
        },
        registration: { enabled: true, initialAccessToken },
        pushedAuthorizationRequests: { enabled: true },
        resourceIndicators: {
          enabled: true,
          defaultResource: (_ctx: unknown, _client: unknown, oneOf?: string[]) => oneOf,
          useGrantedResource: () => true,
          getResourceServerInfo: async (_ctx: unknown, indicator: string) => {
            indicators.push(indicator);
            if (indicator !== mcpUrl || unknownResource) {
              const { errors } = await import("npm:oidc-provider@9.13.3");
              throw new errors.InvalidTarget();
            }
            return {
              scope: "mcp:read extra",
              audience: mcpUrl,
              accessTokenTTL: 60,
              accessTokenFormat: format,
              ...(format === "jwt" ? { jwt: { sign: { alg: "RS256" } } } : {}),
            };
          },
        },
      },
      // Refresh tokens for the registered public clients, without offline_access.
      issueRefreshToken: (_ctx: unknown, client: { grantTypeAllowed(type: string): boolean }) =>
        client.grantTypeAllowed("refresh_token"),
      ttl: {
        AccessToken: 60,
        AuthorizationCode: 60,
        Grant: 3600,
        IdToken: 3600,
        Interaction: 600,
        Session: 3600,
        RefreshToken: 3600,
        PushedAuthorizationRequest: 60,
      },
      findAccount: (_ctx: unknown, sub: string) => ({ accountId: sub, claims: () => ({ sub }) }),
    },
    peek(req) {
      paths.push(`${req.method} ${new URL(req.url ?? "", "http://x").pathname}`);
    },
    async resource(request) {
      const url = new URL(request.url);
      const authorization = request.headers.get("authorization");
      const answer = await protectedResource(url, authorization);
      resourceRequests.push({
        path: url.pathname,
        authorized: authorization !== null,
        status: answer.status,
      });
      return answer;
    },
  });
  mcpUrl = new URL("/mcp", op.resourceUrl).href;
  metadataUrl = new URL("/.well-known/oauth-protected-resource/mcp", op.resourceUrl).href;

  const challenge = (error?: string, scope?: string) =>
    [
      `Bearer resource_metadata="${metadataUrl}"`,
      ...(error ? [`error="${error}"`] : []),
      ...(scope ? [`scope="${scope}"`] : []),
    ].join(", ");

  /** What the token says, checked by oidc-provider (opaque) or its keys (JWT); undefined when invalid. */
  async function check(token: string): Promise<Record<string, unknown> | undefined> {
    if (format === "jwt") {
      jwks ??= createRemoteJWKSet(new URL(`${op.issuer}/jwks`));
      try {
        const { payload } = await jwtVerify(token, jwks, { issuer: op.issuer, audience: mcpUrl });
        return payload as Record<string, unknown>;
      } catch {
        return undefined;
      }
    }
    const response = await fetch(`${op.issuer}/token/introspection`, {
      method: "POST",
      headers: {
        Authorization: `Basic ${btoa(`${INTROSPECTOR.client_id}:${INTROSPECTOR.client_secret}`)}`,
      },
      body: new URLSearchParams({ token }),
    });
    const body = await response.json();
    const audience = [body.aud].flat();
    return body.active === true && audience.includes(mcpUrl) ? body : undefined;
  }

  async function protectedResource(url: URL, authorization: string | null): Promise<Response> {
    if (url.href === metadataUrl) {
      return Response.json({
        resource: mcpUrl,
        authorization_servers: [op.issuer],
        scopes_supported: ["mcp:read"],
        bearer_methods_supported: ["header"],
        resource_name: "oidc-provider interop MCP",
      });
    }
    if (url.pathname !== "/mcp") return new Response(null, { status: 404 });
    const token = /^Bearer (\S+)$/.exec(authorization ?? "")?.[1];
    if (token === undefined) {
      return new Response(null, { status: 401, headers: { "WWW-Authenticate": challenge() } });
    }
    const claims = await check(token);
    if (claims === undefined) {
      return new Response(null, {
        status: 401,
        headers: { "WWW-Authenticate": challenge("invalid_token") },
      });
    }
    const scope = String(claims.scope ?? "");
    const granted = new Set(scope.split(" "));
    if (!required.every((s) => granted.has(s))) {
      return new Response(null, {
        status: 403,
        headers: { "WWW-Authenticate": challenge("insufficient_scope", required.join(" ")) },
      });
    }
    accepted.push({ aud: claims.aud, scope, clientId: String(claims.client_id) });
    return Response.json({ ok: true });
  }

  const clients = () =>
    (op.provider.Client as unknown as {
      adapter: {
        find(id: string): Promise<Record<string, unknown> | undefined>;
        destroy(id: string): Promise<void>;
      };
    }).adapter;
  const registered = new Set<string>();
  // The registration endpoint's answers name the client: collect their ids.
  op.provider.on("registration_create.success", (_ctx: unknown, client: { clientId: string }) => {
    registered.add(client.clientId);
  });

  return {
    ...op,
    mcpUrl,
    metadataUrl,
    paths,
    resourceRequests,
    required,
    accepted,
    indicators,
    browser: new UserBrowser(),
    async registeredClients() {
      const found = await Promise.all([...registered].map((id) => clients().find(id)));
      return found.filter((c): c is Record<string, unknown> => c !== undefined);
    },
    async forgetClient(clientId) {
      await clients().destroy(clientId);
    },
  };
}
