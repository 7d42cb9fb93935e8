// The stand-in server's dynamic client registration endpoint
// ([RFC 7591](https://www.rfc-editor.org/rfc/rfc7591)): `POST /register` takes client metadata
// (§2) and answers with a new client's id (§3.2.1), or refuses it (§3.2.2). The clients it
// registered are then known to every endpoint that authenticates a client or takes a redirect
// URI; `forget()` makes one unknown again, as a server that lost its registrations.

import { isLoopbackHost } from "../_endpoint_url.ts";
import { scripted } from "./_plain_routes.ts";
import type { AuthServerOptions } from "./auth_server_options.ts";
import type { RecordedRequest } from "./recorded_request.ts";

/** The registration endpoint's path, which the metadata advertises when registration is on. */
export const REGISTRATION_PATH = "/register";

/** The client authentication methods a client may register (RFC 7591 §2). */
const METHODS = ["none", "client_secret_basic", "client_secret_post"];

/** A client the endpoint registered. */
export interface RegisteredClient {
  /** `token_endpoint_auth_method`: `none`, `client_secret_basic` or `client_secret_post`. */
  method: string;
  /** The secret issued, unless the method is `none`. */
  secret?: string;
  redirectUris: string[];
}

/** Where the registry records the requests to `/register`. */
export interface RegistrationTarget {
  readonly registrations: RecordedRequest[];
}

/** The clients registered at a server, and its `/register`. */
export class ClientRegistry {
  readonly #options: Exclude<AuthServerOptions["registration"], boolean | undefined>;
  readonly #enabled: boolean;
  readonly #now: () => number;
  readonly #clients = new Map<string, RegisteredClient>();
  readonly #forgotten = new Set<string>();

  /**
   * @param options The server's options: `registration`.
   * @param now The server's clock, for `client_id_issued_at`.
   */
  constructor({ registration }: AuthServerOptions, now: () => number) {
    this.#enabled = registration !== undefined && registration !== false;
    this.#options = typeof registration === "object" ? registration : {};
    this.#now = now;
  }

  /** Whether `/register` registers clients (the metadata then names it). */
  get enabled(): boolean {
    return this.#enabled;
  }

  /** The ids of the clients registered and not forgotten, in order. */
  get ids(): string[] {
    return [...this.#clients.keys()];
  }

  /**
   * What the server knows of `clientId`: its registration, `"forgotten"` for one it registered
   * and then lost, `undefined` for one it never registered (judged by the server's options).
   */
  lookUp(clientId: string | null): RegisteredClient | "forgotten" | undefined {
    if (clientId === null) return undefined;
    return this.#clients.get(clientId) ?? (this.#forgotten.has(clientId) ? "forgotten" : undefined);
  }

  /** Makes a registered client unknown: every endpoint refuses it from now on. */
  forget(clientId: string): void {
    if (this.#clients.delete(clientId)) this.#forgotten.add(clientId);
  }

  /**
   * Answers a request to `/register`: 404 when registration is off, the next scripted failure
   * if any, else the new client's information (RFC 7591 §3.2.1) or the refusal (§3.2.2).
   *
   * @param recorded The request, recorded in `server.registrations`.
   * @param server The record.
   */
  register(recorded: RecordedRequest, server: RegistrationTarget): Response {
    server.registrations.push(recorded);
    if (!this.#enabled) {
      return Response.json({ error: "not_found" }, { status: 404 });
    }
    if (recorded.method !== "POST") return refuse("invalid_client_metadata", "Use POST", 405);
    const failure = this.#options.failures?.shift();
    if (failure) return scripted(failure);
    let metadata: unknown;
    try {
      metadata = JSON.parse(new TextDecoder().decode(recorded.body));
    } catch {
      return refuse("invalid_client_metadata", "the body is not JSON");
    }
    if (typeof metadata !== "object" || metadata === null || Array.isArray(metadata)) {
      return refuse("invalid_client_metadata", "the body is not a JSON object");
    }
    const client = metadata as Record<string, unknown>;
    const method = client.token_endpoint_auth_method ?? "client_secret_basic"; // §2's default
    if (typeof method !== "string" || !METHODS.includes(method)) {
      const description = `token_endpoint_auth_method must be one of ${METHODS.join(", ")}`;
      return refuse("invalid_client_metadata", description);
    }
    for (const name of ["redirect_uris", "grant_types", "response_types"]) {
      const value = client[name];
      if (value !== undefined && !isStrings(value)) {
        return refuse("invalid_client_metadata", `${name} must be a list of strings`);
      }
    }
    const redirectUris = (client.redirect_uris ?? []) as string[];
    const wrong = redirectUris.find((uri) => !isLoopbackRedirect(uri));
    if (wrong !== undefined) {
      const description = `${
        JSON.stringify(wrong)
      } is not an http(s) loopback URL without fragment`;
      return refuse("invalid_redirect_uri", description);
    }
    const clientId = `client-${crypto.randomUUID()}`;
    const registered: RegisteredClient = { method, redirectUris };
    const answer: Record<string, unknown> = {
      ...client,
      client_id: clientId,
      client_id_issued_at: Math.floor(this.#now() / 1000),
      token_endpoint_auth_method: method,
      grant_types: client.grant_types ?? ["authorization_code"],
      response_types: client.response_types ?? ["code"],
    };
    if (method !== "none") {
      registered.secret = `secret-${crypto.randomUUID()}`;
      answer.client_secret = registered.secret;
      answer.client_secret_expires_at = 0; // never (§3.2.1)
    }
    this.#clients.set(clientId, registered);
    return Response.json(answer, { status: 201, headers: { "Cache-Control": "no-store" } });
  }
}

/**
 * Whether `requested` is one of a registered client's redirect URIs. A loopback one may differ
 * in its port only: the client picks a free port when it runs
 * ([RFC 8252 §7.3](https://www.rfc-editor.org/rfc/rfc8252#section-7.3)); scheme, host, path
 * and query must be the same.
 */
export function isRegisteredRedirect(client: RegisteredClient, requested: string): boolean {
  const url = URL.parse(requested);
  if (url === null) return false;
  return client.redirectUris.some((registered) => {
    const candidate = URL.parse(registered);
    if (candidate === null) return false;
    if (isLoopbackHost(url.hostname)) candidate.port = url.port;
    return candidate.href === url.href;
  });
}

function isLoopbackRedirect(uri: string): boolean {
  const url = URL.parse(uri);
  return url !== null && (url.protocol === "http:" || url.protocol === "https:") &&
    isLoopbackHost(url.hostname) && url.hash === "" && !uri.includes("#");
}

function isStrings(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === "string");
}

function refuse(error: string, description: string, status = 400): Response {
  return Response.json({ error, error_description: description }, {
    status,
    headers: { "Cache-Control": "no-store" },
  });
}
