/**
 * One browser login on a loopback port
 * ([RFC 8252 §7.3](https://www.rfc-editor.org/rfc/rfc8252#section-7.3)): the authorization
 * request, the browser, the redirect, the timeout; shared by the implicit and the
 * authorization code grants.
 *
 * @module
 */

import { checkDuration, MAX_TIMER_DELAY } from "../_duration.ts";
import { parseEndpointUrl } from "../_endpoint_url.ts";
import type { GrantContext } from "../grant.ts";
import type { AuthorizationServerMetadata } from "../server_metadata.ts";
import type { TokenResult } from "../token_endpoint.ts";
import { TokenError } from "../token_error.ts";
import { errorDetail, parseErrorFields } from "../token_response.ts";
import type { LoopbackListener } from "./_loopback_listener.ts";
import { randomString } from "./_pkce.ts";
import { pushAuthorizationRequest, pushEndpoint, type PushSettings } from "./_pushed_request.ts";
import {
  CALLBACK_PATH,
  checkPortRange,
  DEFAULT_LOGIN_TIMEOUT,
  DEFAULT_PORT_RANGE,
  type LoopbackLoginOptions,
  type PortRange,
} from "./login_options.ts";

/**
 * How much longer than the login a grant may take: the code exchange after
 * it. Sizes the storage lease through `Grant.timeout`.
 */
const EXCHANGE_ALLOWANCE = 60_000;

/**
 * Hands a grant the listener of an installed flow instead of a port range.
 * Not public: only `useImplicitFlow` and its kin share a listener.
 */
export const SHARED_LISTENER: unique symbol = Symbol("alf.sharedListener");

/** {@linkcode LoopbackLoginOptions} as the flows pass them. */
export interface InternalLoginOptions extends LoopbackLoginOptions {
  [SHARED_LISTENER]?: LoopbackListener;
}

/**
 * A browser login: sends the user to the authorization endpoint (pushing the
 * request first when it should) and waits on a loopback listener for the
 * redirect that carries the login's `state` and, when the server names itself,
 * its issuer.
 */
export class BrowserLogin {
  /** How long a login waits, in milliseconds. */
  readonly loginTimeout: number;
  /** How long `Grant.obtain` may take: the login and the exchange after it. */
  readonly grantTimeout: number;
  readonly #endpoint?: URL;
  readonly #openBrowser: (url: string) => void | Promise<void>;
  readonly #portRange: PortRange;
  readonly #listener?: LoopbackListener;
  readonly #push?: PushSettings;

