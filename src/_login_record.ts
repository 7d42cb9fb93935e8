// A login's record: its refresh token, kept apart from the access tokens it
// serves, so that a rotation by one is seen by all
// ([RFC 6749 §6](https://www.rfc-editor.org/rfc/rfc6749#section-6),
// [RFC 9700 §4.14.2](https://www.rfc-editor.org/rfc/rfc9700#section-4.14.2)).

import type { Token } from "./token.ts";

/**
 * The login record of a token that carries a refresh token: the token
 * response as it is, without `expiresAt`, so that no storage ever drops it
 * for clean-up. A plain valid {@linkcode Token}, so every storage keeps it
 * unchanged. It ends only when the token endpoint refuses its refresh token.
 */
export function loginRecordOf(token: Token & { refreshToken: string }): Token {
  const { expiresAt: _, ...record } = token;
  return record;
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
 * The last few values seen, oldest dropped first: the tokens this process
 * retired (rejected, or replaced by its own renewal), so that a storage still
 * showing one never brings it back.
 */
export class RecentSet {
  readonly #values = new Set<string>();
  readonly #size: number;

  constructor(size: number) {
    this.#size = size;
  }

  add(value: string): void {
    this.#values.delete(value);
    this.#values.add(value);
    if (this.#values.size > this.#size) {
      const oldest = this.#values.values().next();
      if (!oldest.done) this.#values.delete(oldest.value);
    }
  }

  has(value: string): boolean {
    return this.#values.has(value);
  }
}
