// The stand-in token endpoint's grants: client credentials
// ([RFC 6749 §4.4](https://www.rfc-editor.org/rfc/rfc6749#section-4.4)), the browser login's
// (in _authorization.ts), the JWT bearer grant
// ([RFC 7523 §2.1](https://www.rfc-editor.org/rfc/rfc7523#section-2.1)) and token exchange
// ([RFC 8693 §2](https://www.rfc-editor.org/rfc/rfc8693#section-2)); every grant's tokens are
// DPoP-bound when the request carries a proof ([RFC 9449 §5](https://www.rfc-editor.org/rfc/rfc9449#section-5)),
// and for the resources its `resource` parameters name ([RFC 8707 §2](https://www.rfc-editor.org/rfc/rfc8707#section-2)).

import type { LoginDesk } from "./_authorization.ts";
import { type AssertionContext, audiences } from "./_client_auth.ts";
import { DpopCheck } from "./_dpop_check.ts";
import { type IssuedTokens, targetProblem } from "./_issued_tokens.ts";
import { checkClaims, decodeJwt, KeyRing } from "./_jwt_verify.ts";
import type { AuthServerOptions } from "./auth_server_options.ts";
import type { RecordedRequest } from "./recorded_request.ts";

const JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token";

/** Answers token requests, by their `grant_type`. */
export class GrantDesk {
  /** The server's DPoP state, checked here first and shared with the resource. */
  readonly dpop: DpopCheck;
  readonly #options: AuthServerOptions;
  readonly #context: AssertionContext;
  readonly #logins: LoginDesk;
  readonly #tokens: IssuedTokens;
  readonly #issuers = new Map<string, KeyRing>();

  /**
   * @param options The assertion issuers and audience rule.
   * @param context The issuer, token endpoint, clock and `jti`s seen (the client authenticator's).
   * @param logins The browser login's grants.
   * @param tokens Where access tokens are issued.
   */
  constructor(
    options: AuthServerOptions,
    context: AssertionContext,
    logins: LoginDesk,
    tokens: IssuedTokens,
  ) {
    this.#options = options;
    this.#context = context;
    this.#logins = logins;
    this.#tokens = tokens;
    this.dpop = new DpopCheck(options, context.now);
  }

  /** Imports the keys of the assertion issuers; the server waits for this before it is used. */
  async import(): Promise<void> {
    const issuers = this.#options.assertionIssuers ?? {};
    if (typeof issuers !== "object" || issuers === null) {
      throw new TypeError('Cannot start the AuthServer: "assertionIssuers" must be an object');
    }
    for (const [issuer, keys] of Object.entries(issuers)) {
      this.#issuers.set(issuer, await KeyRing.import(keys, `assertionIssuers.${issuer}`));
    }
  }

  /**
   * Answers a token request whose client was authenticated. A `DPoP` proof is checked first
   * ([RFC 9449 §4.3](https://www.rfc-editor.org/rfc/rfc9449#section-4.3)), before a code or a
   * refresh token is used up, so that a nonce retry finds them still valid; a DPoP-bound refresh
   * token needs a proof by its key (§5).
   *
   * @param recorded The request, recorded; a JWT bearer grant's assertion and the verified
   *   proof are added.
   * @param clientId The authenticated client, or `null`.
   * @param other A desk of its own for some grants (the device grant's): its answer, if any.
   */
  async grant(
    recorded: RecordedRequest,
    clientId: string | null,
    other: () => Response | undefined = () => undefined,
  ): Promise<Response> {
    return this.dpop.withNonce(await this.#bound(recorded, clientId, other), "token");
  }

  async #bound(
    recorded: RecordedRequest,
    clientId: string | null,
    other: () => Response | undefined,
  ): Promise<Response> {
    const outcome = await this.dpop.verify(recorded, "token");
    if (outcome && "refusal" in outcome) return this.dpop.tokenRefusal(outcome.refusal);
    const jkt = outcome?.proof.jkt;
    const { form } = recorded;
    const target = targetProblem(form.getAll("resource"));
    if (target !== undefined) return error("invalid_target", target);
    const bound = form.get("grant_type") === "refresh_token"
      ? this.#tokens.refreshBinding(form.get("refresh_token") ?? "")
      : undefined;
    if (bound !== undefined && bound !== jkt) {
      return error(
        "invalid_grant",
        jkt === undefined
          ? "The refresh token is DPoP-bound: a DPoP proof by its key is required"
          : "The refresh token is bound to another DPoP key",
      );
    }
    const response = other() ?? await this.#byType(recorded, clientId);
    return await this.#tokens.bind(response, jkt, recorded.clientAuthMethod === "none");
  }

