// The stand-in protected resource: `/resource` and below, the custom routes, and 404 for the
// rest. It takes bearer tokens ([RFC 6750 §2.1](https://www.rfc-editor.org/rfc/rfc6750#section-2.1))
// and DPoP-bound ones with their proof ([RFC 9449 §7](https://www.rfc-editor.org/rfc/rfc9449#section-7)),
// for it: of its audience ([RFC 8707 §2](https://www.rfc-editor.org/rfc/rfc8707#section-2)) and with
// the scope it requires ([RFC 6750 §3.1](https://www.rfc-editor.org/rfc/rfc6750#section-3.1)); its
// challenges name its metadata when it has some (in _protected_resource_route.ts).

import { DPOP_ALGORITHMS, type DpopCheck } from "./_dpop_check.ts";
import { covers, type IssuedTokens } from "./_issued_tokens.ts";
import { notFound } from "./_plain_routes.ts";
import {
  missingScopes,
  resourceIdentifier,
  withResourceChallenge,
} from "./_protected_resource_route.ts";
import type { AuthServer } from "./auth_server.ts";
import type { AuthServerOptions } from "./auth_server_options.ts";
import type { RecordedRequest, RouteHandler } from "./recorded_request.ts";

/** What the resource reads of the server, at each request. */
type ResourceServer = Pick<
  AuthServer,
  "resourceRequests" | "resourceDelay" | "requiredScope" | "resourceUrl" | "resourceMetadataUrl"
>;

/** The `Authorization` schemes the resource takes, and the token. */
const AUTHORIZATION = /^(Bearer|DPoP) (\S+)$/i;

/** Answers resource requests, custom routes and unknown paths. */
export class ResourceDesk {
  readonly #options: AuthServerOptions;
  readonly #server: ResourceServer;
  readonly #tokens: IssuedTokens;
  readonly #dpop: DpopCheck;
  readonly #wait: (ms: number) => Promise<void>;
  readonly #routes = new Map<string, RouteHandler>();

  /**
   * @param options The server's options: `protectedResource`.
   * @param server Where requests are recorded, the delay before each answer and the scope
   *   required (read at each), the resource's URL and its metadata's.
   * @param tokens The issued tokens, their bindings, scopes and audiences.
   * @param dpop The DPoP proof checks.
   * @param wait Waits some milliseconds, or less when the server closes.
   */
  constructor(
    options: AuthServerOptions,
    server: ResourceServer,
    tokens: IssuedTokens,
    dpop: DpopCheck,
    wait: (ms: number) => Promise<void>,
  ) {
    this.#options = options;
    this.#server = server;
    this.#tokens = tokens;
    this.#dpop = dpop;
    this.#wait = wait;
  }

  /** Serves `handler` at `path` (exact match), instead of the resource. */
  route(path: string, handler: RouteHandler): void {
    this.#routes.set(path, handler);
  }

