// `--device`: a login on another device (the device authorization grant,
// [RFC 8628](https://www.rfc-editor.org/rfc/rfc8628)), for a machine without a browser. The user
// code and the address go to stderr, so that stdout stays the token or the response.

import { DeviceCodeGrant, type DeviceUserCode, type Grant } from "../../mod.ts";
import type { Io } from "./_io.ts";

/**
 * The device authorization grant of `--device`: its prompt is written to
 * stderr even in a silent run (`-s`), since the login cannot go on without it.
 *
 * @param endpoint The device authorization endpoint.
 * @param io Where the prompt goes, and whether it is a terminal.
 */
export function deviceGrant(endpoint: string | undefined, io: Io): Grant {
  return new DeviceCodeGrant({
    deviceAuthorizationEndpoint: endpoint,
    onUserCode: (code) => io.printVerbose(devicePrompt(code, io.stderrIsTerminal)),
  });
}

/**
 * What the user reads: the address and the code to enter there
 * ([RFC 8628 §3.3](https://www.rfc-editor.org/rfc/rfc8628#section-3.3)), then
 * the address with the code in it (§3.3.1), as a link a terminal can open
 * (OSC 8) when `terminal` is true.
 *
 * Everything the server sent is printed without control characters: a
 * hostile server cannot write escape sequences to the user's terminal, nor
 * reorder or hide what it shows (bidi overrides, zero-width characters, line
 * separators). The grant has checked the addresses: `https:` URLs (or `http:`
 * on a loopback host), serialized.
 */
export function devicePrompt(code: DeviceUserCode, terminal: boolean): string {
  const lines = [
    `To log in, open ${address(code.verificationUri)} and enter the code ${
      printable(code.userCode)
    } (it expires in ${duration(code.expiresIn)})`,
  ];
  const complete = code.verificationUriComplete;
  if (complete !== undefined) {
    const url = address(complete);
    lines.push(
      `Or open this address, which has the code in it: ${
        terminal && /^https?:/.test(url) ? link(url) : url
      }`,
    );
  }
  return `${lines.join("\n")}\n`;
}

/** A URL as its serialization, which percent-encodes control characters; else the text without them. */
function address(text: string): string {
  try {
    return new URL(text).href;
  } catch {
    return printable(text);
  }
}

function printable(text: string): string {
  // Controls (C0, C1, DEL: ESC starts a terminal sequence, CSI is C1's); format characters
  // (bidi overrides and isolates, zero-width ones); line and paragraph separators.
  return text.replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, "");
}

/** An OSC 8 hyperlink, its text the address itself: copied or clicked, it is the same. */
function link(url: string): string {
  return `\x1b]8;;${url}\x1b\\${url}\x1b]8;;\x1b\\`;
}

function duration(seconds: number): string {
  if (seconds < 90) return plural(Math.round(seconds), "second");
  return plural(Math.round(seconds / 60), "minute");
}

function plural(count: number, unit: string): string {
  return `${count} ${unit}${count === 1 ? "" : "s"}`;
}
