/**
 * Reads a `WWW-Authenticate` header into its challenges
 * ([RFC 9110 §11.6.1](https://www.rfc-editor.org/rfc/rfc9110#section-11.6.1)), so that the
 * client acts on a challenge's `error` parameter
 * ([RFC 6750 §3](https://www.rfc-editor.org/rfc/rfc6750#section-3)) and on nothing that merely
 * mentions it.
 *
 * @module
 */

/** One challenge of a `WWW-Authenticate` header. */
export interface Challenge {
  /** The authentication scheme, lower-cased: `"bearer"`, `"dpop"`, `"basic"`. */
  scheme: string;
  /** The parameters, names lower-cased, values unquoted. The first of a repeated name wins. */
  params: Record<string, string>;
  /** The token68 form of the credentials, when the challenge has one instead of parameters. */
  token68?: string;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+/;
const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*/;

/**
 * Parses a `WWW-Authenticate` header value (several headers may be joined by
 * commas, as `Headers.get` does). Malformed parts are skipped: a header the
 * client cannot read is a challenge it does not act on, never an exception.
 *
 * @param header The header's value, or `null` when there is none.
 * @returns The challenges in order.
 */
export function parseChallenges(header: string | null): Challenge[] {
  const challenges: Challenge[] = [];
  if (!header) return challenges;
  let rest = header;
  let current: Challenge | undefined;
  const skip = (pattern: RegExp) => {
    rest = rest.replace(pattern, "");
  };
  while (rest.length > 0) {
    skip(/^[\s,]+/);
    if (rest.length === 0) break;
    const name = TOKEN.exec(rest)?.[0];
    if (name === undefined) {
      // Not a token: skip to the next comma and read on.
      const comma = rest.indexOf(",");
      rest = comma === -1 ? "" : rest.slice(comma + 1);
      continue;
    }
    const after = rest.slice(name.length);
    if (current !== undefined && /^\s*=/.test(after)) {
      // An auth-param of the current challenge: name BWS "=" BWS ( token / quoted-string ).
      rest = after.replace(/^\s*=\s*/, "");
      const value = readValue();
      const lower = name.toLowerCase();
      if (value !== undefined && !(lower in current.params)) current.params[lower] = value;
      continue;
    }
    // A new challenge: the scheme, then a token68, parameters, or nothing.
    current = { scheme: name.toLowerCase(), params: Object.create(null) };
    challenges.push(current);
    rest = after.replace(/^ +/, "");
    // A token68 stands alone up to the next comma; "name=value" is a parameter.
    const token68 = TOKEN68.exec(rest)?.[0];
    if (token68 !== undefined && /^\s*(,|$)/.test(rest.slice(token68.length))) {
      current.token68 = token68;
      rest = rest.slice(token68.length);
    }
  }
  return challenges;

  function readValue(): string | undefined {
    if (rest.startsWith('"')) {
      let value = "";
      let i = 1;
      for (; i < rest.length; i++) {
        const char = rest[i];
        if (char === "\\" && i + 1 < rest.length) {
          value += rest[++i];
        } else if (char === '"') {
          break;
        } else {
          value += char;
        }
      }
      if (i >= rest.length) {
        rest = ""; // an unterminated string ends the header
        return undefined;
      }
      rest = rest.slice(i + 1);
      return value;
    }
    const token = TOKEN.exec(rest)?.[0];
    if (token === undefined) {
      const comma = rest.indexOf(",");
      rest = comma === -1 ? "" : rest.slice(comma + 1);
      return undefined;
    }
    rest = rest.slice(token.length);
    return token;
  }
}

/**
 * The `error` parameter of the first challenge of `scheme`
 * ([RFC 6750 §3.1](https://www.rfc-editor.org/rfc/rfc6750#section-3.1)), if any.
 *
 * @param header The `WWW-Authenticate` header's value.
 * @param scheme The scheme, lower-cased: `"bearer"` or `"dpop"`.
 */
export function challengeError(header: string | null, scheme: string): string | undefined {
  return parseChallenges(header).find((challenge) => challenge.scheme === scheme)?.params.error;
}
