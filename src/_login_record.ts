// A login's record: its refresh token, kept apart from the access tokens it
// serves, so that a rotation by one is seen by all
// ([RFC 6749 §6](https://www.rfc-editor.org/rfc/rfc6749#section-6),
// [RFC 9700 §4.14.2](https://www.rfc-editor.org/rfc/rfc9700#section-4.14.2)).

import type { Token } from "./token.ts";

/**
 * What a login covers ([RFC 6749 §3.3](https://www.rfc-editor.org/rfc/rfc6749#section-3.3)):
 * the scope asked for when it was made, and the scope the server granted
 * (its `scope`, else the one asked). Space-separated; `undefined` when not
 * known. A refresh never changes it: a refresh token keeps its scope
 * ([RFC 6749 §6](https://www.rfc-editor.org/rfc/rfc6749#section-6)).
 */
export interface LoginScope {
  asked?: string;
  granted?: string;
}

/**
 * The member of a login record's `extra` that keeps the scope asked at the
 * login: the record is written by this module alone, never a server's answer.
 */
const ASKED_SCOPE = "alf:asked_scope";

/**
 * The login record of a token that carries a refresh token: the token
 * response as it is, without `expiresAt`, so that no storage ever drops it
 * for clean-up. A plain valid {@linkcode Token}, so every storage keeps it
 * unchanged. It ends only when the token endpoint refuses its refresh token.
 * With `scope`, its `scope` is the login's granted scope and its `extra`
 * keeps the asked one.
 */
export function loginRecordOf(token: Token & { refreshToken: string }, scope?: LoginScope): Token {
  const { expiresAt: _, ...record } = token;
  if (scope === undefined) return record;
  const { scope: __, extra, ...rest } = record;
  const { [ASKED_SCOPE]: ___, ...others } = extra ?? {};
  const kept = scope.asked === undefined ? others : { ...others, [ASKED_SCOPE]: scope.asked };
  return {
    ...rest,
    ...(scope.granted === undefined ? {} : { scope: scope.granted }),
    ...(Object.keys(kept).length === 0 ? {} : { extra: kept }),
  };
}

/** The scope a login record says its login covers; see {@linkcode LoginScope}. */
export function loginScopeOf(record: Token | undefined): LoginScope {
  const asked = record?.extra?.[ASKED_SCOPE];
  const granted = record?.scope;
  return {
    ...(typeof asked === "string" ? { asked } : {}),
    ...(typeof granted === "string" ? { granted } : {}),
  };
}

/**
 * How a client whose requested scope is `requested` may use a login (its
 * refresh token), by what the login covers:
 *
 * - `{ use: true }`: refresh without `scope`: the server issues what was
 *   granted. For a client that asks for no scope, for the login's own client
 *   (what it asked for is what was asked at the login, and the user granted
 *   that or less, §3.3), and when nothing is known of the login's scope.
 * - `{ use: true, scope }`: refresh asking for `scope`, narrower than the
 *   granted one ([RFC 6749 §6](https://www.rfc-editor.org/rfc/rfc6749#section-6)): what the
 *   client asked for, or the part of it the user granted at a login that asked for all of it.
 * - `{ use: false, ask }`: the login does not cover the client's scope, and no authorization
 *   for it ever happened: its refresh token is not used. `ask` is what a new login asks for:
 *   the old login's scope with the client's, so that one login serves both afterwards.
 */
export function loginUse(
  login: LoginScope,
  requested: string | undefined,
): { use: true; scope?: string } | { use: false; ask: string } {
  const wanted = scopeSet(requested);
  if (wanted.size === 0) return { use: true };
  const asked = login.asked === undefined ? undefined : scopeSet(login.asked);
  if (login.granted === undefined) {
    // Unknown: the server judges the narrowed request (§6 makes it refuse more than granted).
    return asked !== undefined && sameSet(wanted, asked)
      ? { use: true }
      : { use: true, scope: requested };
  }
  const granted = scopeSet(login.granted);
  const given = [...wanted].filter((scope) => granted.has(scope));
  const askedAll = [...wanted].every((scope) => granted.has(scope) || asked?.has(scope));
  if (given.length === 0 || !askedAll) {
    return { use: false, ask: joinScope([...(asked ?? []), ...granted, ...wanted]) };
  }
  return given.length === granted.size ? { use: true } : { use: true, scope: joinScope(given) };
}

/** The scope a client's token parameters ask for, space-joined; `undefined` when none. */
export function requestedScope(params: URLSearchParams): string | undefined {
  const scope = joinScope(params.getAll("scope"));
  return scope === "" ? undefined : scope;
}

function scopeSet(scope: string | undefined): Set<string> {
  return new Set((scope ?? "").split(" ").filter(Boolean));
}

/** Scope tokens space-joined, each once, in the order first seen. */
function joinScope(scopes: Iterable<string>): string {
  return [...new Set([...scopes].flatMap((scope) => scope.split(" ")).filter(Boolean))].join(" ");
}

function sameSet(a: Set<string>, b: Set<string>): boolean {
  return a.size === b.size && [...a].every((value) => b.has(value));
}

/**
 * The access record of a token: without its refresh token, which lives in
 * the login record alone (one copy, so no stale copy is ever used).
 */
export function accessRecordOf(token: Token): Token {
  if (token.refreshToken === undefined) return token;
  const { refreshToken: _, ...record } = token;
  return record;
}

/** `token` carrying `refreshToken` (the login's), or none. */
export function withRefreshToken(token: Token, refreshToken: string | undefined): Token {
  if (token.refreshToken === refreshToken) return token;
  if (refreshToken === undefined) return accessRecordOf(token);
  return { ...token, refreshToken };
}

/**
 * What revoking a login sends
 * ([RFC 7009 §2.1](https://www.rfc-editor.org/rfc/rfc7009#section-2.1)): the
 * token, and the `token_type_hint` that helps the server find it.
 */
export interface RevocableToken {
  token: string;
  hint: "refresh_token" | "access_token";
}

/** Sends one revocation request; throws when the token was not revoked. */
export type RevokeLogin = (token: RevocableToken) => Promise<void>;

/**
 * The token that ends a login when revoked: its refresh token, which the
 * server should end with the access tokens issued from it, else the access
 * token itself.
 */
export function revocableOf(token: Token): RevocableToken {
  return token.refreshToken === undefined
    ? { token: token.accessToken, hint: "access_token" }
    : { token: token.refreshToken, hint: "refresh_token" };
}

/**
 * The last few values seen, oldest dropped first: the tokens this process
 * retired (rejected, or replaced by its own renewal), so that a storage still
 * showing one never brings it back.
 */
export class RecentSet {
  /** Oldest first. An array: a few values cost less memory in one than in a `Set`. */
  readonly #values: string[] = [];
  readonly #size: number;

  constructor(size: number) {
    this.#size = size;
  }

  add(value: string): void {
    const at = this.#values.indexOf(value);
    if (at !== -1) this.#values.splice(at, 1);
    this.#values.push(value);
    if (this.#values.length > this.#size) this.#values.shift();
  }

  has(value: string): boolean {
    return this.#values.includes(value);
  }
}
