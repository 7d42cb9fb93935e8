// The stand-in server's access tokens: opaque, issued with a lifetime on the server's clock,
// revoked by the test (`AuthServer.revoke`) or at the revocation endpoint.

interface Issued {
  expiresAt?: number;
  revoked: boolean;
}

/** The access tokens a server issued, and whether it accepts each now. */
export class IssuedTokens {
  readonly #issued = new Map<string, Issued>();
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
