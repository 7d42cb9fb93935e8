// What `alf request` sends to: the method and the URL, from `[METHOD] URL`,
// `-X` and `-I`, with messages that say which argument is wrong and why.

import { isLoopbackHost } from "../_endpoint_url.ts";
import { flagOption, type ParsedArgs, stringOption } from "./_args.ts";
import { usageError } from "./exit_code.ts";

/** The request line of `alf request`. */
export interface RequestTarget {
  /** The method, as given (`fetch` normalizes the standard ones' case). */
  method: string;
  url: URL;
}

// An HTTP method is a token ([RFC 9110 §9.1](https://www.rfc-editor.org/rfc/rfc9110#section-9.1),
// [§5.6.2](https://www.rfc-editor.org/rfc/rfc9110#section-5.6.2)).
const METHOD = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** The methods a misplaced argument may be named as (anything else is never repeated). */
const KNOWN_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "QUERY"];

/**
 * The method and URL of `alf request [METHOD] URL`, with `-X METHOD` and
 * `-I` (HEAD). Without any, the method is GET, or POST when there is a body.
 *
 * @param hasBody Whether a body was given (`-d`, `--json`, ...).
 * @throws {CliError} with the usage exit code, naming the argument at fault.
 */
export function requestTarget(args: ParsedArgs, hasBody: boolean): RequestTarget {
  const { positionals } = args;
  if (positionals.length === 0 || positionals.length > 2) {
    throw usageError(
      `Cannot parse the arguments: alf request takes [METHOD] URL, got ${positionals.length} arguments`,
    );
  }
  const [first = "", second] = positionals;
  if (second !== undefined && isUrlLike(first)) {
    const known = knownMethod(second);
    throw usageError(
      known === undefined
        ? "Cannot parse the arguments: alf request takes [METHOD] URL, and the first argument is the URL already"
        : `Cannot parse the arguments: the method goes before the URL: alf request ${known} URL (or -X ${known})`,
    );
  }
  if (second === undefined && knownMethod(first) !== undefined) {
    throw usageError(`Cannot parse the arguments: no URL after the method ${knownMethod(first)}`);
  }
  const url = parseUrl(second ?? first, args);
  const method = chooseMethod(second === undefined ? undefined : first, args, hasBody);
  return { method, url };
}

function chooseMethod(positional: string | undefined, args: ParsedArgs, hasBody: boolean): string {
  const option = stringOption(args, "request");
  if (positional !== undefined && !METHOD.test(positional)) {
    throw usageError(
      "Cannot parse the arguments: the method (the first argument) is not a valid HTTP method",
    );
  }
  if (option !== undefined && !METHOD.test(option)) {
    throw usageError("Cannot parse the arguments: the method of -X is not a valid HTTP method");
  }
  if (positional !== undefined && option !== undefined && positional !== option) {
    throw usageError(
      "Cannot parse the arguments: the method is given twice, before the URL and with -X; give one",
    );
  }
  const head = flagOption(args, "head");
  const given = positional ?? option;
  if (head && given !== undefined && given.toUpperCase() !== "HEAD") {
    throw usageError(
      `Cannot parse the arguments: -I sends HEAD, and the method ${
        knownMethod(given) ?? "given"
      } is another; give one`,
    );
  }
  const method = given ?? (head ? "HEAD" : hasBody ? "POST" : "GET");
  const upper = method.toUpperCase();
  if (hasBody && (upper === "GET" || upper === "HEAD")) {
    throw usageError(
      `Cannot parse the arguments: a ${upper} request has no body (-d, --json, ...); ` +
        `use -X POST (or PUT, PATCH), or leave the method out for POST`,
    );
  }
  return method;
}

function parseUrl(text: string, args: ParsedArgs): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    const suggestion = withScheme(text);
    throw usageError(
      suggestion === undefined
        ? "Cannot parse the arguments: the URL is not a valid absolute URL (https://host/path)"
        : `Cannot parse the arguments: the URL has no scheme; did you mean ${suggestion}?`,
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    // "localhost:8080/x" parses, with the scheme "localhost:".
    const suggestion = withScheme(text);
    throw usageError(
      suggestion === undefined
        ? `Cannot parse the arguments: the URL must be http: or https:, not ${url.protocol}`
        : `Cannot parse the arguments: the URL has no scheme; did you mean ${suggestion}?`,
    );
  }
  if (url.username || url.password) {
    // Never repeated: the part before @ is a password.
    throw usageError(
      "Cannot parse the arguments: the URL must not carry credentials (user:password@); alf sends a bearer token",
    );
  }
  if (
    url.protocol === "http:" && !isLoopbackHost(url.hostname) && !flagOption(args, "allow-http")
  ) {
    throw usageError(
      "Cannot parse the arguments: the URL is plain http: to a host that is not loopback, where " +
        "the bearer token can be read on the way; use https:, or pass --allow-http",
    );
  }
  return url;
}

/** Whether `text` is an absolute http(s) URL: then it is not a method. */
function isUrlLike(text: string): boolean {
  return /^https?:\/\//i.test(text) || withScheme(text) !== undefined;
}

/**
 * `https://` + `text` when `text` reads as a host name and a path
 * (`api.example.com/items`, `localhost:8080`), else `undefined`. A token or a
 * secret typed in the wrong place never reads as one (JWTs have capitals,
 * opaque tokens no dotted lowercase labels), so it is never repeated.
 */
function withScheme(text: string): string | undefined {
  const match = /^([a-z0-9-]+(?:\.[a-z0-9-]+)*)(:\d{1,5})?([/?#].*)?$/.exec(text);
  if (!match) return undefined;
  const host = match[1] ?? "";
  const labels = host.split(".");
  const named = host === "localhost" || /^\d{1,3}(\.\d{1,3}){3}$/.test(host) ||
    (labels.length >= 2 && labels.every((label) => label.length <= 63) &&
      /^[a-z]{2,63}$/.test(labels.at(-1) ?? ""));
  if (!named) return undefined;
  const scheme = isLoopbackHost(host) ? "http" : "https";
  try {
    return new URL(`${scheme}://${text}`).href;
  } catch {
    return undefined;
  }
}

function knownMethod(text: string): string | undefined {
  const upper = text.toUpperCase();
  return KNOWN_METHODS.includes(upper) ? upper : undefined;
}
