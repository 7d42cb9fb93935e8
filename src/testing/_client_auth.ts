// How the stand-in token and revocation endpoints authenticate a client: HTTP Basic with
// form-encoded parts, or client_id and client_secret in the form
// ([RFC 6749 §2.3.1](https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1)), or a signed JWT
// ([RFC 7523 §2.2](https://www.rfc-editor.org/rfc/rfc7523#section-2.2),
// [OpenID Connect Core §9](https://openid.net/specs/openid-connect-core-1_0.html#ClientAuthentication));
// a client registered at `/register` by its registered method
// ([RFC 7591 §2](https://www.rfc-editor.org/rfc/rfc7591#section-2)).

import { checkClaims, decodeJwt, KeyRing } from "./_jwt_verify.ts";
import type { ClientRegistry } from "./_registration_route.ts";
import type { AuthServerOptions } from "./auth_server_options.ts";
import type { RecordedRequest } from "./recorded_request.ts";

const ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/** The client id and secret of a token request, from Basic or the form. */
export function clientCredentials(
  recorded: RecordedRequest,
): { id: string | null; secret: string | null } {
  let id = recorded.form.get("client_id");
  let secret = recorded.form.get("client_secret");
  const basic = basicCredentials(recorded);
  if (basic !== undefined) {
    const decoded = new TextDecoder().decode(Uint8Array.from(atob(basic), (c) => c.charCodeAt(0)));
    const colon = decoded.indexOf(":");
    const form = (s: string) => new URLSearchParams(`v=${s}`).get("v");
    id = form(decoded.slice(0, colon));
    secret = form(decoded.slice(colon + 1));
  }
  return { id, secret };
}

function basicCredentials(recorded: RecordedRequest): string | undefined {
  return /^Basic (\S+)$/i.exec(recorded.headers.get("authorization") ?? "")?.[1];
}

/** What the server knows to check an assertion's `aud` and time claims. */
export interface AssertionContext {
  issuer: string;
  tokenEndpoint: string;
  now(): number;
  /** The `iss` and `jti` pairs seen, for replay. */
  seen: Set<string>;
}

/**
 * The `aud` values an assertion sent to `endpoint` may carry, by the
 * `assertionAudience` option, and how a failure names them.
 */
export function audiences(
  rule: AuthServerOptions["assertionAudience"],
  context: AssertionContext,
  endpoint: string,
): { audiences: string[]; audienceName: string } {
  const { issuer, tokenEndpoint } = context;
  if (rule === "issuer") return { audiences: [issuer], audienceName: "the issuer" };
  if (rule === "token_endpoint") {
    return { audiences: [tokenEndpoint], audienceName: "the token endpoint" };
  }
  if (rule === "endpoint") {
    return { audiences: [endpoint], audienceName: "the endpoint requested" };
  }
  return {
    audiences: [...new Set([issuer, tokenEndpoint, endpoint])],
    audienceName: endpoint === tokenEndpoint
      ? "the issuer or the token endpoint"
      : "the issuer, the token endpoint or the endpoint requested",
  };
}

/** The client authentication methods a server accepts and advertises when not told. */
export function defaultMethods({ clientKeys, clientSecret }: AuthServerOptions): string[] {
  const keys = (clientKeys?.length ?? 0) > 0;
  // No credentials registered: anything goes, as before keys existed.
  if (!keys && clientSecret === undefined) {
    return ["none", "client_secret_basic", "client_secret_post"];
  }
  return [
    ...(clientSecret === undefined
      ? []
      : ["client_secret_basic", "client_secret_post", "client_secret_jwt"]),
    ...(keys ? ["private_key_jwt"] : []),
  ];
}

/** Authenticates the clients of a server, by its options. */
export class ClientAuthenticator {
  readonly #options: AuthServerOptions;
  readonly #context: AssertionContext;
  readonly #methods: string[];
  readonly #registry: ClientRegistry;
  #keys = KeyRing.empty;
  #secret = KeyRing.empty;

  /**
   * @param options The client's id, secret, keys and methods.
   * @param server The issuer and token endpoint, for `aud`.
   * @param now The server's clock, epoch milliseconds.
   * @param registry The clients registered at `/register`.
   */
  constructor(
    options: AuthServerOptions,
    { issuer, tokenEndpoint }: { issuer: string; tokenEndpoint: string },
    now: () => number,
    registry: ClientRegistry,
  ) {
    this.#options = options;
    this.#registry = registry;
    this.#context = { issuer, tokenEndpoint, now, seen: new Set() };
    this.#methods = options.clientAuthMethods ?? defaultMethods(options);
  }

  /** The issuer, token endpoint, clock and `jti`s seen: shared with the JWT bearer grant. */
  get context(): AssertionContext {
    return this.#context;
  }

