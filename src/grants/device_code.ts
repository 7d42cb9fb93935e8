/**
 * The device authorization grant
 * ([RFC 8628](https://www.rfc-editor.org/rfc/rfc8628)): a login for a machine
 * without a browser, the way `gh auth login` does it.
 *
 * @module
 */

import type { ClientMetadata } from "../client_registration.ts";
import { delay as abortableDelay } from "../_abort.ts";
import { checkDuration } from "../_duration.ts";
import { parseEndpointUrl } from "../_endpoint_url.ts";
import { checkKnownOptions } from "../_known_options.ts";
import { redactInspect } from "../_redact.ts";
import type { Grant, GrantContext } from "../grant.ts";
import type { Token } from "../token.ts";
import type { TokenResult } from "../token_endpoint.ts";
import { TokenError } from "../token_error.ts";
import { errorDetail, parseErrorResponse } from "../token_response.ts";
import { type DeviceCodes, parseCodes, slowerInterval } from "./_device_codes.ts";
import { RefreshTokenGrant } from "./refresh_token.ts";

/** The grant type of the polls ([RFC 8628 §3.4](https://www.rfc-editor.org/rfc/rfc8628#section-3.4)). */
const DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code";
/**
 * The shortest wait between polls, in milliseconds, whatever `interval` the
 * server gives (`0` included): the client waits at least the interval
 * ([RFC 8628 §3.5](https://www.rfc-editor.org/rfc/rfc8628#section-3.5)), and
 * a server's `0` is no reason to hammer it. A smaller `interval` option
 * lowers it (tests).
 */
const MIN_INTERVAL = 1000;

/**
 * What the user must be shown: where to go, and the code to enter there
 * ([RFC 8628 §3.3](https://www.rfc-editor.org/rfc/rfc8628#section-3.3)).
 *
 * @example Printing the code
 * ```ts
 * import type { DeviceUserCode } from "@alf/client";
 *
 * function show(code: DeviceUserCode): string {
 *   return `Open ${code.verificationUri} and enter ${code.userCode}`;
 * }
 * ```
 */
export interface DeviceUserCode {
  /** The code the user enters. */
  userCode: string;
  /**
   * Where the user enters it: an `https:` URL (or `http:` on a loopback
   * host), serialized, so without spaces or control characters.
   */
  verificationUri: string;
  /**
   * The address with the code in it, when the server gives one (for a link or
   * a QR code): a URL as `verificationUri` is.
   */
  verificationUriComplete?: string;
  /**
   * How long the code stays valid, in seconds: the server's `expires_in`, or
   * the grant's `timeout` when the server leaves it out.
   */
  expiresIn: number;
}

/**
 * Options of {@linkcode DeviceCodeGrant}.
 *
 * @example Showing the code on stderr
 * ```ts
 * import type { DeviceCodeGrantOptions } from "@alf/client";
 *
 * const options: DeviceCodeGrantOptions = {
 *   onUserCode: ({ userCode, verificationUri }) =>
 *     console.error(`Open ${verificationUri} and enter ${userCode}`),
 * };
 * ```
 */
export interface DeviceCodeGrantOptions {
  /**
   * The device authorization endpoint
   * ([RFC 8628 §3.1](https://www.rfc-editor.org/rfc/rfc8628#section-3.1)).
   * Default: the `device_authorization_endpoint` of the issuer's metadata.
   */
  deviceAuthorizationEndpoint?: string | URL;
  /**
   * Shows the user the code and the address; called once per login, and
   * awaited before the polling starts. The user code is the server's text as
   * it sent it: print it escaped (without control and format characters).
   */
  onUserCode: (code: DeviceUserCode) => void | Promise<void>;
  /**
   * The wait between polls, in milliseconds, when the server does not say
   * ([§3.2](https://www.rfc-editor.org/rfc/rfc8628#section-3.2)). Default: 5000.
   * A server's interval (in seconds) shorter than 1 s counts as 1 s, or as
   * this option when it is smaller.
   */
  interval?: number;
  /**
   * The longest a login may take, in milliseconds, from the device
   * authorization request to the last poll: then it ends with a
   * {@linkcode TokenError} of code `"timeout"`. Default: 900 000 (15 minutes).
   */
  timeout?: number;
  /**
   * Waits between polls; rejects when the signal aborts. Default: a timer.
   * Tests replace it to see the waits without waiting.
   */
  delay?: (ms: number, signal: AbortSignal) => Promise<void>;
}

const OPTION_NAMES = {
  deviceAuthorizationEndpoint: true,
  onUserCode: true,
  interval: true,
  timeout: true,
  delay: true,
} as const satisfies Record<keyof DeviceCodeGrantOptions, true>;

