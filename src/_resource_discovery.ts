// From a protected resource's address to the server a client talks to: the
// resource's metadata (RFC 9728), the authorization server it names, the
// scope to ask for, and a client identifier: the one given, or one the
// server registered (RFC 7591), kept in the client's storage so that the next
// run and other processes reuse it, and never registered twice at once.

import { isScopeToken } from "./_token_params.ts";
import { abortable } from "./_abort.ts";
import type { ClientSettings, SharedSettings } from "./_client_settings.ts";
import type { ClientAuthMethod } from "./client_auth.ts";
import type { TokenEndpointOptions } from "./token_endpoint.ts";
import { sha256Hex } from "./_sha256.ts";
import {
  type ClientMetadata,
  type ClientRegistration,
  registerClient,
} from "./client_registration.ts";
import { discover } from "./discovery.ts";
import type { Grant } from "./grant.ts";
import {
  discoverResource,
  type ProtectedResourceMetadata,
  resourceChallenge,
} from "./protected_resource.ts";
import type { TokenStorage } from "./storage/token_storage.ts";
import type { Token } from "./token.ts";
import { TokenError } from "./token_error.ts";

/** Settings of a {@linkcode ResourceDiscovery}. */
export interface ResourceDiscoveryOptions {
  /** The protected resource's address. */
  resource: URL;
  /** The client identifier, when the client has one: nothing is registered. */
  clientId?: string;
  /** The authorization server to use, when the resource names several. */
  issuer?: string;
  /** The `client_name` of a registration. */
  clientName?: string;
  /** The client's grant: what it needs registered (redirect URIs, grant types). */
  grant: Grant;
  /** Where the registration is kept. */
  storage: TokenStorage;
  /** The client's token parameters: the scope is set here when the client asked for none. */
  params: URLSearchParams;
  /** Whether the client uses DPoP. */
  dpop: boolean;
  fetch: typeof fetch;
  allowHttp: boolean;
  /** Bounds each request, in milliseconds. */
  timeout: number;
  now: () => number;
}

/** A protected resource's discovery as its client's token endpoint uses it. */
export type ServerDiscovery = NonNullable<TokenEndpointOptions["serverDiscovery"]>;

/** What discovery found: the server, and the client's identifier there. */
export interface DiscoveredServer {
  issuer: string;
  clientId: string;
  /** The registration's secret, for a server that made the client confidential (RFC 7591 §3.2.1). */
  clientSecret?: string;
  /** How the registered client authenticates, with that secret. */
  clientAuth?: ClientAuthMethod;
  metadata: ProtectedResourceMetadata;
}

/** A registration the server forgot is made anew at most this often, in milliseconds. */
const REREGISTRATION_INTERVAL = 10 * 60_000;

/** The grants a client registers for, when its grant does not say. */
const DEFAULT_REGISTRATION: Pick<ClientMetadata, "grant_types"> = {
  grant_types: ["authorization_code", "refresh_token"],
};

/** Finds the server of a protected resource once, and the client's identifier there. */
export class ResourceDiscovery {
  readonly #options: ResourceDiscoveryOptions;
  #found?: Promise<DiscoveredServer>;
  /** When a registration was last forgotten, epoch ms. */
  #forgotAt = -Infinity;
  /** The scope of the challenge that started the search, if any. */
  #challengeScope?: string;

  constructor(options: ResourceDiscoveryOptions) {
    this.#options = options;
  }

