// The stand-in server's revocation endpoint ([RFC 7009 §2](https://www.rfc-editor.org/rfc/rfc7009#section-2)).

import type { LoginDesk } from "./_authorization.ts";
import type { IssuedTokens } from "./_issued_tokens.ts";
import type { RecordedRequest, RecordedRevocation } from "./recorded_request.ts";

/**
 * Revokes the `token` of an authenticated request, and records it. The hint
 * is tried first; when it does not find the token, or is another value,
 * every type is searched (§2.1). An unknown token is answered 200 too
 * (§2.2): the client cannot tell, and need not.
 *
 * @param recorded The request, recorded.
 * @param clientId The authenticated client, or `null`.
 * @param tokens The server's access tokens.
 * @param logins The server's refresh tokens.
 * @param revocations Where a revocation is recorded.
 */
export function revoke(
  recorded: RecordedRequest,
  clientId: string | null,
  tokens: IssuedTokens,
  logins: LoginDesk,
  revocations: RecordedRevocation[],
): Response {
  if (recorded.method !== "POST") {
    return Response.json({ error: "invalid_request", error_description: "Use POST" }, {
      status: 405,
      headers: { Allow: "POST" },
    });
  }
  const token = recorded.form.get("token");
  const tokenTypeHint = recorded.form.get("token_type_hint");
  if (!token) {
    return Response.json(
      { error: "invalid_request", error_description: '"token" is missing' },
      { status: 400 },
    );
  }
  const revokeRefreshToken = () => {
    const found = logins.refreshTokens.includes(token);
    if (found) logins.revokeRefreshTokens(token);
    return found;
  };
  const order = tokenTypeHint === "refresh_token"
    ? (["refresh_token", "access_token"] as const)
    : (["access_token", "refresh_token"] as const);
  const found =
    order.find((type) => type === "access_token" ? tokens.revoke(token) : revokeRefreshToken()) ??
      null;
  revocations.push({ token, tokenTypeHint, found, clientId });
  return new Response(null, { status: 200, headers: { "Cache-Control": "no-store" } });
}
