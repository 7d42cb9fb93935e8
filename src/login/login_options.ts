/**
 * The options of a browser login: one shape ({@linkcode LoginOptions}), plus
 * the ports a grant listens on ({@linkcode LoopbackLoginOptions}), under the
 * names each entry point gives them.
 *
 * @module
 */

/**
 * An inclusive range of ports, `[first, last]`; `[0, 0]` lets the system choose.
 *
 * A browser login listens on the first free port of the range; the
 * authorization server must accept the redirect URI of each port in it.
 *
 * @example The ports a client registers
 * ```ts
 * import assert from "node:assert/strict";
 * import { ImplicitGrant, type PortRange } from "@alf/client";
 *
 * const portRange: PortRange = [32000, 32009]; // http://127.0.0.1:32000/callback and 9 more
 * new ImplicitGrant({ portRange }); // nothing listens until a login starts
 * assert.throws(() => new ImplicitGrant({ portRange: [32009, 32000] }), RangeError);
 * ```
 */
export type PortRange = [number, number];

/** Where the redirect lands on the loopback listener: the path of every redirect URI. */
export const CALLBACK_PATH = "/callback";

/** The ports tried when no range is given, as the original alf did. */
export const DEFAULT_PORT_RANGE: PortRange = [32000, 32009];

/** How long a login waits for the browser by default: 5 minutes. */
export const DEFAULT_LOGIN_TIMEOUT = 5 * 60_000;

/**
 * Checks a port range: two integers, `0 <= first <= last <= 65535`.
 *
 * @throws {RangeError} when it is not one.
 */
export function checkPortRange(range: unknown, what: string): PortRange {
  const valid = Array.isArray(range) && range.length === 2 &&
    range.every((port) => Number.isInteger(port) && port >= 0 && port <= 65535) &&
    range[0] <= range[1];
  if (!valid) {
    throw new RangeError(
      `Cannot ${what}: the port range must be [first, last] with 0 <= first <= last <= 65535`,
    );
  }
  return [range[0], range[1]];
}

/**
 * Options of every browser login: where the user logs in, how the browser is
 * opened, and how long a login may take.
 *
 * The flows ({@linkcode useImplicitFlow}, {@linkcode useAuthorizationCodeFlow})
 * take them as they are, with the ports as their second argument; the grants
 * add a port range ({@linkcode LoopbackLoginOptions}).
 *
 * @example Every option, for the installed implicit flow
 * ```ts
 * import assert from "node:assert/strict";
 * import { Client, type LoginOptions, MemoryTokenStorage, useImplicitFlow } from "@alf/client";
 * import { ScriptedBrowser, startAuthServer } from "@alf/client/testing";
 *
 * await using server = await startAuthServer();
 * await using browser = new ScriptedBrowser(); // stands in for the user's browser
 * const options: LoginOptions = {
 *   authorizationEndpoint: server.authorizationEndpoint, // default: token endpoint + "/authorize"
 *   openBrowser: browser.open, // default: the system browser
 *   loginTimeout: 120_000, // two minutes for the user to log in; default: five
 * };
 * await using _flow = await useImplicitFlow(new MemoryTokenStorage(), [0, 0], options);
 * await using client = new Client({ tokenEndpoint: server.tokenEndpoint, clientId: "cli" });
 * await client.getToken();
 * assert(browser.opened[0]?.startsWith(`${server.authorizationEndpoint}?response_type=token&`));
 * ```
 */
export interface LoginOptions {
  /**
   * The authorization endpoint
   * ([RFC 6749 §3.1](https://www.rfc-editor.org/rfc/rfc6749#section-3.1)). Default: the token
   * endpoint without trailing slashes, followed by `/authorize`, as the original alf did. Must be
   * `https:`, or `http:` on a loopback host.
   */
  authorizationEndpoint?: string | URL;
  /**
   * Opens the authorization URL in a browser. Default: the system browser
   * (`xdg-open`, `open` or `start`), after printing the URL to stderr for
   * machines without one. A rejection ends the login at once with a
   * {@linkcode TokenError}.
   */
  openBrowser?: (url: string) => void | Promise<void>;
  /**
   * How long a login waits for the browser, in milliseconds: from 1 to
   * 2 147 483 647 (2^31 − 1, about 24.8 days, the longest a timer holds); a
   * longer one is a `RangeError`. Default: 300 000 (5 minutes).
   */
  loginTimeout?: number;
}

/**
 * Every name of {@linkcode LoginOptions}, the options of the flows: any other
 * name is refused as a misspelling (the port range is the flows' second
 * argument, not an option). The type requires each name of the interface and
 * no other, so the two cannot drift apart.
 */
export const LOGIN_OPTION_NAMES = {
  authorizationEndpoint: true,
  openBrowser: true,
  loginTimeout: true,
} as const satisfies Record<keyof LoginOptions, true>;