  /**
   * The server and client identifier, found on the first call and kept; a
   * failure is not kept.
   *
   * @throws {TokenError} when the metadata, the authorization server or a
   *   registration cannot be had.
   */
  find(signal?: AbortSignal): Promise<DiscoveredServer> {
    this.#found ??= this.#find().catch((error) => {
      this.#found = undefined;
      throw error;
    });
    return abortable(this.#found, signal);
  }

  /**
   * Forgets a registration the server no longer knows (it answered
   * `invalid_client`): the next search registers anew. Only that
   * registration goes, never one another process made since.
   */
  async forget(clientId: string): Promise<void> {
    const found = await this.#found?.catch(() => undefined);
    if (!found || found.clientId !== clientId || this.#options.clientId !== undefined) return;
    // A server that refuses every registration does not get one per request.
    const now = this.#options.now();
    if (now - this.#forgotAt < REREGISTRATION_INTERVAL) return;
    this.#forgotAt = now;
    this.#found = undefined;
    const key = await this.#registrationKey(found.issuer);
    await this.#options.storage.delete(key, { accessToken: clientId }).catch(() => {});
  }

  async #find(): Promise<DiscoveredServer> {
    const { resource, fetch, allowHttp, timeout, params } = this.#options;
    const metadata = await this.#resourceMetadata();
    if (metadata.dpop_bound_access_tokens_required === true && !this.#options.dpop) {
      throw new TokenError(
        `Cannot obtain a token: ${resource.href} takes only DPoP-bound tokens (dpop_bound_access_tokens_required, RFC 9728 §2); set "dpop: true"`,
        { code: "grant_failed" },
      );
    }
    const servers = metadata.authorization_servers ?? [];
    const issuer = this.#options.issuer ?? servers[0];
    if (issuer === undefined) {
      throw new TokenError(
        `Cannot obtain a token: the metadata of ${resource.href} names no authorization server`,
        { code: "grant_failed" },
      );
    }
    if (this.#options.issuer !== undefined && !servers.includes(issuer)) {
      throw new TokenError(
        `Cannot obtain a token: ${resource.href} does not take tokens of ${issuer}; its authorization servers are ${
          servers.join(", ") || "none"
        }`,
        { code: "grant_failed" },
      );
    }
    if (!params.has("scope")) {
      // Scope tokens only, and a bounded request: the resource chooses what is asked of the user.
      const named = this.#challengeScope?.split(" ") ?? metadata.scopes_supported ?? [];
      const scope = [...new Set(named.filter((s) => isScopeToken(s)))].join(" ");
      if (scope && scope.length <= 2048) params.set("scope", scope);
    }
    if (this.#options.clientId !== undefined) {
      return { issuer, clientId: this.#options.clientId, metadata };
    }
    const server = await discover(issuer, { fetch, allowHttp, timeout });
    const endpoint = server.registration_endpoint;
    if (endpoint === undefined) {
      throw new TokenError(
        `Cannot obtain a token: the authorization server ${issuer} does not allow dynamic client registration (its metadata names no registration_endpoint, RFC 7591); register a client there and pass its "clientId"`,
        { code: "grant_failed" },
      );
    }
    const registration = await this.#registration(issuer, endpoint);
    return {
      issuer,
      clientId: registration.client_id,
      ...registeredCredentials(registration),
      metadata,
    };
  }

  /**
   * The metadata: at its well-known locations; where none answers, from the
   * `resource_metadata` of the challenge a request without a token gets
   * (RFC 9728 §5.1). That request carries no token and nothing of the caller's.
   */
  async #resourceMetadata(): Promise<ProtectedResourceMetadata> {
    const { resource, fetch, allowHttp, timeout } = this.#options;
    try {
      return await discoverResource(resource, { fetch, allowHttp, timeout });
    } catch (error) {
      if (!(error instanceof TokenError) || error.code !== "http_error") throw error;
      const response = await fetch(resource, {
        redirect: "manual",
        signal: AbortSignal.timeout(timeout),
      });
      await response.body?.cancel();
      const challenge = resourceChallenge(response.headers.get("www-authenticate"));
      if (response.status !== 401 || challenge.metadataUrl === undefined) throw error;
      this.#challengeScope = challenge.scope;
      const metadataUrl = challenge.metadataUrl;
      return await discoverResource(resource, { fetch, allowHttp, timeout, metadataUrl });
    }
  }

  /** The registration kept in the storage, else a new one, made once across processes. */
  async #registration(issuer: string, endpoint: string): Promise<ClientRegistration> {
    const { storage, fetch, allowHttp, timeout } = this.#options;
    const key = await this.#registrationKey(issuer);
    const kept = registrationOf(await storage.get(key));
    if (kept) return kept;
    const lease = await storage.acquireLease?.(key, { ttl: timeout + 5_000 });
    if (storage.acquireLease && lease === undefined) {
      // Another process registers: wait for its record.
      await storage.waitForChange?.(key, { timeout: timeout + 5_000 });
      const theirs = registrationOf(await storage.get(key));
      if (theirs) return theirs;
    }
    try {
      const again = lease && registrationOf(await storage.get(key));
      if (again) return again;
      const registration = await registerClient(endpoint, this.#clientMetadata(), {
        fetch,
        allowHttp,
        timeout,
      }).catch((error) => {
        throw refusedRegistration(error, issuer);
      });
      const record: Token = {
        accessToken: registration.client_id,
        tokenType: "Bearer",
        issuedAt: this.#options.now(),
        extra: { registration: { ...registration } },
      };
      await storage.set(key, record, lease ? { lease } : undefined).catch(() => {});
      return registration;
    } finally {
      await lease?.release().catch(() => {});
    }
  }

  /** What the client registers: a public client, with what its grant needs. */
  #clientMetadata(): ClientMetadata {
    const { grant, clientName } = this.#options;
    return {
      token_endpoint_auth_method: "none",
      ...(grant.registration?.() ?? DEFAULT_REGISTRATION),
      ...(clientName === undefined ? {} : { client_name: clientName }),
      ...(this.#options.dpop ? { dpop_bound_access_tokens: true } : {}),
    };
  }

  /** The storage key of this client's registration at `issuer`: what it registers, hashed. */
  async #registrationKey(issuer: string): Promise<string> {
    const material = ["alf/registration/1", issuer, this.#clientMetadata()];
    return `alf1:${await sha256Hex(JSON.stringify(material))}`;
  }
}

