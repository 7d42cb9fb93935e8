// One run of a grant for the token provider: from the login's latest refresh
// token, within the scope that login covers, bounded in time, once more when
// another client rotated the refresh token meanwhile; its failures as
// TokenErrors; and the end of a login whose refresh token the token endpoint
// refused.

import { abortable, deadline } from "./_abort.ts";
import {
  checkedResult,
  grantFailure,
  type LoginChannel,
  withLoginChannel,
} from "./_grant_token.ts";
import {
  accessRecordOf,
  type LoginScope,
  loginScopeOf,
  loginUse,
  requestedScope,
  withRefreshToken,
} from "./_login_record.ts";
import type { TokenRecords } from "./_token_records.ts";
import type { Grant } from "./grant.ts";
import type { Token } from "./token.ts";
import type { TokenEndpoint, TokenResult } from "./token_endpoint.ts";
import { TokenError } from "./token_error.ts";

/** Settings of {@linkcode runGrant}. */
export interface GrantRunOptions {
  grant: Grant;
  endpoint: TokenEndpoint;
  /** The client's token parameters. */
  params: URLSearchParams;
  records: TokenRecords;
  /** Aborted when the client closes. */
  closed: AbortSignal;
  /** The longest the run may take, in milliseconds. */
  bound: number;
  background: boolean;
}

/** What a run ends in: the grant's result, and what its login covers. */
export interface GrantRun {
  result: TokenResult;
  /** The scope of the login record, when the token carries a refresh token. */
  scope: LoginScope;
}

/**
 * Runs the grant once from the login record (read under the lease, when
 * there is one).
 *
 * - A login whose scope does not cover the client's is not used: the grant
 *   runs as if there were none, and a new login asks for both scopes; one
 *   that covers it is refreshed with the client's narrower scope
 *   ([RFC 6749 §6](https://www.rfc-editor.org/rfc/rfc6749#section-6)). See `loginUse`.
 * - A refresh answered `invalid_grant` is tried once more with the refresh
 *   token the login record holds now, if another client rotated it meanwhile;
 *   else the login ends, unless its record changed since
 *   ([RFC 6749 §5.2](https://www.rfc-editor.org/rfc/rfc6749#section-5.2)).
 * - A failure is a `TokenError`: a custom grant's own error becomes its `cause`.
 */
export async function runGrant(options: GrantRunOptions): Promise<GrantRun> {
  const { grant, endpoint, records, closed, bound, background } = options;
  let previous = await records.readLogin();
  const requested = requestedScope(options.params);
  const login = records.login?.refreshToken === undefined ? undefined : records.login;
  const use: ReturnType<typeof loginUse> = login
    ? loginUse(loginScopeOf(login), requested)
    : { use: true };
  let params = options.params;
  if (!use.use) {
    previous = previous && accessRecordOf(previous);
    // One login then covers both scopes: the user is asked once, not at each switch.
    if (grant.needsUser?.(previous)) params = withScope(params, use.ask);
  }
  /** The refresh tokens presented besides `previous`'s: refused, then the rotated one. */
  const presented: string[] = [];
  let looked = false;
  let refreshed: { scope: string | undefined } | undefined;
  const channel: LoginChannel = {
    ...(use.use ? { refreshScope: use.scope } : { uncovered: requested }),
    async latest(refreshToken) {
      if (looked) return undefined;
      looked = true;
      presented.push(refreshToken);
      await records.readLogin();
      const latest = records.login?.refreshToken;
      if (latest === undefined || latest === refreshToken) return undefined;
      presented.push(latest);
      return latest;
    },
    refreshed(scope) {
      refreshed = { scope };
    },
  };
  // The grant sees the client's close and the time bound; only the bound is
  // raced here, so a grant's own close error reaches the caller unchanged.
  // A grant that never settles must not hang every waiter.
  const limit = deadline(closed, bound, "The grant timed out");
  try {
    const obtain = async (from: Token | undefined): Promise<TokenResult> => {
      try {
        // A client that starts from a protected resource learns its server, client
        // identifier and scope here, before a grant builds its request from them.
        await abortable(endpoint.resolve(limit.signal), limit.expired);
        // A copy: what a grant changes in it is its own (clients without parameters share one).
        const context = {
          endpoint,
          params: new URLSearchParams(params),
          previous: from,
          signal: limit.signal,
          background,
        };
        const result = await abortable(
          grant.obtain(withLoginChannel(context, channel)),
          limit.expired,
        );
        return checkedResult(result, grant.name, endpoint.dpop);
      } catch (error) {
        if (limit.expired.aborted) {
          throw new TokenError(
            `Cannot obtain a token: the grant did not finish within ${bound} ms`,
            {
              code: "timeout",
              cause: error,
            },
          );
        }
        if (closed.aborted) throw error;
        throw grantFailure(error, grant.name);
      }
    };
    let result = await obtain(previous);
    const stale = previous?.refreshToken;
    if (refusedGrant(result) && stale !== undefined && !looked) {
      // A grant of one's own reads `previous`: it gets the rotated refresh token once.
      const latest = await channel.latest(stale);
      if (latest !== undefined) result = await obtain(withRefreshToken(previous!, latest));
    }
    if (!("token" in result)) {
      if (refusedGrant(result)) {
        // Only the token endpoint ends a login; a record another client rotated stays.
        for (const token of new Set([stale, ...presented])) {
          if (token !== undefined) await records.endLogin(token);
        }
      }
      return { result, scope: {} };
    }
    const { token } = result;
    if (refreshed === undefined) {
      // A new login (or another grant): what it asked for, and was granted (§5.1: no `scope`, as asked).
      const asked = requestedScope(params);
      return { result, scope: { asked, granted: token.scope ?? asked } };
    }
    // A refresh keeps the login's scope; a first refresh of a given refresh token learns it.
    const known = records.login ? loginScopeOf(records.login) : { asked: requested };
    const granted = known.granted ?? (refreshed.scope === undefined ? token.scope : undefined);
    return { result, scope: { asked: known.asked, granted } };
  } finally {
    limit[Symbol.dispose]();
  }
}

/** Whether the token endpoint refused the grant: `invalid_grant`, RFC 6749 §5.2. */
function refusedGrant(result: TokenResult): boolean {
  return "errorResponse" in result && result.errorResponse.error.error === "invalid_grant";
}

/** `params` asking for `scope` instead of its own. */
function withScope(params: URLSearchParams, scope: string): URLSearchParams {
  const asking = new URLSearchParams([...params].filter(([name]) => name !== "scope"));
  asking.set("scope", scope);
  return asking;
}