  /**
   * Checks the options.
   *
   * @param grant The grant's class name, for error messages.
   * @param options The login's options.
   * @param push How a grant that can push its requests does
   *   ([RFC 9126](https://www.rfc-editor.org/rfc/rfc9126)); none for one that never pushes.
   * @throws {TypeError} or {RangeError} when an option is malformed.
   */
  constructor(grant: string, options: InternalLoginOptions, push?: PushSettings) {
    if (typeof options !== "object" || options === null) {
      throw new TypeError(`Cannot create the ${grant}: options must be an object`);
    }
    const { authorizationEndpoint, openBrowser, loginTimeout } = options;
    if (authorizationEndpoint !== undefined) {
      this.#endpoint = checkEndpoint(authorizationEndpoint, grant);
    }
    if (openBrowser !== undefined && typeof openBrowser !== "function") {
      throw new TypeError(`Cannot create the ${grant}: "openBrowser" must be a function`);
    }
    this.#openBrowser = openBrowser ?? openSystemBrowser;
    this.loginTimeout = checkDuration(loginTimeout, {
      context: grant,
      option: "loginTimeout",
      fallback: DEFAULT_LOGIN_TIMEOUT,
      min: 1,
    });
    // Still a delay a timer can hold.
    this.grantTimeout = Math.min(this.loginTimeout + EXCHANGE_ALLOWANCE, MAX_TIMER_DELAY);
    this.#portRange = checkPortRange(
      options.portRange ?? DEFAULT_PORT_RANGE,
      `create the ${grant}`,
    );
    this.#listener = options[SHARED_LISTENER];
    this.#push = push;
  }

  /**
   * The redirect URIs of this login's port range (or of the installed flow's
   * listener), for a dynamic registration
   * ([RFC 7591 §2](https://www.rfc-editor.org/rfc/rfc7591#section-2)): one per
   * port; for any free port (`[0, 0]`) or a range of more than 20 ports, the
   * loopback URI without a port, which servers match at any port
   * ([RFC 8252 §7.3](https://www.rfc-editor.org/rfc/rfc8252#section-7.3)).
   */
  redirectUris(): string[] {
    // An installed flow's listener has its port already.
    if (this.#listener) return [this.#listener.redirectUri];
    const [first, last] = this.#portRange;
    if (first === 0 || last - first >= 20) return [`http://127.0.0.1${CALLBACK_PATH}`];
    return Array.from(
      { length: last - first + 1 },
      (_, i) => `http://127.0.0.1:${first + i}${CALLBACK_PATH}`,
    );
  }

  /**
   * Runs one login: listens (unless a flow's listener is shared), pushes the
   * request when it should, opens the browser at the authorization URL, and
   * waits for the redirect, whose `iss` is checked before anything else.
   *
   * @param context The grant's context: endpoint, parameters, client signal.
   * @param request The grant's own authorization request parameters
   * (`response_type`, PKCE challenge).
   * @param complete Turns the redirect's parameters into a token result.
   * @throws {TokenError} when the login fails, times out, or is aborted.
   */
  async run(
    context: GrantContext,
    request: URLSearchParams,
    complete: (answer: URLSearchParams, redirectUri: string) => Promise<TokenResult>,
  ): Promise<TokenResult> {
    const { signal } = context;
    if (signal.aborted) {
      throw new TokenError("Cannot log in: the login was aborted", {
        code: "aborted",
        cause: signal.reason,
      });
    }
    // Loaded on the first login: a program that never logs in does not load them.
    const [{ closedError, LoopbackListener }, { checkResponseIssuer }] = await Promise.all([
      import("./_loopback_listener.ts"),
      import("./_response_issuer.ts"),
    ]);
    if (this.#listener?.closed) throw closedError();
    const metadata = await context.endpoint.metadata(signal);
    const endpoint = this.#endpoint ?? await discoveredEndpoint(context, metadata);
    const discovered = await context.endpoint.endpoint(
      "pushed_authorization_request_endpoint",
      signal,
    );
    const pushTo = pushEndpoint(this.#push, metadata, discovered);
    const listener = this.#listener ?? listen(LoopbackListener, this.#portRange);
    try {
      const redirectUri = listener.redirectUri;
      const state = randomString();
      const url = new URL(endpoint);
      if (pushTo === undefined) {
        addAuthorizationParams(url.searchParams, context, request, redirectUri, state);
      } else {
        // [RFC 9126 §4](https://www.rfc-editor.org/rfc/rfc9126#section-4): the browser carries
        // only the reference; the endpoint's own query is kept, as without a push.
        const params = new URLSearchParams();
        addAuthorizationParams(params, context, request, redirectUri, state);
        const pushed = await pushAuthorizationRequest(context, pushTo, params);
        url.searchParams.set("client_id", context.endpoint.clientId);
        url.searchParams.set("request_uri", pushed.requestUri);
      }
      // A failing launcher ends the login at once rather than at its timeout.
      const launchFailed = new AbortController();
      const result = listener.waitFor(state, (answer) => {
        // A response with the right state but another server's `iss` is this login's own
        // redirect, sent by the wrong server: unlike a stray state, it ends the login.
        checkResponseIssuer(answer, metadata);
        return complete(answer, redirectUri);
      }, {
        timeout: this.loginTimeout,
        signal: AbortSignal.any([signal, launchFailed.signal]),
      });
      this.#launch(url, launchFailed);
      return await result;
    } finally {
      if (listener !== this.#listener) await listener.close();
    }
  }

  #launch(url: URL, failed: AbortController): void {
    const fail = (cause: unknown) => {
      const reason = cause instanceof Error ? cause.message : String(cause);
      failed.abort(
        new TokenError(`Cannot log in: the browser could not be opened: ${reason}`, {
          code: "login_failed",
          cause,
        }),
      );
    };
    try {
      Promise.resolve(this.#openBrowser(url.href)).catch(fail);
    } catch (error) {
      fail(error);
    }
  }
}

/** A listener on the first free port of `range`; none free is a failed login. */
function listen(
  Listener: typeof LoopbackListener,
  range: PortRange,
): LoopbackListener {
  try {
    return new Listener(range);
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) {
      throw new TokenError(error.message, { code: "login_failed", cause: error });
    }
    throw error;
  }
}

/** Opens the system browser, loading its launcher on the first login that needs it. */
async function openSystemBrowser(url: string): Promise<void> {
  const launcher = await import("./_launch_browser.ts");
  await launcher.openSystemBrowser(url);
}

/**
 * Adds the parameters of an authorization request
 * ([RFC 6749 §4.1.1](https://www.rfc-editor.org/rfc/rfc6749#section-4.1.1),
 * [§4.2.1](https://www.rfc-editor.org/rfc/rfc6749#section-4.2.1)) to the endpoint's own query
 * (kept, [§3.1](https://www.rfc-editor.org/rfc/rfc6749#section-3.1)), or to the form of a push.
 */
function addAuthorizationParams(
  params: URLSearchParams,
  context: GrantContext,
  request: URLSearchParams,
  redirectUri: string,
  state: string,
): void {
  params.set("response_type", request.get("response_type")!);
  params.set("client_id", context.endpoint.clientId);
  params.set("redirect_uri", redirectUri);
  for (const [name, value] of context.params) params.append(name, value);
  params.set("state", state);
  for (const [name, value] of request) if (name !== "response_type") params.set(name, value);
}

/**
 * The `authorization_endpoint` of the issuer's metadata, when the client has
 * an issuer; else the token endpoint followed by `/authorize`.
 */
async function discoveredEndpoint(
  context: GrantContext,
  metadata: AuthorizationServerMetadata | undefined,
): Promise<URL> {
  if (metadata?.authorization_endpoint !== undefined) {
    return new URL(metadata.authorization_endpoint);
  }
  return defaultEndpoint(await context.endpoint.resolve(context.signal));
}

/** The token endpoint without trailing slashes, followed by `/authorize`. */
function defaultEndpoint(tokenEndpoint: URL): URL {
  const url = new URL(tokenEndpoint);
  url.pathname = url.pathname.replace(/\/+$/, "") + "/authorize";
  return url;
}

function checkEndpoint(value: unknown, grant: string): URL {
  return parseEndpointUrl(value, grant, "authorizationEndpoint");
}

/**
 * The error an authorization server's error redirect means
 * ([RFC 6749 §4.1.2.1](https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2.1),
 * [§4.2.2.1](https://www.rfc-editor.org/rfc/rfc6749#section-4.2.2.1)), or `undefined` when
 * `answer` is no error.
 */
export function authorizationError(answer: URLSearchParams): TokenError | undefined {
  const fields = parseErrorFields(answer);
  if (fields === undefined) return undefined;
  return new TokenError(
    `Cannot log in: the authorization server answered ${errorDetail(fields)}`,
    { ...fields, code: "login_failed" },
  );
}