/**
 * The device authorization grant: the user approves the login on another
 * device, while the client polls the token endpoint
 * ([RFC 8628 §3](https://www.rfc-editor.org/rfc/rfc8628#section-3)).
 *
 * Requests a device code and a user code, shows them through `onUserCode`,
 * then polls at the server's `interval` (else the `interval` option; never
 * faster than once a second unless that option is smaller),
 * 5 s slower from each `slow_down` on (or at the `interval` that answer
 * gives, when longer; a `429` counts as a `slow_down`), on through
 * `authorization_pending`
 * ([§3.5](https://www.rfc-editor.org/rfc/rfc8628#section-3.5)). A refusal
 * (`access_denied`), an `expired_token`, or the codes' `expires_in` passing on
 * the client's clock ends it with a {@linkcode TokenError} of code
 * `"login_failed"` (at the expiry, not at the next poll); the grant's
 * `timeout` passing, with one of code `"timeout"`; closing the client stops
 * it at once (a caller's `signal` ends that caller's wait). Its
 * tokens are renewed with their refresh token, as a browser login's are: the
 * user sees a code once per login, not once per access token.
 *
 * The client authenticates its device authorization request as its token
 * requests ([§3.1](https://www.rfc-editor.org/rfc/rfc8628#section-3.1)): a
 * confidential client with its secret, key or certificate; a public client
 * by its `client_id`. The request goes through the client's transport, with
 * its timeout.
 *
 * @example Logging in on a machine without a browser
 * ```ts
 * import assert from "node:assert/strict";
 * import { Client, DeviceCodeGrant } from "@alf/client";
 * import { startAuthServer } from "@alf/client/testing";
 *
 * await using server = await startAuthServer({ deviceAuthorization: { interval: 0 } });
 * await using client = new Client({
 *   tokenEndpoint: server.tokenEndpoint,
 *   clientId: "cli",
 *   grant: new DeviceCodeGrant({
 *     deviceAuthorizationEndpoint: server.url("/device_authorization"),
 *     onUserCode: async ({ userCode, verificationUriComplete }) => {
 *       console.error(`Enter ${userCode} at ${verificationUriComplete}`);
 *       // The user approves, here by a test that opens the address.
 *       await (await fetch(verificationUriComplete!)).body?.cancel();
 *     },
 *   }),
 * });
 * const token = await client.getToken();
 * assert(server.accepts(token.accessToken));
 * ```
 */
export class DeviceCodeGrant implements Grant {
  /** The grant's name in storage keys. */
  readonly name = "device_code";
  /** The longest a login may take, in milliseconds: sizes the storage lease. */
  readonly timeout: number;
  readonly #endpoint?: URL;
  readonly #options: DeviceCodeGrantOptions;
  readonly #interval: number;
  /** The shortest wait between polls: {@linkcode MIN_INTERVAL}, or a smaller `interval` option. */
  readonly #minInterval: number;
  readonly #refresh: RefreshTokenGrant;

  static {
    redactInspect(DeviceCodeGrant, (grant) => ({ name: grant.name, timeout: grant.timeout }));
  }

