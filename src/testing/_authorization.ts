// The stand-in server's browser login side: the authorization endpoint
// ([RFC 6749 §3.1](https://www.rfc-editor.org/rfc/rfc6749#section-3.1)), authorization
// codes with PKCE ([RFC 7636](https://www.rfc-editor.org/rfc/rfc7636)) and refresh tokens.

import { isLoopbackHost } from "../_endpoint_url.ts";
import type { AuthorizationFailure } from "./auth_server_options.ts";

/** What the authorization endpoint does to the next request instead of approving it. */
type Script = { kind: "fail"; failure: AuthorizationFailure } | { kind: "wrongState" };

interface Code {
  clientId: string;
  redirectUri: string;
  challenge: string;
  scope: string | null;
  expiresAt: number;
}

interface Refresh {
  clientId: string;
  scope: string | null;
  revoked: boolean;
}

/** What the logins need from the server: its clock, its client and token issuance. */
export interface LoginDeskOptions {
  now(): number;
  /** When set, only this client may log in. */
  clientId?: string;
  /**
   * Whether a refresh replaces the refresh token
   * ([RFC 9700 §4.14.2](https://www.rfc-editor.org/rfc/rfc9700#section-4.14.2)).
   */
  rotateRefreshTokens: boolean;
  /** Issues an access token and returns the token response's members. */
  issue(scope: string | null): Record<string, unknown>;
}

/**
 * How long an authorization code may be exchanged: one minute
 * ([RFC 6749 §4.1.2](https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2)).
 */
const CODE_LIFETIME = 60_000;

/** The authorization endpoint and the grants that follow a browser login. */
export class LoginDesk {
  readonly #o: LoginDeskOptions;
  readonly #codes = new Map<string, Code>();
  readonly #refreshTokens = new Map<string, Refresh>();
  readonly #scripts: Script[] = [];
  #count = 0;

  constructor(options: LoginDeskOptions) {
    this.#o = options;
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

  /** Approves an authorization request at once (no user to ask) and redirects. */
  authorize(url: URL): Response {
    const query = url.searchParams;
    const clientId = query.get("client_id");
    const redirectUri = query.get("redirect_uri");
    // An unchecked redirect URI is never redirected to
    // ([RFC 6749 §4.1.2.1](https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2.1)):
    // this stand-in accepts loopback ones only
    // ([RFC 8252 §7.3](https://www.rfc-editor.org/rfc/rfc8252#section-7.3)).
    if (redirectUri === null || !isLoopback(redirectUri)) {
      return errorPage("redirect_uri is missing or is not an http: loopback address");
    }
    if (clientId === null || (this.#o.clientId !== undefined && clientId !== this.#o.clientId)) {
      return errorPage("client_id is missing or unknown");
    }
    const responseType = query.get("response_type");
    const inFragment = responseType === "token";
    let state = query.get("state");
    const redirect = (params: Record<string, string>) => {
      const target = new URL(redirectUri);
      const answer = new URLSearchParams(params);
      if (state !== null) answer.set("state", state);
      if (inFragment) target.hash = answer.toString();
      else for (const [name, value] of answer) target.searchParams.append(name, value);
      return new Response(null, {
        status: 302,
        headers: { "Location": target.href, "Cache-Control": "no-store" },
      });
    };
    if (responseType !== "token" && responseType !== "code") {
      return redirect({ error: "unsupported_response_type" });
    }
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
    if (responseType === "token") {
      const members = this.#o.issue(scope);
      return redirect(Object.fromEntries(Object.entries(members).map(([k, v]) => [k, String(v)])));
    }
    const challenge = query.get("code_challenge");
    if (query.get("code_challenge_method") !== "S256" || !challenge) {
      return redirect({
        error: "invalid_request",
        error_description: "PKCE with code_challenge_method=S256 is required",
      });
    }
    const code = `code-${++this.#count}-${crypto.randomUUID()}`;
    this.#codes.set(code, {
      clientId,
      redirectUri,
      challenge,
      scope,
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
    return this.#withRefreshToken(clientId, code.scope);
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
    if (!this.#o.rotateRefreshTokens) return json(this.#o.issue(scope));
    refresh.revoked = true;
    return this.#withRefreshToken(clientId, scope);
  }

  #withRefreshToken(clientId: string, scope: string | null): Response {
    const refreshToken = `rt-${++this.#count}-${crypto.randomUUID()}`;
    this.#refreshTokens.set(refreshToken, { clientId, scope, revoked: false });
    return json({ ...this.#o.issue(scope), refresh_token: refreshToken });
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

function errorPage(reason: string): Response {
  return new Response(`Cannot authorize: ${reason}`, {
    status: 400,
    headers: { "Content-Type": "text/plain; charset=utf-8" },
  });
}
