// The stand-in server's browser login side: the authorization endpoint
// ([RFC 6749 §3.1](https://www.rfc-editor.org/rfc/rfc6749#section-3.1)), whose redirects name
// the issuer ([RFC 9207](https://www.rfc-editor.org/rfc/rfc9207)) and which takes pushed
// requests ([RFC 9126](https://www.rfc-editor.org/rfc/rfc9126), in _par_route.ts),
// authorization codes with PKCE ([RFC 7636](https://www.rfc-editor.org/rfc/rfc7636)) and
// refresh tokens; the resources a login is for
// ([RFC 8707](https://www.rfc-editor.org/rfc/rfc8707)) go with its code and refresh token.

import { isLoopbackHost } from "../_endpoint_url.ts";
import type { ClientAuthenticator } from "./_client_auth.ts";
import { narrowAudience, targetProblem } from "./_issued_tokens.ts";
import { PushedRequests, type PushTarget, type Refusal } from "./_par_route.ts";
import { type ClientRegistry, isRegisteredRedirect } from "./_registration_route.ts";
import type { AuthorizationFailure, AuthServerOptions } from "./auth_server_options.ts";
import type { RecordedRequest } from "./recorded_request.ts";

/** What the authorization endpoint does to the next request instead of approving it. */
type Script = { kind: "fail"; failure: AuthorizationFailure } | { kind: "wrongState" };

interface Code {
  clientId: string;
  redirectUri: string;
  challenge: string;
  scope: string | null;
  /** The `resource`s of the authorization request. */
  resources: string[];
  expiresAt: number;
}

interface Refresh {
  clientId: string;
  scope: string | null;
  /** The resources of the login it came from: a refresh may narrow them, not widen them. */
  resources: string[];
  revoked: boolean;
}

/**
 * What the logins need from the server beside its options (its client, refresh token rotation,
 * pushed requests, scripted `iss`) and issuer: its clock and token issuance.
 */
export interface LoginDeskOptions {
  now(): number;
  /** Issues an access token for an audience (none: any) and returns the token response's members. */
  issue(scope: string | null, audience: string[]): Record<string, unknown>;
  /** The clients registered at `/register`. */
  registry: ClientRegistry;
}

/**
 * How long an authorization code may be exchanged: one minute
 * ([RFC 6749 §4.1.2](https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2)).
 */
const CODE_LIFETIME = 60_000;

/** The authorization endpoint and the grants that follow a browser login. */
export class LoginDesk {
  readonly #server: AuthServerOptions;
  readonly #issuer: string;
  readonly #o: LoginDeskOptions;
  readonly #pushed: PushedRequests;
  readonly #codes = new Map<string, Code>();
  readonly #refreshTokens = new Map<string, Refresh>();
  readonly #scripts: Script[] = [];
  #count = 0;

  /**
   * @param server The server's options.
   * @param issuer The issuer its redirects name in `iss`.
   * @param options Its clock and token issuance.
   */
  constructor(server: AuthServerOptions, issuer: string, options: LoginDeskOptions) {
    this.#server = server;
    this.#issuer = issuer;
    this.#o = options;
    this.#pushed = new PushedRequests(server, options.now);
  }