  /**
   * Records a request and answers it: a custom route's handler (after the token and a verified
   * DPoP proof are recorded: the handler decides), 404 for an unknown path, else the resource.
   *
   * @param request The request; its body is already in `recorded.body`.
   * @param url Its URL, parsed.
   * @param recorded The record to complete and keep.
   */
  async handle(request: Request, url: URL, recorded: RecordedRequest): Promise<Response> {
    const [, scheme, token] = AUTHORIZATION.exec(request.headers.get("authorization") ?? "") ?? [];
    const dpop = scheme?.toLowerCase() === "dpop";
    if (token !== undefined) recorded.token = token;
    this.#server.resourceRequests.push(recorded);
    const route = this.#routes.get(url.pathname);
    if (!route && url.pathname !== "/resource" && !url.pathname.startsWith("/resource/")) {
      return notFound(url.pathname);
    }
    const delay = this.#server.resourceDelay;
    if (delay > 0) await this.#wait(delay);
    if (route) {
      if (dpop) await this.#dpop.verify(recorded, "resource", token);
      return await route(request, recorded);
    }
    const required = this.#server.requiredScope;
    const answer = token === undefined
      ? bearerRefusal()
      : (dpop ? await this.#dpopToken(recorded, token) : this.#bearerToken(token)) ??
        this.#forThisResource(url, token, dpop, required);
    if (answer) return withResourceChallenge(answer, this.#options, this.#server, required);
    return this.#dpop.withNonce(
      Response.json({
        method: request.method,
        path: url.pathname,
        bytes: recorded.body.byteLength,
      }),
      "resource",
    );
  }

  /**
   * A valid token must be for this resource: its audience, when it has one, names the URL
   * requested (or a prefix of it at a `/`) or the resource identifier (RFC 8707 §2); and it
   * must have every scope required (RFC 6750 §3.1).
   *
   * @returns The refusal, or `undefined` to serve the request.
   */
  #forThisResource(
    url: URL,
    token: string,
    dpop: boolean,
    required: string | undefined,
  ): Response | undefined {
    const audience = this.#tokens.audienceOf(token);
    const targets = [
      `${url.origin}${url.pathname}`,
      resourceIdentifier(this.#options, this.#server.resourceUrl),
    ];
    if (audience && !audience.some((a) => targets.some((target) => covers(a, target)))) {
      const description = "wrong audience";
      return dpop
        ? this.#dpop.resourceRefusal("invalid_token", description)
        : bearerRefusal(description);
    }
    if (required === undefined) return undefined;
    const missing = missingScopes(required, this.#tokens.scopeOf(token));
    if (missing.length === 0) return undefined;
    const error = "insufficient_scope";
    const description = `The access token lacks the scope ${missing.join(" ")}`;
    const challenge = dpop
      ? `DPoP error="${error}", scope="${required}", algs="${DPOP_ALGORITHMS.join(" ")}"`
      : `Bearer error="${error}", scope="${required}"`;
    return this.#dpop.withNonce(
      Response.json({ error, error_description: description }, {
        status: 403,
        headers: { "WWW-Authenticate": challenge },
      }),
      "resource",
    );
  }

  /**
   * A token sent with the Bearer scheme: it must be valid, and not DPoP-bound (RFC 9449 §7.2).
   *
   * @returns The refusal, or `undefined` to serve the request.
   */
  #bearerToken(token: string): Response | undefined {
    if (!this.#tokens.accepts(token)) return bearerRefusal();
    if (this.#tokens.binding(token) === undefined) return undefined;
    return this.#dpop.resourceRefusal(
      "invalid_token",
      "The access token is DPoP-bound: send it with the DPoP scheme and a proof",
    );
  }

  /**
   * A token sent with the DPoP scheme (RFC 9449 §7.1): the proof is checked first (its nonce
   * included), then the token, then that the proof's key is the token's.
   *
   * @returns The refusal, or `undefined` to serve the request.
   */
  async #dpopToken(recorded: RecordedRequest, token: string): Promise<Response | undefined> {
    const [dpop, tokens] = [this.#dpop, this.#tokens];
    const outcome = await dpop.verify(recorded, "resource", token);
    if (outcome === undefined) {
      return dpop.resourceRefusal("invalid_dpop_proof", "Invalid DPoP proof: none was sent");
    }
    if ("refusal" in outcome) {
      return dpop.resourceRefusal(outcome.refusal.error, outcome.refusal.description);
    }
    if (!tokens.accepts(token)) {
      return dpop.resourceRefusal(
        "invalid_token",
        "The access token is unknown, revoked or expired",
      );
    }
    const jkt = tokens.binding(token);
    if (jkt === undefined) {
      return dpop.resourceRefusal(
        "invalid_token",
        "The access token is a bearer token, not DPoP-bound: send it with the Bearer scheme",
      );
    }
    if (jkt !== outcome.proof.jkt) {
      return dpop.resourceRefusal("invalid_token", "The access token is bound to another DPoP key");
    }
    return undefined;
  }
}

/** The refusal of a missing or invalid bearer token (RFC 6750 §3.1), and why when told. */
function bearerRefusal(description?: string): Response {
  const error = "invalid_token";
  if (description === undefined) {
    const headers = { "WWW-Authenticate": `Bearer error="${error}"` };
    return Response.json({ error }, { status: 401, headers });
  }
  const headers = {
    "WWW-Authenticate": `Bearer error="${error}", error_description="${description}"`,
  };
  return Response.json({ error, error_description: description }, { status: 401, headers });
}
