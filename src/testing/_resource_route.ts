// The stand-in protected resource: `/resource` and below, the custom routes, and 404 for the
// rest. It takes bearer tokens ([RFC 6750 §2.1](https://www.rfc-editor.org/rfc/rfc6750#section-2.1))
// and DPoP-bound ones with their proof ([RFC 9449 §7](https://www.rfc-editor.org/rfc/rfc9449#section-7)).

import type { DpopCheck } from "./_dpop_check.ts";
import type { IssuedTokens } from "./_issued_tokens.ts";
import { notFound } from "./_plain_routes.ts";
import type { AuthServer } from "./auth_server.ts";
import type { RecordedRequest, RouteHandler } from "./recorded_request.ts";

/** The `Authorization` schemes the resource takes, and the token. */
const AUTHORIZATION = /^(Bearer|DPoP) (\S+)$/i;

/** Answers resource requests, custom routes and unknown paths. */
export class ResourceDesk {
  readonly #server: Pick<AuthServer, "resourceRequests" | "resourceDelay">;
  readonly #tokens: IssuedTokens;
  readonly #dpop: DpopCheck;
  readonly #wait: (ms: number) => Promise<void>;
  readonly #routes = new Map<string, RouteHandler>();

  /**
   * @param server Where requests are recorded, and the delay before each answer (read at each).
   * @param tokens The issued tokens and their bindings.
   * @param dpop The DPoP proof checks.
   * @param wait Waits some milliseconds, or less when the server closes.
   */
  constructor(
    server: Pick<AuthServer, "resourceRequests" | "resourceDelay">,
    tokens: IssuedTokens,
    dpop: DpopCheck,
    wait: (ms: number) => Promise<void>,
  ) {
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
    if (token === undefined) return bearerRefusal();
    const answer = dpop ? await this.#dpopToken(recorded, token) : this.#bearerToken(token);
    return answer ?? this.#dpop.withNonce(
      Response.json({
        method: request.method,
        path: url.pathname,
        bytes: recorded.body.byteLength,
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

/** Today's refusal of a missing or invalid bearer token (RFC 6750 §3.1). */
function bearerRefusal(): Response {
  const headers = { "WWW-Authenticate": 'Bearer error="invalid_token"' };
  return Response.json({ error: "invalid_token" }, { status: 401, headers });
}