  /**
   * Creates the grant; nothing is sent until a login starts.
   *
   * @param options The endpoint, the user code's display, the interval and the timeout.
   * @throws {TypeError} or {RangeError} when an option is malformed or unknown.
   */
  constructor(options: DeviceCodeGrantOptions) {
    const context = "DeviceCodeGrant";
    checkKnownOptions(options, OPTION_NAMES, context);
    if (typeof options.onUserCode !== "function") {
      throw new TypeError(`Cannot create the ${context}: "onUserCode" must be a function`);
    }
    const { deviceAuthorizationEndpoint, interval = 5000, timeout } = options;
    if (deviceAuthorizationEndpoint !== undefined) {
      this.#endpoint = parseEndpointUrl(
        deviceAuthorizationEndpoint,
        context,
        "deviceAuthorizationEndpoint",
      );
    }
    if (typeof interval !== "number" || !(interval >= 0)) {
      throw new RangeError(`Cannot create the ${context}: "interval" must be milliseconds >= 0`);
    }
    this.#options = options;
    this.#interval = interval;
    this.#minInterval = Math.min(MIN_INTERVAL, interval);
    this.timeout = checkDuration(timeout, {
      context,
      option: "timeout",
      fallback: 900_000,
      min: 1,
    });
    this.#refresh = new RefreshTokenGrant({
      fallback: {
        name: this.name,
        timeout,
        obtain: (c) => this.#logIn(c),
        needsUser: () => true,
      },
    });
  }

  /**
   * What a dynamic registration of a client for this grant says
   * ([RFC 7591 §2](https://www.rfc-editor.org/rfc/rfc7591#section-2)): the
   * device code and refresh token grants, no redirect URI.
   *
   * @returns The client metadata to register.
   */
  registration(): ClientMetadata {
    return { grant_types: [DEVICE_CODE_GRANT, "refresh_token"] };
  }

  /**
   * Whether a new token needs the user: when there is no refresh token to
   * renew it silently.
   *
   * @param previous The token that would be replaced.
   * @returns `true` when `obtain` would start a device login.
   */
  needsUser(previous: Token | undefined): boolean {
    return previous?.refreshToken === undefined;
  }

  /**
   * Refreshes the previous token when it has a refresh token, else logs the
   * user in with a device code.
   *
   * @param context The endpoint, parameters, previous token and signal.
   * @throws {TokenError} when the login is refused, expires or is aborted.
   */
  obtain(context: GrantContext): Promise<TokenResult> {
    return this.#refresh.obtain(context);
  }

  async #logIn(context: GrantContext): Promise<TokenResult> {
    const { endpoint, signal } = context;
    const now = endpoint.now;
    // The grant's timeout bounds the whole login, the codes' request included.
    const timeoutAt = now() + this.timeout;
    const codes = await this.#requestCodes(context);
    const expiresAt = now() + codes.expiresIn * 1000;
    // Whichever comes first ends the login, at that time, not at the next poll.
    const end = Math.min(expiresAt, timeoutAt);
    try {
      await this.#options.onUserCode({
        userCode: codes.userCode,
        verificationUri: codes.verificationUri,
        verificationUriComplete: codes.verificationUriComplete,
        expiresIn: codes.expiresIn,
      });
    } catch (cause) {
      throw new TokenError('Cannot log in: "onUserCode" failed', { code: "login_failed", cause });
    }
    const wait = this.#options.delay ?? abortableDelay;
    let interval = Math.max(codes.interval ?? this.#interval, this.#minInterval);
    const params = new URLSearchParams([
      ["grant_type", DEVICE_CODE_GRANT],
      ["device_code", codes.deviceCode],
    ]);
    while (true) {
      const left = end - now();
      // The last wait is cut to the end: no poll after it, when the codes are dead or time is up.
      const last = left <= interval;
      try {
        if (left > 0) await wait(last ? left : interval, signal);
      } catch (cause) {
        if (!signal.aborted) throw cause;
        // As a browser login stops: the grant's timeout, or the client's close.
        throw signal.reason instanceof TokenError
          ? signal.reason
          : new TokenError("Cannot log in: the login was aborted", { code: "aborted", cause });
      }
      if (last || now() >= end) {
        if (expiresAt <= timeoutAt) {
          throw new TokenError("Cannot log in: the device code expired before it was approved", {
            code: "login_failed",
            error: "expired_token",
          });
        }
        throw new TokenError(
          `Cannot log in: the device login was not approved within ${this.timeout} ms (the DeviceCodeGrant's "timeout")`,
          { code: "timeout" },
        );
      }
      const result = await endpoint.request(params, signal);
      if ("token" in result) return result;
      const { error } = result.errorResponse;
      // A 429 is a slow_down, whatever its body says (gateways say "too_many_requests").
      switch (error.status === 429 ? "slow_down" : error.error) {
        case "authorization_pending":
          continue;
        case "slow_down":
          interval = slowerInterval(interval, result.errorResponse, now());
          continue;
        case "access_denied":
          throw new TokenError("Cannot log in: the user denied the device authorization", {
            ...fieldsOf(error),
            cause: error,
          });
        case "expired_token":
          throw new TokenError("Cannot log in: the device code expired before it was approved", {
            ...fieldsOf(error),
            cause: error,
          });
        default:
          return result;
      }
    }
  }

  /** [RFC 8628 §3.1](https://www.rfc-editor.org/rfc/rfc8628#section-3.1) and §3.2. */
  async #requestCodes(context: GrantContext): Promise<DeviceCodes> {
    const { endpoint, signal } = context;
    const where = this.#endpoint ??
      await endpoint.endpoint("device_authorization_endpoint", signal);
    if (where === undefined) {
      throw new TokenError(
        'Cannot log in: no device authorization endpoint is known; give "deviceAuthorizationEndpoint", or an issuer whose metadata names one',
      );
    }
    const answer = await endpoint.post(new URL(where), new URLSearchParams(context.params), {
      name: "device authorization endpoint",
      signal,
    });
    const { status, headers, body } = answer;
    if (status < 200 || status > 299) {
      // The answer's error fields (RFC 6749 §5.2, as RFC 8628 §3.2 says), status, headers and
      // body, on the error itself: no cause that would name the token endpoint.
      const { error, errorDescription, errorUri } = parseErrorResponse(body, status, headers);
      const detail = error === undefined ? "" : ` (${errorDetail({ error, errorDescription })})`;
      throw new TokenError(
        `Cannot log in: the device authorization endpoint answered ${status}${detail}`,
        { code: "http_error", error, errorDescription, errorUri, status, headers, body },
      );
    }
    return parseCodes(body, status, this.timeout);
  }
}

/** The RFC 6749 §5.2 fields of an error, and the `login_failed` code. */
function fieldsOf(error: TokenError) {
  return {
    code: "login_failed" as const,
    error: error.error,
    errorDescription: error.errorDescription,
    errorUri: error.errorUri,
    status: error.status,
  };
}