  /** The refresh tokens issued so far, in order. */
  get refreshTokens(): string[] {
    return [...this.#refreshTokens.keys()];
  }

  fail(count: number, failure: AuthorizationFailure): void {
    for (let i = 0; i < count; i++) this.#scripts.push({ kind: "fail", failure });
  }

  wrongState(count: number): void {
    for (let i = 0; i < count; i++) this.#scripts.push({ kind: "wrongState" });
  }

  revokeRefreshTokens(token?: string): void {
    for (const [value, refresh] of this.#refreshTokens) {
      if (token === undefined || token === value) refresh.revoked = true;
    }
  }

  /**
   * Answers a pushed authorization request (`/par`,
   * [RFC 9126 §2](https://www.rfc-editor.org/rfc/rfc9126#section-2)), checked as
   * {@linkcode LoginDesk.authorize} checks a request.
   */
  push(
    recorded: RecordedRequest,
    clients: ClientAuthenticator,
    server: PushTarget,
  ): Promise<Response> {
    return this.#pushed.push(recorded, clients, server, (params) => this.#check(params));
  }

  /**
   * Approves an authorization request at once (no user to ask) and redirects; a pushed one
   * (`request_uri`, [RFC 9126 §4](https://www.rfc-editor.org/rfc/rfc9126#section-4)) with the
   * parameters pushed.
   */
  authorize(url: URL): Response {
    let query = url.searchParams;
    let refusal: Refusal | undefined;
    if (query.has("request_uri")) {
      const taken = this.#pushed.take(query);
      if (taken.params === undefined) return errorPage(taken.refusal.description);
      ({ params: query, refusal } = taken);
    } else if (this.#pushed.required) {
      refusal = {
        error: "invalid_request",
        description: "this server accepts pushed authorization requests only (RFC 9126 §5)",
      };
    }
    const problem = this.#check(query);
    // An unchecked redirect URI is never redirected to
    // ([RFC 6749 §4.1.2.1](https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2.1)).
    if (problem?.page) return errorPage(problem.description);
    const clientId = query.get("client_id")!;
    const redirectUri = query.get("redirect_uri")!;
    const responseType = query.get("response_type");
    const inFragment = responseType === "token";
    let state = query.get("state");
    const redirect = (params: Record<string, string>) => {
      const target = new URL(redirectUri);
      const answer = new URLSearchParams(params);
      if (state !== null) answer.set("state", state);
      // Every response names the issuer, errors included (RFC 9207 §2).
      const iss = this.#nextIssuer();
      if (iss !== null) answer.set("iss", iss);
      if (inFragment) target.hash = answer.toString();
      else for (const [name, value] of answer) target.searchParams.append(name, value);
      return new Response(null, {
        status: 302,
        headers: { "Location": target.href, "Cache-Control": "no-store" },
      });
    };
    const refused = refusal ?? problem;
    if (refused) return redirect({ error: refused.error, error_description: refused.description });
    const script = this.#scripts.shift();
    if (script?.kind === "fail") {
      const { error = "access_denied", errorDescription } = script.failure;
      return redirect({
        error,
        ...(errorDescription === undefined ? {} : { error_description: errorDescription }),
      });
    }
    if (script?.kind === "wrongState") state = `wrong-${crypto.randomUUID()}`;
    const scope = query.get("scope");
    const resources = query.getAll("resource");
    if (inFragment) {
      const members = this.#o.issue(scope, resources);
      return redirect(Object.fromEntries(Object.entries(members).map(([k, v]) => [k, String(v)])));
    }
    const challenge = query.get("code_challenge")!;
    const code = `code-${++this.#count}-${crypto.randomUUID()}`;
    this.#codes.set(code, {
      clientId,
      redirectUri,
      challenge,
      scope,
      resources,
      expiresAt: this.#o.now() + CODE_LIFETIME,
    });
    return redirect({ code });
  }

  /**
   * The authorization code grant
   * ([RFC 6749 §4.1.3](https://www.rfc-editor.org/rfc/rfc6749#section-4.1.3)) with PKCE
   * verification ([RFC 7636 §4.6](https://www.rfc-editor.org/rfc/rfc7636#section-4.6)).
   */
  async exchange(form: URLSearchParams, clientId: string | null): Promise<Response> {
    const value = form.get("code") ?? "";
    const code = this.#codes.get(value);
    if (!code) return invalidGrant("The code is unknown or was used already");
    this.#codes.delete(value);
    if (this.#o.now() >= code.expiresAt) return invalidGrant("The code has expired");
    if (clientId !== code.clientId) return invalidGrant("The code was issued to another client");
    if (form.get("redirect_uri") !== code.redirectUri) {
      return invalidGrant("redirect_uri differs from the authorization request's");
    }
    const verifier = form.get("code_verifier") ?? "";
    if (!/^[A-Za-z0-9._~-]{43,128}$/.test(verifier) || await s256(verifier) !== code.challenge) {
      return invalidGrant("PKCE verification failed");
    }
    return this.logIn(clientId, code.scope, code.resources, form.getAll("resource"));
  }

  /** The refresh token grant ([RFC 6749 §6](https://www.rfc-editor.org/rfc/rfc6749#section-6)). */
  refresh(form: URLSearchParams, clientId: string | null): Response {
    const value = form.get("refresh_token") ?? "";
    const refresh = this.#refreshTokens.get(value);
    if (!refresh || refresh.revoked) return invalidGrant("The refresh token is unknown or revoked");
    if (clientId !== refresh.clientId) {
      return invalidGrant("The refresh token was issued to another client");
    }
    const scope = form.get("scope") ?? refresh.scope;
    // Any resource, as servers whose refresh tokens serve several APIs allow (Entra ID's).
    const asked = form.getAll("resource");
    const audience = asked.length > 0 ? asked : refresh.resources;
    if (this.#server.rotateRefreshTokens !== true) return json(this.#o.issue(scope, audience));
    refresh.revoked = true;
    return this.#withRefreshToken(clientId, scope, refresh.resources, audience);
  }

  /**
   * A completed login's answer: access token and refresh token (the code's, the device
   * grant's), or `invalid_target` when the token request names a resource the login was not
   * for.
   *
   * @param resources The resources the login was for.
   * @param asked The `resource`s of the token request, which may narrow them.
   */
  logIn(clientId: string, scope: string | null, resources: string[], asked: string[]): Response {
    // RFC 8707 §2.2: the token request may narrow the audience, not widen it.
    const narrowed = narrowAudience(resources, asked);
    if ("refusal" in narrowed) return invalidTarget(narrowed.refusal);
    return this.#withRefreshToken(clientId, scope, resources, narrowed.audience);
  }

  /**
   * Why the authorization endpoint refuses a request, if it does: `page` when it cannot
   * redirect (an unchecked redirect URI; this stand-in accepts loopback ones only,
   * [RFC 8252 §7.3](https://www.rfc-editor.org/rfc/rfc8252#section-7.3); an unknown client).
   */
  #check(query: URLSearchParams): (Refusal & { page: boolean }) | undefined {
    const redirectUri = query.get("redirect_uri");
    if (redirectUri === null || !isLoopback(redirectUri)) {
      const description = "redirect_uri is missing or is not an http: loopback address";
      return { page: true, error: "invalid_request", description };
    }
    const clientId = query.get("client_id");
    const known = this.#server.clientId;
    const registered = this.#o.registry.lookUp(clientId);
    if (
      clientId === null || registered === "forgotten" ||
      (registered === undefined && known !== undefined && clientId !== known)
    ) {
      return {
        page: true,
        error: "invalid_request",
        description: "client_id is missing or unknown",
      };
    }
    if (registered !== undefined && !isRegisteredRedirect(registered, redirectUri)) {
      const description = "redirect_uri is not one the client registered (RFC 8252 §7.3: any port)";
      return { page: true, error: "invalid_request", description };
    }
    const responseType = query.get("response_type");
    if (responseType !== "token" && responseType !== "code") {
      const description = "response_type must be code or token";
      return { page: false, error: "unsupported_response_type", description };
    }
    const challenge = query.get("code_challenge");
    if (responseType === "code" && (query.get("code_challenge_method") !== "S256" || !challenge)) {
      const description = "PKCE with code_challenge_method=S256 is required";
      return { page: false, error: "invalid_request", description };
    }
    const target = targetProblem(query.getAll("resource"));
    if (target !== undefined) return { page: false, error: "invalid_target", description: target };
    return undefined;
  }

  /** The `iss` of the next redirect: the next scripted one, else the issuer. */
  #nextIssuer(): string | null {
    const scripted = this.#server.authorizationResponseIssuers;
    return scripted !== undefined && scripted.length > 0 ? scripted.shift()! : this.#issuer;
  }

  /**
   * @param resources The resources of the login, which the refresh token keeps.
   * @param audience The access token's ([RFC 8707 §2.2](https://www.rfc-editor.org/rfc/rfc8707#section-2.2)).
   */
  #withRefreshToken(
    clientId: string,
    scope: string | null,
    resources: string[],
    audience: string[],
  ): Response {
    const refreshToken = `rt-${++this.#count}-${crypto.randomUUID()}`;
    this.#refreshTokens.set(refreshToken, { clientId, scope, resources, revoked: false });
    return json({ ...this.#o.issue(scope, audience), refresh_token: refreshToken });
  }
}

function isLoopback(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === "http:" && isLoopbackHost(url.hostname) && url.hash === "";
  } catch {
    return false;
  }
}

/** Computed here, apart from the client's own code, so a wrong challenge fails a test. */
async function s256(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return btoa(String.fromCharCode(...new Uint8Array(digest))).replace(/\+/g, "-")
    .replace(/\//g, "_").replace(/=+$/, "");
}

function json(body: Record<string, unknown>): Response {
  return Response.json(body, { headers: { "Cache-Control": "no-store" } });
}

function invalidGrant(description: string): Response {
  return Response.json({ error: "invalid_grant", error_description: description }, {
    status: 400,
  });
}

function invalidTarget(description: string): Response {
  return Response.json({ error: "invalid_target", error_description: description }, {
    status: 400,
  });
}

function errorPage(reason: string): Response {
  return new Response(`Cannot authorize: ${reason}`, {
    status: 400,
    headers: { "Content-Type": "text/plain; charset=utf-8" },
  });
}
