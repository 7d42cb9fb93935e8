// How the stand-in token endpoint authenticates a client: HTTP Basic with form-encoded parts, or
// client_id and client_secret in the form
// ([RFC 6749 §2.3.1](https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1)).

import type { AuthServerOptions } from "./auth_server_options.ts";
import type { RecordedRequest } from "./recorded_request.ts";

/** The client id and secret of a token request, from Basic or the form. */
export function clientCredentials(
  recorded: RecordedRequest,
): { id: string | null; secret: string | null } {
  let id = recorded.form.get("client_id");
  let secret = recorded.form.get("client_secret");
  const basic = /^Basic (\S+)$/i.exec(recorded.headers.get("authorization") ?? "")?.[1];
  if (basic !== undefined) {
    const decoded = new TextDecoder().decode(Uint8Array.from(atob(basic), (c) => c.charCodeAt(0)));
    const colon = decoded.indexOf(":");
    const form = (s: string) => new URLSearchParams(`v=${s}`).get("v");
    id = form(decoded.slice(0, colon));
    secret = form(decoded.slice(colon + 1));
  }
  return { id, secret };
}

/**
 * The `invalid_client` answer when a token request lacks the credentials the server expects;
 * `undefined` when it has them or the server expects none.
 */
export function authenticate(
  recorded: RecordedRequest,
  { clientId, clientSecret }: AuthServerOptions,
): Response | undefined {
  if (clientId === undefined && clientSecret === undefined) return undefined;
  const { id, secret } = clientCredentials(recorded);
  const idOk = clientId === undefined || id === clientId;
  const secretOk = clientSecret === undefined || secret === clientSecret;
  if (idOk && secretOk) return undefined;
  return Response.json(
    { error: "invalid_client", error_description: "Client authentication failed" },
    { status: 401, headers: { "WWW-Authenticate": 'Basic realm="token"' } },
  );
}
