// The stand-in server's access tokens: opaque, issued with a lifetime on the server's clock,
// revoked by the test (`AuthServer.revoke`) or at the revocation endpoint; bound to a DPoP key
// when the token request carried a proof ([RFC 9449 §5](https://www.rfc-editor.org/rfc/rfc9449#section-5)).

interface Issued {
  expiresAt?: number;
  revoked: boolean;
  /** The thumbprint of the DPoP key the token is bound to. */
  jkt?: string;
}

/** The access tokens a server issued, and whether it accepts each now. */
export class IssuedTokens {
  readonly #issued = new Map<string, Issued>();
  /** The DPoP-bound refresh tokens (of any desk), and their key's thumbprint. */
  readonly #boundRefreshTokens = new Map<string, string>();
  readonly #now: () => number;
  readonly #expiresIn: () => number | null;
  #count = 0;

  /**
   * @param now The server's clock, epoch milliseconds.
   * @param expiresIn The lifetime of the next tokens in seconds, or `null` to leave it out.
   */
  constructor(now: () => number, expiresIn: () => number | null) {
    this.#now = now;
    this.#expiresIn = expiresIn;
  }

  /** The tokens issued so far, in order. */
  get list(): string[] {
    return [...this.#issued.keys()];
  }

  /**
   * Issues an access token: the members of its token response.
   *
   * @param scope The scope granted, or `null` to leave it out.
   */
  issue(scope: string | null): Record<string, unknown> {
    const expiresIn = this.#expiresIn();
    const accessToken = `at-${++this.#count}-${crypto.randomUUID()}`;
    const issued: Issued = { revoked: false };
    const body: Record<string, unknown> = { access_token: accessToken, token_type: "Bearer" };
    if (expiresIn !== null) {
      body.expires_in = expiresIn;
      if (expiresIn > 0) issued.expiresAt = this.#now() + expiresIn * 1000;
    }
    if (scope !== null) body.scope = scope;
    this.#issued.set(accessToken, issued);
    return body;
  }

  /** Whether `token` was issued here, is not revoked, and has not expired. */
  accepts(token: string): boolean {
    const issued = this.#issued.get(token);
    if (!issued || issued.revoked) return false;
    return issued.expiresAt === undefined || this.#now() < issued.expiresAt;
  }

  /** The thumbprint of the DPoP key `token` is bound to, or `undefined` for a bearer token. */
  binding(token: string): string | undefined {
    return this.#issued.get(token)?.jkt;
  }

  /** The thumbprint of the DPoP key a refresh token is bound to, or `undefined`. */
  refreshBinding(refreshToken: string): string | undefined {
    return this.#boundRefreshTokens.get(refreshToken);
  }

  /**
   * Binds the tokens of a successful token response to a DPoP key (RFC 9449 §5): the access
   * token, whose `token_type` becomes `DPoP`, and, for a public client, the refresh token
   * (confidential clients' are bound to the client by its authentication, as §5 says).
   *
   * @param response A token response of any grant.
   * @param jkt The thumbprint of the proof's key; `undefined` leaves the response as it is.
   * @param publicClient Whether the client authenticated with `none`.
   * @returns The response, rewritten when something was bound.
   */
  async bind(
    response: Response,
    jkt: string | undefined,
    publicClient: boolean,
  ): Promise<Response> {
    if (jkt === undefined || response.status !== 200) return response;
    const body = await response.json() as Record<string, unknown>;
    const issued = typeof body.access_token === "string"
      ? this.#issued.get(body.access_token)
      : undefined;
    if (issued) {
      issued.jkt = jkt;
      if (body.token_type === "Bearer") body.token_type = "DPoP";
    }
    if (publicClient && typeof body.refresh_token === "string") {
      this.#boundRefreshTokens.set(body.refresh_token, jkt);
    }
    const headers = new Headers(response.headers);
    headers.delete("Content-Length");
    return Response.json(body, { status: response.status, headers });
  }

  /**
   * Revokes a token, or every one.
   *
   * @returns Whether `token` is one issued here.
   */
  revoke(token?: string): boolean {
    if (token === undefined) { for (const issued of this.#issued.values()) issued.revoked = true; }
    const issued = token === undefined ? undefined : this.#issued.get(token);
    if (issued) issued.revoked = true;
    return issued !== undefined;
  }
}
