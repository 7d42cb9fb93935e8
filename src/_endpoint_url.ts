// One check for every endpoint URL the client is given (token, authorization).

/**
 * Hosts that name this machine
 * ([RFC 8252 §8.3](https://www.rfc-editor.org/rfc/rfc8252#section-8.3)).
 */
const LOOPBACK_HOSTS = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i;

/** Whether a URL's `hostname` names this machine: `localhost`, `127.x.x.x` or `[::1]`. */
export function isLoopbackHost(hostname: string): boolean {
  // The common spellings first: a resource request asks this on every call.
  return hostname === "127.0.0.1" || hostname === "localhost" || LOOPBACK_HOSTS.test(hostname);
}

/**
 * Parses an endpoint option: a valid URL without credentials, `https:` or
 * `http:` on a loopback host ([RFC 6749 §3.1](https://www.rfc-editor.org/rfc/rfc6749#section-3.1)
 * requires TLS), or any `http:` with `allowHttp`.
 *
 * @param value The option's value.
 * @param context What is being created, for messages: `client`, `ImplicitGrant`, ...
 * @param option The option's name, for messages.
 * @param allowHttp Whether plain `http:` is allowed on any host.
 * @throws {TypeError} when the value is not such a URL.
 */
export function parseEndpointUrl(
  value: unknown,
  context: string,
  option: string,
  allowHttp = false,
): URL {
  let url: URL;
  try {
    if (typeof value !== "string" && !(value instanceof URL)) throw new TypeError();
    url = new URL(value);
  } catch {
    throw new TypeError(`Cannot create the ${context}: "${option}" is not a valid URL`);
  }
  if (url.username || url.password) {
    // They would show wherever the URL does: in messages, logs and inspect output.
    throw new TypeError(
      `Cannot create the ${context}: "${option}" must not carry credentials; use "clientId" and "clientSecret"`,
    );
  }
  if (url.protocol === "https:") return url;
  if (url.protocol === "http:" && (allowHttp || isLoopbackHost(url.hostname))) return url;
  const escape = allowHttp ? "" : ', or set "allowHttp"';
  throw new TypeError(
    `Cannot create the ${context}: "${option}" must use https: (or http: on a loopback host${escape}), got ${url.protocol}`,
  );
}