  async #byType(recorded: RecordedRequest, clientId: string | null): Promise<Response> {
    const { form } = recorded;
    switch (form.get("grant_type")) {
      case "client_credentials":
        return json(this.#tokens.issue(form.get("scope"), form.getAll("resource")));
      case "authorization_code":
        return await this.#logins.exchange(form, clientId);
      case "refresh_token":
        return this.#logins.refresh(form, clientId);
      case JWT_BEARER:
        return await this.#jwtBearer(recorded);
      case TOKEN_EXCHANGE:
        return this.#tokenExchange(form);
      default:
        return error("unsupported_grant_type");
    }
  }

  /**
   * RFC 7523 §2.1 and §3: the assertion's `iss` must be registered, its
   * signature verify with that issuer's keys, and its `aud`, `exp`, `nbf`,
   * `iat` and `jti` pass; else `invalid_grant` (§3.1). `sub` is not required,
   * as Google's assertions go without it. The scope is the form's, else the
   * assertion's `scope` claim (Google's).
   */
  async #jwtBearer(recorded: RecordedRequest): Promise<Response> {
    const { form } = recorded;
    const assertion = form.get("assertion");
    if (!assertion) return error("invalid_request", '"assertion" is missing');
    const fail = (reason: string) => error("invalid_grant", `Assertion rejected: ${reason}`);
    const jwt = decodeJwt(assertion);
    if (jwt === undefined) return fail('"assertion" is not a JWT (a compact JWS)');
    recorded.assertion = jwt;
    const { iss, scope } = jwt.claims;
    const keys = typeof iss === "string" ? this.#issuers.get(iss) : undefined;
    if (keys === undefined) return fail(`"iss" ${JSON.stringify(iss)} is not a registered issuer`);
    const signature = await keys.verify(assertion, jwt.header);
    if (signature !== undefined) return fail(signature);
    const context = this.#context;
    const claims = checkClaims(jwt.claims, {
      ...audiences(this.#options.assertionAudience, context, context.tokenEndpoint),
      now: context.now(),
      requireJti: false,
      seen: context.seen,
    });
    if (claims !== undefined) return fail(claims);
    return json(
      this.#tokens.issue(
        form.get("scope") ?? (typeof scope === "string" ? scope : null),
        form.getAll("resource"),
      ),
    );
  }

  /**
   * RFC 8693 §2.1: `subject_token` and its type are required, `actor_token`
   * and its type go together. A token of type `access_token` must be one this
   * server issued and accepts; others are taken as they are. Every failure is
   * `invalid_request` (§2.2.2). The new token is an access token of this
   * server; `issued_token_type` echoes `requested_token_type` (default: access token).
   */
  #tokenExchange(form: URLSearchParams): Response {
    const invalid = (description: string) => error("invalid_request", description);
    const subject = form.get("subject_token");
    const subjectType = form.get("subject_token_type");
    const actor = form.get("actor_token");
    const actorType = form.get("actor_token_type");
    if (!subject) return invalid('"subject_token" is missing');
    if (!subjectType) return invalid('"subject_token_type" is missing');
    if (actor !== null && !actorType) {
      return invalid('"actor_token_type" is missing; it is required with "actor_token"');
    }
    if (actor === null && actorType !== null) {
      return invalid('"actor_token_type" is sent without "actor_token"');
    }
    const tokens = [["subject_token", subject, subjectType], ["actor_token", actor, actorType]];
    for (const [name, token, type] of tokens) {
      if (token && type === ACCESS_TOKEN_TYPE && !this.#tokens.accepts(token)) {
        return invalid(`"${name}" is not an access token this server accepts`);
      }
    }
    const issuedType = form.get("requested_token_type") || ACCESS_TOKEN_TYPE;
    const body = this.#tokens.issue(form.get("scope"), form.getAll("resource"));
    body.issued_token_type = issuedType;
    // RFC 8693 §2.2.1: "N_A" when the token issued is not an access token.
    if (issuedType !== ACCESS_TOKEN_TYPE) body.token_type = "N_A";
    return json(body);
  }
}

function json(body: Record<string, unknown>): Response {
  return Response.json(body, { headers: { "Cache-Control": "no-store" } });
}

function error(code: string, description?: string): Response {
  return Response.json(
    description === undefined ? { error: code } : { error: code, error_description: description },
    { status: 400 },
  );
}
