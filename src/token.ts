/**
 * The token record: plain data that storages keep and the client sends.
 *
 * @module
 */

/**
 * An access token as the client keeps it.
 *
 * A plain, structured-cloneable record, so that any {@linkcode TokenStorage}
 * can persist it. Times are absolute epoch milliseconds taken from the
 * client's clock when the token response arrived
 * ([RFC 6749 §5.1](https://www.rfc-editor.org/rfc/rfc6749#section-5.1) gives only a relative
 * `expires_in`).
 *
 * @example Reading a token's remaining lifetime
 * ```ts
 * import type { Token } from "@alf/client";
 *
 * const token: Token = {
 *   accessToken: "2YotnFZFEjr1zCsicMWpAA",
 *   tokenType: "Bearer",
 *   issuedAt: 1_700_000_000_000,
 *   expiresAt: 1_700_003_600_000,
 * };
 * const lifetime = token.expiresAt! - token.issuedAt; // 3_600_000 ms
 * ```
 */
export interface Token {
  /** The access token sent to resources. */
  accessToken: string;
  /**
   * The token type, normalized: `"Bearer"`
   * ([RFC 6750](https://www.rfc-editor.org/rfc/rfc6750)), or `"DPoP"` for a
   * token bound to the client's DPoP key
   * ([RFC 9449 §5](https://www.rfc-editor.org/rfc/rfc9449#section-5)).
   */
  tokenType: string;
  /** When the token response arrived, in epoch milliseconds. */
  issuedAt: number;
  /**
   * When the token expires, in epoch milliseconds; absent when the server
   * sent no `expires_in` (the token is then kept until a resource rejects it).
   */
  expiresAt?: number;
  /**
   * The refresh token, when the server issued one
   * ([RFC 6749 §6](https://www.rfc-editor.org/rfc/rfc6749#section-6)).
   */
  refreshToken?: string;
  /**
   * The granted scope, when the server said it
   * ([RFC 6749 §3.3](https://www.rfc-editor.org/rfc/rfc6749#section-3.3)).
   */
  scope?: string;
  /** Members of the token response that this client does not interpret. */
  extra?: Record<string, unknown>;
}

/**
 * `token` frozen, so that whoever holds it may share it rather than copy it
 * (`MemoryTokenStorage` keeps such a record as it is): a frozen token is
 * returned as it is, any other is copied (the caller's object stays as it
 * was). The copy is filled member by member: an empty literal holds its
 * first four members in place, so the usual record (`accessToken`,
 * `tokenType`, `issuedAt`, `expiresAt`) is one object. Only the record is
 * frozen: an `extra` object can still change.
 */
export function frozenToken(token: Token): Token {
  if (Object.isFrozen(token)) return token;
  const copy: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(token)) copy[name] = value;
  return Object.freeze(copy) as unknown as Token;
}

/**
 * Whether a token may still be sent at time `now`: never at or after its
 * `expiresAt`.
 */
export function isUsable(token: Token, now: number): boolean {
  return token.expiresAt === undefined || now < token.expiresAt;
}

/**
 * Whether a token is inside its early-renewal window at time `now`.
 *
 * The window is `margin` milliseconds before `expiresAt`, but never more than
 * half the token's lifetime, so short-lived tokens are still used.
 */
export function isDueForRenewal(token: Token, now: number, margin: number): boolean {
  if (token.expiresAt === undefined) return false;
  const lifetime = token.expiresAt - token.issuedAt;
  return now >= token.expiresAt - Math.min(margin, lifetime / 2);
}

/** Whether a token may be kept for later requests at all (`expires_in` > 0). */
export function isReusable(token: Token): boolean {
  return token.expiresAt === undefined || token.expiresAt > token.issuedAt;
}

/**
 * Why a client cannot use a token of this type, or `undefined` when it can:
 * a client with DPoP uses only DPoP-bound tokens, since a server that
 * answers `Bearer` to a proof did not bind the token (a silent downgrade,
 * [RFC 9449 §5](https://www.rfc-editor.org/rfc/rfc9449#section-5)); a client
 * without DPoP cannot send a DPoP-bound token, and never sends one as
 * Bearer ([§7.1](https://www.rfc-editor.org/rfc/rfc9449#section-7.1)).
 */
export function bindingDefect(tokenType: string, dpop: boolean): string | undefined {
  if (dpop && tokenType !== "DPoP") {
    return `it is a ${tokenType} token, and the client asked for a DPoP-bound one (RFC 9449 §5): the server did not bind it to the client's key`;
  }
  if (!dpop && tokenType === "DPoP") {
    return 'it is bound to a DPoP key, and the client has none; set "dpop"';
  }
  return undefined;
}

/** The value of the `Authorization` header for a token. */
export function authorizationValue(token: Token): string {
  return `${token.tokenType} ${token.accessToken}`;
}

/**
 * Whether an access token can be carried by an `Authorization` header: one or
 * more visible ASCII characters
 * ([RFC 6750 §2.1](https://www.rfc-editor.org/rfc/rfc6750#section-2.1)).
 * The one rule for token responses and stored records alike.
 */
export function isSendableAccessToken(value: unknown): value is string {
  return typeof value === "string" && /^[!-~]+$/.test(value);
}

/** The token types this client can send, by their lower-cased name. */
const SENDABLE_TYPES = new Map([["bearer", "Bearer"], ["dpop", "DPoP"]]);

/**
 * The token type as this client sends it (`"Bearer"`), or `undefined` when it
 * cannot send tokens of that type. Token types are case-insensitive
 * ([RFC 6749 §5.1](https://www.rfc-editor.org/rfc/rfc6749#section-5.1)).
 */
export function sendableTokenType(value: unknown): string | undefined {
  return typeof value === "string" ? SENDABLE_TYPES.get(value.toLowerCase()) : undefined;
}

/**
 * Why a value is not a token this client can send, or `undefined` when it is
 * one: a non-empty access token a header can carry, the Bearer type as a
 * token response gives it, numeric times. The one rule for what a storage
 * returns and what a grant returns: both are outside the client's control, so
 * they are checked as strictly as a token response. The reason never quotes
 * the token.
 */
export function tokenDefect(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null) return "it is not a token record";
  const token = value as Record<string, unknown>;
  if (typeof token.accessToken !== "string" || token.accessToken === "") {
    return '"accessToken" is missing or empty';
  }
  if (!isSendableAccessToken(token.accessToken)) {
    return '"accessToken" contains characters a header cannot carry (RFC 6750 §2.1)';
  }
  if (
    typeof token.tokenType !== "string" || sendableTokenType(token.tokenType) !== token.tokenType
  ) {
    return '"tokenType" is not "Bearer" or "DPoP"';
  }
  if (typeof token.issuedAt !== "number" || !Number.isFinite(token.issuedAt)) {
    return '"issuedAt" is not a number';
  }
  if (
    token.expiresAt !== undefined &&
    (typeof token.expiresAt !== "number" || Number.isNaN(token.expiresAt))
  ) {
    return '"expiresAt" is not a number';
  }
  if (token.refreshToken !== undefined && typeof token.refreshToken !== "string") {
    return '"refreshToken" is not a string';
  }
  return undefined;
}

/**
 * Whether a value read from a storage (or returned by a grant) is a token
 * this client can send; see {@linkcode tokenDefect}.
 */
export function isValidToken(value: unknown): value is Token {
  return tokenDefect(value) === undefined;
}
