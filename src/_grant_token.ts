// What passes between the token provider and a grant besides the public
// GrantContext: the grant's result, checked before anything keeps or sends
// it; its failure, as a TokenError; and the login channel through which the
// package's own refresh grant learns how it may use the login.

import type { GrantContext } from "./grant.ts";
import { bindingDefect, sendableTokenType, type Token, tokenDefect } from "./token.ts";
import type { TokenResult } from "./token_endpoint.ts";
import { TokenError } from "./token_error.ts";

/**
 * What the token provider tells a refresh about the login it refreshes, and
 * learns from it. Private to the package: custom grants see `previous` alone.
 */
export interface LoginChannel {
  /**
   * The scope to ask for on a refresh, narrower than the login's
   * ([RFC 6749 §6](https://www.rfc-editor.org/rfc/rfc6749#section-6)); `undefined`: none.
   */
  readonly refreshScope?: string;
  /**
   * Set when the login does not cover the client's scope (this is that scope):
   * its refresh token must not be used, as if there were no login.
   */
  readonly uncovered?: string;
  /**
   * The login's refresh token as the storage now has it, when it is not
   * `refused`: another client rotated it meanwhile (a storage without a
   * renewal lease lets two refresh at once). At most once per run.
   */
  latest(refused: string): Promise<string | undefined>;
  /** Notes that the token came from a refresh, asking for `scope`: the login's scope stays. */
  refreshed(scope: string | undefined): void;
}

/** The key under which a grant's context carries the {@linkcode LoginChannel}. */
const LOGIN_CHANNEL = Symbol("alf.loginChannel");

/** `context` carrying `channel` (kept by `{ ...context }` too). */
export function withLoginChannel(context: GrantContext, channel: LoginChannel): GrantContext {
  return Object.assign(context, { [LOGIN_CHANNEL]: channel });
}

/** The {@linkcode LoginChannel} of a grant's context, when the token provider gave one. */
export function loginChannelOf(context: GrantContext): LoginChannel | undefined {
  return (context as { [LOGIN_CHANNEL]?: LoginChannel })[LOGIN_CHANNEL];
}

/**
 * A grant's failure as the caller gets it: a {@linkcode TokenError} as it is;
 * anything else (a custom grant's `Error`) wrapped with code `grant_failed`
 * and the failure as `cause`. The message names the grant, never quotes the
 * failure, which may hold a token.
 */
export function grantFailure(error: unknown, grant: string): TokenError {
  if (error instanceof TokenError) return error;
  return new TokenError(`Cannot obtain a token: the grant "${grant}" failed`, {
    code: "grant_failed",
    cause: error,
  });
}

/**
 * A grant's result, checked: a token (see {@linkcode checkedToken}) or an
 * error response; anything else is a {@linkcode TokenError}.
 */
export function checkedResult(result: unknown, grant: string, dpop = false): TokenResult {
  const value = result as { token?: unknown; errorResponse?: { error?: unknown } } | null;
  if (typeof value === "object" && value !== null) {
    if (value.token !== undefined) {
      return { token: checkedToken(value.token as Token, grant, dpop) };
    }
    // As the token endpoint makes them (`endpoint.request()`): its error is a TokenError.
    if (value.errorResponse?.error instanceof TokenError) return result as TokenResult;
  }
  throw new TokenError(
    `Cannot use the result of the grant "${grant}": it is neither a token nor an error response`,
    { code: "invalid_response" },
  );
}

/**
 * A grant's token, checked like a token endpoint's
 * ([RFC 6750 §2.1](https://www.rfc-editor.org/rfc/rfc6750#section-2.1)): a custom grant's
 * `mac` type, `Bearer a b` or empty token is refused before a request carries it, and the
 * message never quotes it. The type's case is normalized, as a token response's is.
 */
export function checkedToken(token: Token, grant: string, dpop = false): Token {
  const type = sendableTokenType((token as Partial<Token> | null)?.tokenType);
  const normalized = type !== undefined && type !== token.tokenType
    ? { ...token, tokenType: type }
    : token;
  const defect = tokenDefect(normalized) ?? bindingDefect(normalized.tokenType, dpop);
  if (defect !== undefined) {
    throw new TokenError(`Cannot use the token of the grant "${grant}": ${defect}`, {
      code: "invalid_response",
    });
  }
  return normalized;
}
