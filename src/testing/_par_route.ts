// The stand-in server's pushed authorization request endpoint
// ([RFC 9126](https://www.rfc-editor.org/rfc/rfc9126)): `/par` authenticates the client as
// `/token` does, checks the request as `/authorize` would, and keeps it under a one-time
// `request_uri` (§2); `/authorize` takes it back with the `client_id` it was pushed by (§4).

import type { ClientAuthenticator } from "./_client_auth.ts";
import { scripted } from "./_plain_routes.ts";
import type { AuthServerOptions } from "./auth_server_options.ts";
import type { RecordedRequest } from "./recorded_request.ts";

/** The prefix of the `request_uri`s issued ([RFC 9126 §2.2](https://www.rfc-editor.org/rfc/rfc9126#section-2.2)). */
export const REQUEST_URI_PREFIX = "urn:ietf:params:oauth:request_uri:";

/** The default lifetime of a `request_uri`, in seconds. */
const DEFAULT_EXPIRES_IN = 60;

/** The form members that authenticate the push: not part of the authorization request. */
const CLIENT_AUTHENTICATION = ["client_secret", "client_assertion", "client_assertion_type"];

/** Why an authorization request is refused: an RFC 6749 §4.1.2.1 `error` and its description. */
export interface Refusal {
  error: string;
  description: string;
}

/** A pushed request, kept until it is used or expires. */
interface Pushed {
  clientId: string;
  params: URLSearchParams;
  expiresAt: number;
}

/** What the push needs from the server: its PAR endpoint, for `aud`, and its record. */
export interface PushTarget {
  readonly origin: string;
  readonly pushedAuthorizationRequests: RecordedRequest[];
}

/** The pushed requests of a server, and its `/par`. */
export class PushedRequests {
  readonly #options: NonNullable<AuthServerOptions["pushedAuthorizationRequests"]>;
  readonly #now: () => number;
  readonly #requests = new Map<string, Pushed>();

  /**
   * @param options The server's options: `pushedAuthorizationRequests`.
   * @param now The server's clock, for expiry.
   */
  constructor(options: AuthServerOptions, now: () => number) {
    this.#options = options.pushedAuthorizationRequests ?? {};
    this.#now = now;
  }

  /** Whether `/authorize` refuses requests that were not pushed (RFC 9126 §5). */
  get required(): boolean {
    return this.#options.required === true;
  }

  /**
   * Answers a push (RFC 9126 §2.1): the next scripted failure, if any; else
   * the client is authenticated, the request checked by `check`, and kept.
   *
   * @param recorded The request, recorded in `server.pushedAuthorizationRequests` with its form.
   * @param clients Authenticates the client, as at `/token`.
   * @param server The PAR endpoint's origin and the record.
   * @param check Why `/authorize` would refuse these parameters, if it would.
   */
  async push(
    recorded: RecordedRequest,
    clients: ClientAuthenticator,
    server: PushTarget,
    check: (params: URLSearchParams) => Refusal | undefined,
  ): Promise<Response> {
    recorded.form = new URLSearchParams(new TextDecoder().decode(recorded.body));
    server.pushedAuthorizationRequests.push(recorded);
    if (recorded.method !== "POST") {
      return error({ error: "invalid_request", description: "Use POST" }, 405);
    }
    const failure = this.#options.failures?.shift();
    if (failure) return scripted(failure);
    const { form } = recorded;
    const { clientId, error: refused } = await clients.authenticate(
      recorded,
      `${server.origin}/par`,
    );
    if (refused) return refused;
    // §2.1: the client_id of the form, when both are there, is the authenticated one.
    const named = form.get("client_id");
    if (clientId === null || (named !== null && named !== clientId)) {
      return error({
        error: "invalid_request",
        description: "client_id is missing or is not the authenticated client",
      });
    }
    if (form.has("request_uri")) {
      return error({ error: "invalid_request", description: "request_uri cannot be pushed" });
    }
    const params = new URLSearchParams(
      [...form].filter(([name]) => !CLIENT_AUTHENTICATION.includes(name)),
    );
    params.set("client_id", clientId);
    const refusal = check(params);
    if (refusal) return error(refusal);
    const expiresIn = this.#options.expiresIn ?? DEFAULT_EXPIRES_IN;
    const requestUri = `${REQUEST_URI_PREFIX}${crypto.randomUUID()}`;
    this.#requests.set(requestUri, {
      clientId,
      params,
      expiresAt: this.#now() + expiresIn * 1000,
    });
    return Response.json({ request_uri: requestUri, expires_in: expiresIn }, {
      status: 201,
      headers: { "Cache-Control": "no-store" },
    });
  }

  /**
   * Takes back a pushed request at `/authorize` (RFC 9126 §4): once only, on
   * the server's clock, by the client that pushed it, with no other parameter
   * than `client_id` and `request_uri` beside it.
   *
   * @returns The pushed parameters (checked at the push, so their
   *   `redirect_uri` can be trusted), and why they cannot be used if so; no
   *   parameters for an unknown reference, or another client's.
   */
  take(
    query: URLSearchParams,
  ): { params: URLSearchParams; refusal?: Refusal } | { params?: undefined; refusal: Refusal } {
    const requestUri = query.get("request_uri") ?? "";
    const pushed = this.#requests.get(requestUri);
    const invalid = (description: string) => ({ error: "invalid_request_uri", description });
    if (pushed === undefined) return { refusal: invalid("request_uri is unknown or was used") };
    // Not used up: the client that pushed it may still come.
    if (query.get("client_id") !== pushed.clientId) {
      return { refusal: invalid("request_uri was pushed by another client") };
    }
    this.#requests.delete(requestUri); // one-time use (RFC 9126 §7.3)
    const params = new URLSearchParams(pushed.params);
    if (this.#now() >= pushed.expiresAt) {
      return { params, refusal: invalid("request_uri has expired") };
    }
    const others = [...query.keys()].filter((name) =>
      name !== "client_id" && name !== "request_uri"
    );
    if (others.length > 0) {
      const description = `parameters beside request_uri are refused: ${others.join(", ")}`;
      return { params, refusal: { error: "invalid_request", description } };
    }
    return { params };
  }
}

function error({ error, description }: Refusal, status = 400): Response {
  return Response.json({ error, error_description: description }, {
    status,
    headers: { "Cache-Control": "no-store" },
  });
}