  /** Imports the registered keys; the server waits for this before it is used. */
  async import(): Promise<void> {
    this.#keys = await KeyRing.import(this.#options.clientKeys ?? [], "clientKeys");
    const secret = this.#options.clientSecret;
    if (secret !== undefined && secret !== "") {
      this.#secret = await KeyRing.import([secret], "clientSecret");
    }
  }

  /** The methods accepted, for the metadata. */
  get methods(): string[] {
    return this.#methods;
  }

  /** The algorithms of client assertions that can verify, for the metadata. */
  get algorithms(): string[] {
    return [...this.#keys.algorithms, ...this.#secret.algorithms];
  }

  /**
   * Authenticates the client of a request to `endpoint`, and records how.
   *
   * @returns The client id (from the credentials, or `null`), or the
   * `invalid_client` answer ([RFC 6749 §5.2](https://www.rfc-editor.org/rfc/rfc6749#section-5.2)).
   */
  async authenticate(
    recorded: RecordedRequest,
    endpoint: string,
  ): Promise<{ clientId: string | null; error?: Response }> {
    const { form } = recorded;
    if (!form.has("client_assertion") && !form.has("client_assertion_type")) {
      return this.#secretAuthentication(recorded);
    }
    const fail = (reason: string) => ({
      clientId: null,
      error: Response.json({
        error: "invalid_client",
        error_description: `Client assertion rejected: ${reason}`,
      }, { status: 401 }),
    });
    // Recorded first, so that a test sees what was sent even when a check fails.
    const assertion = form.get("client_assertion") ?? "";
    const jwt = decodeJwt(assertion);
    const method = jwt?.header.alg === "HS256" ? "client_secret_jwt" : "private_key_jwt";
    recorded.clientAuthMethod = method;
    if (jwt !== undefined) recorded.clientAssertion = jwt;
    if (basicCredentials(recorded) !== undefined || form.has("client_secret")) {
      // RFC 6749 §2.3: one authentication method per request.
      return fail("the request also carries a client secret");
    }
    if (form.get("client_assertion_type") !== ASSERTION_TYPE) {
      return fail(`"client_assertion_type" is not ${ASSERTION_TYPE}`);
    }
    if (jwt === undefined) return fail('"client_assertion" is not a JWT (a compact JWS)');
    if (!this.#methods.includes(method)) return fail(`${method} is not accepted here`);
    const { iss, sub } = jwt.claims;
    if (typeof iss !== "string" || iss !== sub) {
      return fail('"iss" and "sub" must both be the client id');
    }
    const registered = this.#registry.lookUp(iss);
    if (registered !== undefined) {
      return fail(
        registered === "forgotten"
          ? "the client is unknown"
          : `the client registered ${registered.method}`,
      );
    }
    const { clientId } = this.#options;
    if (clientId !== undefined && iss !== clientId) return fail(`"iss" is not the client id`);
    if (form.has("client_id") && form.get("client_id") !== iss) {
      return fail('"client_id" differs from the assertion\'s "iss"');
    }
    const keys = method === "client_secret_jwt" ? this.#secret : this.#keys;
    const signature = await keys.verify(assertion, jwt.header);
    if (signature !== undefined) return fail(signature);
    const claims = checkClaims(jwt.claims, {
      ...audiences(this.#options.assertionAudience, this.#context, endpoint),
      now: this.#context.now(),
      requireJti: true, // OpenID Connect Core §9
      seen: this.#context.seen,
    });
    if (claims !== undefined) return fail(claims);
    return { clientId: iss };
  }

  #secretAuthentication(recorded: RecordedRequest): { clientId: string | null; error?: Response } {
    const { id, secret } = clientCredentials(recorded);
    const method = basicCredentials(recorded) !== undefined
      ? "client_secret_basic"
      : secret !== null
      ? "client_secret_post"
      : "none";
    recorded.clientAuthMethod = method;
    const fail = (why?: string) => ({
      clientId: id,
      error: Response.json(
        {
          error: "invalid_client",
          error_description: `Client authentication failed${why === undefined ? "" : `: ${why}`}`,
        },
        { status: 401, headers: { "WWW-Authenticate": 'Basic realm="token"' } },
      ),
    });
    const registered = this.#registry.lookUp(id);
    if (registered === "forgotten") return fail("the client is unknown");
    if (registered !== undefined) {
      // A registered client authenticates by the method it registered, with its secret.
      if (method !== registered.method) return fail(`the client registered ${registered.method}`);
      return secret === (registered.secret ?? null) ? { clientId: id } : fail();
    }
    const { clientId, clientSecret } = this.#options;
    const idOk = clientId === undefined || id === clientId;
    const secretOk = clientSecret === undefined || secret === clientSecret;
    if (this.#methods.includes(method) && idOk && secretOk) return { clientId: id };
    return fail(this.#methods.includes(method) ? undefined : `${method} is not accepted here`);
  }
}
