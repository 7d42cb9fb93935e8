// The stand-in server's access tokens: opaque, issued with a lifetime on the server's clock,
// revoked by the test (`AuthServer.revoke`) or at the revocation endpoint; bound to a DPoP key
// when the token request carried a proof ([RFC 9449 §5](https://www.rfc-editor.org/rfc/rfc9449#section-5));
// each knows its scope and the audience its `resource` parameters asked for
// ([RFC 8707 §2](https://www.rfc-editor.org/rfc/rfc8707#section-2)).

interface Issued {
  expiresAt?: number;
  revoked: boolean;
  /** The thumbprint of the DPoP key the token is bound to. */
  jkt?: string;
  /** The scope granted, space-separated, or `null` for none. */
  scope: string | null;
  /** The resources the token is for (RFC 8707); empty for any. */
  audience: string[];
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
   * @param audience The resources the token is for (checked with {@linkcode targetProblem});
   *   none: any.
   */
  issue(scope: string | null, audience: readonly string[] = []): Record<string, unknown> {
    const expiresIn = this.#expiresIn();
    const accessToken = `at-${++this.#count}-${crypto.randomUUID()}`;
    const issued: Issued = { revoked: false, scope, audience: [...audience] };
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

  /** The scope `token` was granted, or `null` (none, or an unknown token). */
  scopeOf(token: string): string | null {
    return this.#issued.get(token)?.scope ?? null;
  }

  /** The resources `token` is for, or `undefined` for an unknown token or one for any resource. */
  audienceOf(token: string): string[] | undefined {
    const audience = this.#issued.get(token)?.audience;
    return audience === undefined || audience.length === 0 ? undefined : [...audience];
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

/**
 * Why `resource` parameters cannot name a target, if they cannot: each must be an absolute URI
 * without a fragment ([RFC 8707 §2](https://www.rfc-editor.org/rfc/rfc8707#section-2)).
 *
 * @returns The `error_description` of the `invalid_target` answer, or `undefined`.
 */
export function targetProblem(resources: readonly string[]): string | undefined {
  for (const resource of resources) {
    const url = URL.parse(resource);
    if (url === null || url.hash !== "" || resource.includes("#")) {
      return `resource ${JSON.stringify(resource)} is not an absolute URI without a fragment`;
    }
  }
  return undefined;
}

/**
 * The audience of a token issued from an earlier grant (a code, a refresh token, a device
 * code) whose authorization named `granted`, when the token request names `asked`: the
 * request may narrow the audience, not widen it (RFC 8707 §2.2).
 *
 * @returns The audience, or the `invalid_target` description.
 */
export function narrowAudience(
  granted: readonly string[],
  asked: readonly string[],
): { audience: string[] } | { refusal: string } {
  if (asked.length === 0) return { audience: [...granted] };
  if (granted.length === 0) return { audience: [...asked] };
  const other = asked.find((resource) => !granted.includes(resource));
  return other === undefined
    ? { audience: [...asked] }
    : { refusal: `resource ${JSON.stringify(other)} was not part of the authorization` };
}

/**
 * Whether an audience value names `target`: the same URL, or a prefix of it at a path
 * segment boundary (`https://api.example/a` covers `https://api.example/a/b`).
 */
export function covers(audience: string, target: string): boolean {
  if (audience === target) return true;
  return target.startsWith(audience.endsWith("/") ? audience : `${audience}/`);
}
