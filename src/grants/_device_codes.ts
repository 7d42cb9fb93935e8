// The device authorization response, read as servers send it, and the interval after a
// `slow_down` ([RFC 8628 §3.2, §3.5](https://www.rfc-editor.org/rfc/rfc8628#section-3.2)).

import { isLoopbackHost } from "../_endpoint_url.ts";
import { retryAfter } from "../_renewal_limits.ts";
import type { ErrorResponse } from "../token_endpoint.ts";
import { TokenError } from "../token_error.ts";
import { parseJsonObject } from "../token_response.ts";
import type { DeviceUserCode } from "./device_code.ts";

/** What a `slow_down` adds to the interval ([RFC 8628 §3.5](https://www.rfc-editor.org/rfc/rfc8628#section-3.5)). */
const SLOW_DOWN = 5000;

/** The device authorization response ([RFC 8628 §3.2](https://www.rfc-editor.org/rfc/rfc8628#section-3.2)). */
export interface DeviceCodes extends DeviceUserCode {
  deviceCode: string;
  /** In milliseconds, when the server says. */
  interval?: number;
}

/**
 * The interval after a `slow_down` (or a `429`): 5 s more, for this and every
 * later poll ([RFC 8628 §3.5](https://www.rfc-editor.org/rfc/rfc8628#section-3.5));
 * longer when the answer says so, by an `interval` (GitHub's) or a
 * `Retry-After`. Never shorter.
 */
export function slowerInterval(interval: number, answer: ErrorResponse, now: number): number {
  const json = parseJsonObject(new TextDecoder().decode(answer.body));
  const asked = Math.max(seconds(json?.interval) ?? 0, 0) * 1000;
  return Math.max(interval + SLOW_DOWN, asked, retryAfter(answer.headers, now) ?? 0);
}

/** A count of seconds: a number, or a numeric string (seen in the wild, as for `expires_in`). */
function seconds(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) ? value : undefined;
  if (typeof value === "string" && /^\s*\d+(\.\d+)?\s*$/.test(value)) return Number(value);
  return undefined;
}

/**
 * The device authorization response
 * ([RFC 8628 §3.2](https://www.rfc-editor.org/rfc/rfc8628#section-3.2)), read
 * as servers send it: Google's `verification_url` stands for
 * `verification_uri`, numbers may come as strings, and a missing `expires_in`
 * is the grant's timeout. The addresses must be web addresses the user can
 * safely be sent to: see {@linkcode webAddress}.
 */
export function parseCodes(text: string, status: number, timeout: number): DeviceCodes {
  const fail = (why: string) =>
    new TokenError(`Cannot parse the device authorization response: ${why}`, {
      code: "invalid_response",
      status,
    });
  const json = parseJsonObject(text);
  if (json === undefined) throw fail("it is not a JSON object");
  const verificationUri = json.verification_uri ?? json.verification_url;
  for (
    const [name, value] of [
      ["device_code", json.device_code],
      ["user_code", json.user_code],
      ["verification_uri", verificationUri],
    ] as const
  ) {
    if (typeof value !== "string" || value === "") {
      throw fail(`"${name}" is not a non-empty string`);
    }
  }
  const { expires_in: rawExpiresIn, interval: rawInterval } = json;
  const expiresIn = rawExpiresIn === undefined ? Math.ceil(timeout / 1000) : seconds(rawExpiresIn);
  if (expiresIn === undefined || !(expiresIn > 0)) {
    throw fail('"expires_in" is not a positive number');
  }
  const interval = rawInterval === undefined ? undefined : seconds(rawInterval);
  if (rawInterval !== undefined && !(interval !== undefined && interval >= 0)) {
    throw fail('"interval" is not a number >= 0');
  }
  const complete = json.verification_uri_complete;
  return {
    deviceCode: json.device_code as string,
    userCode: json.user_code as string,
    verificationUri: webAddress(verificationUri as string, "verification_uri", fail),
    verificationUriComplete: typeof complete === "string" && complete !== ""
      ? webAddress(complete, "verification_uri_complete", fail)
      : undefined,
    expiresIn,
    interval: interval === undefined ? undefined : interval * 1000,
  };
}

/**
 * An address the user is sent to, as its URL serialization (which
 * percent-encodes spaces, controls and any non-ASCII text): `https:`, or
 * `http:` on a loopback host (a test server). Anything else (`javascript:`,
 * `data:`, `file:`, plain text, credentials in the URL) refuses the whole
 * response, the `verification_uri_complete` too: a server that sends one is
 * broken or hostile, and its other address is no safer to show
 * ([RFC 8628 §5.4](https://www.rfc-editor.org/rfc/rfc8628#section-5.4)).
 */
function webAddress(text: string, name: string, fail: (why: string) => TokenError): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw fail(`"${name}" is not a URL`);
  }
  const web = url.protocol === "https:" ||
    (url.protocol === "http:" && isLoopbackHost(url.hostname));
  if (!web || url.username !== "" || url.password !== "") {
    throw fail(`"${name}" is not an https: URL (or http: on a loopback host)`);
  }
  return url.href;
}