/**
 * {@linkcode LoginOptions} and the ports to listen on: the options of a grant
 * that listens on a port of its own for each login ({@linkcode ImplicitGrant},
 * {@linkcode AuthorizationCodeGrant}).
 *
 * @example One set of options for either grant
 * ```ts
 * import { AuthorizationCodeGrant, ImplicitGrant, type LoopbackLoginOptions } from "@alf/client";
 *
 * const options: LoopbackLoginOptions = { portRange: [0, 0], loginTimeout: 120_000 };
 * const grants = [new ImplicitGrant(options), new AuthorizationCodeGrant(options)];
 * ```
 */
export interface LoopbackLoginOptions extends LoginOptions {
  /**
   * The ports to listen on during a login: the first free one of this
   * inclusive range is used. Default: `[32000, 32009]`; `[0, 0]` lets the
   * system choose.
   */
  portRange?: PortRange;
}

/**
 * Every name of {@linkcode LoopbackLoginOptions}, the options of the grants:
 * any other name is refused as a misspelling.
 */
export const LOOPBACK_LOGIN_OPTION_NAMES = {
  ...LOGIN_OPTION_NAMES,
  portRange: true,
} as const satisfies Record<keyof LoopbackLoginOptions, true>;

/**
 * Options of {@linkcode useImplicitFlow}: {@linkcode LoginOptions} under the
 * flow's name.
 *
 * @example One shape, two names
 * ```ts
 * import type { ImplicitFlowOptions, LoginOptions } from "@alf/client";
 *
 * const options: ImplicitFlowOptions = { loginTimeout: 120_000 };
 * const same: LoginOptions = options;
 * ```
 */
export type ImplicitFlowOptions = LoginOptions;

/**
 * Options of {@linkcode useAuthorizationCodeFlow}: {@linkcode LoginOptions},
 * and whether the authorization request is pushed to the server first
 * ([RFC 9126](https://www.rfc-editor.org/rfc/rfc9126)).
 *
 * @example Never pushing, even when the server offers it
 * ```ts
 * import type { AuthorizationCodeFlowOptions, LoginOptions } from "@alf/client";
 *
 * const options: AuthorizationCodeFlowOptions = { loginTimeout: 120_000, par: false };
 * const login: LoginOptions = options; // every login option, and two more
 * ```
 */
export interface AuthorizationCodeFlowOptions extends LoginOptions {
  /**
   * The pushed authorization request endpoint
   * ([RFC 9126 §2](https://www.rfc-editor.org/rfc/rfc9126#section-2)). Default: the
   * `pushed_authorization_request_endpoint` of the issuer's metadata, if any. Must be `https:`, or
   * `http:` on a loopback host.
   */
  pushedAuthorizationRequestEndpoint?: string | URL;
  /**
   * Whether each login first pushes its authorization request, with the client's authentication,
   * and then opens the browser with only `client_id` and `request_uri`
   * ([RFC 9126 §4](https://www.rfc-editor.org/rfc/rfc9126#section-4)). Default: when a
   * pushed authorization request endpoint is given or discovered. `true`: always; a login fails
   * when no endpoint is known. `false`: never; a login fails when the server's metadata says
   * `require_pushed_authorization_requests`.
   */
  par?: boolean;
}

/**
 * Every name of {@linkcode AuthorizationCodeFlowOptions}: any other name is
 * refused as a misspelling.
 */
export const AUTHORIZATION_CODE_FLOW_OPTION_NAMES = {
  ...LOGIN_OPTION_NAMES,
  pushedAuthorizationRequestEndpoint: true,
  par: true,
} as const satisfies Record<keyof AuthorizationCodeFlowOptions, true>;

/**
 * Options of {@linkcode ImplicitGrant}: {@linkcode LoopbackLoginOptions}
 * under the grant's name.
 *
 * @example One shape, two names
 * ```ts
 * import type { ImplicitGrantOptions, LoopbackLoginOptions } from "@alf/client";
 *
 * const options: ImplicitGrantOptions = { portRange: [0, 0] };
 * const same: LoopbackLoginOptions = options;
 * ```
 */
export type ImplicitGrantOptions = LoopbackLoginOptions;

/**
 * Options of {@linkcode AuthorizationCodeGrant}: {@linkcode LoopbackLoginOptions}
 * and the pushed authorization request options of
 * {@linkcode AuthorizationCodeFlowOptions}.
 *
 * @example A login that must be pushed
 * ```ts
 * import type { AuthorizationCodeGrantOptions, LoopbackLoginOptions } from "@alf/client";
 *
 * const options: AuthorizationCodeGrantOptions = {
 *   portRange: [0, 0],
 *   pushedAuthorizationRequestEndpoint: "https://auth.example.com/par",
 *   par: true, // a login without a pushed authorization request endpoint fails
 * };
 * const loopback: LoopbackLoginOptions = options;
 * ```
 */
export interface AuthorizationCodeGrantOptions
  extends AuthorizationCodeFlowOptions, LoopbackLoginOptions {}

/**
 * Every name of {@linkcode AuthorizationCodeGrantOptions}: any other name is
 * refused as a misspelling.
 */
export const AUTHORIZATION_CODE_GRANT_OPTION_NAMES = {
  ...LOOPBACK_LOGIN_OPTION_NAMES,
  ...AUTHORIZATION_CODE_FLOW_OPTION_NAMES,
} as const satisfies Record<keyof AuthorizationCodeGrantOptions, true>;