/**
 * A registration the server refused for want of authorization (`401`,
 * `403`): it requires an initial access token
 * ([RFC 7591 §3](https://www.rfc-editor.org/rfc/rfc7591#section-3)), which only
 * its administrator gives; say what the user can do instead.
 */
function refusedRegistration(error: unknown, issuer: string): unknown {
  if (!(error instanceof TokenError) || (error.status !== 401 && error.status !== 403)) {
    return error;
  }
  return new TokenError(
    `${error.message}: the authorization server ${issuer} registers only clients with an initial access token (RFC 7591 §3); register a client there and pass its "clientId"`,
    {
      code: error.code,
      status: error.status,
      error: error.error,
      errorDescription: error.errorDescription,
      cause: error,
    },
  );
}

/**
 * The credentials of a registration the server made confidential although a
 * public client was asked for (RFC 7591 §3.2.1 lets it): its secret and
 * method, `client_secret_basic` unless it names `client_secret_post`.
 */
function registeredCredentials(
  registration: ClientRegistration,
): { clientSecret?: string; clientAuth?: ClientAuthMethod } {
  const secret = registration.client_secret;
  if (typeof secret !== "string" || secret === "") return {};
  const method = registration.token_endpoint_auth_method;
  return {
    clientSecret: secret,
    clientAuth: method === "client_secret_post" ? method : "client_secret_basic",
  };
}

/** A registration kept as a record: its `client_id` as the record's token, the rest in `extra`. */
function registrationOf(record: Token | undefined): ClientRegistration | undefined {
  const registration = record?.extra?.registration as ClientRegistration | undefined;
  return typeof registration?.client_id === "string" &&
      registration.client_id === record?.accessToken
    ? registration
    : undefined;
}

/** The discovery of a protected resource's client, as its token endpoint uses it. */
export function serverDiscoveryFor(
  resource: ClientSettings["protectedResource"],
  settings: SharedSettings,
): ServerDiscovery | undefined {
  if (!resource) return undefined;
  const discovery = new ResourceDiscovery({
    ...resource,
    grant: settings.grant,
    storage: settings.storage,
    params: settings.params,
    dpop: settings.dpop !== undefined,
    fetch: settings.fetch,
    allowHttp: settings.allowHttp ?? false,
    timeout: settings.timeout,
    now: settings.now,
  });
  return {
    resource: resource.resource,
    find: (signal) => discovery.find(signal),
    forget: (clientId) => discovery.forget(clientId),
  };
}
