// What a client knows of its tokens, kept in step with its storage: the
// access record and the login record, read and written through a guard that
// bounds every call, and ordered without comparing anyone's clock.

import { abortable } from "./_abort.ts";
import {
  accessRecordOf,
  loginRecordOf,
  type LoginScope,
  RecentSet,
  revocableOf,
  type RevocableToken,
  type RevokeLogin,
  withRefreshToken,
} from "./_login_record.ts";
import { StorageGuard } from "./_storage_guard.ts";
import type { ClientEvent } from "./client_event.ts";
import { storageKeys, type TokenKeyParts, type TokenKeys } from "./storage/storage_key.ts";
import type { TokenLease, TokenStorage } from "./storage/token_storage.ts";
import { bindingDefect, isUsable, isValidToken, type Token } from "./token.ts";

/** Settings of {@linkcode TokenRecords}. */
export interface TokenRecordsOptions {
  storage: TokenStorage;
  /** What the keys are made of. */
  keyParts: TokenKeyParts;
  /** The client's clock, epoch milliseconds. */
  now: () => number;
  /** The token timeout, in milliseconds: also bounds each storage call. */
  timeout: number;
  /** Aborted when the client closes. */
  closed: AbortSignal;
  emit: (event: ClientEvent) => void;
}

/** How many retired access (and refresh) tokens are remembered. */
const RETIRED_KEPT = 8;

/**
 * A client's tokens: the one to send (in memory, so a fresh one costs no
 * storage read), the access record under the access key, and the login
 * record (the latest refresh token) under the login key, shared by every
 * access token of one login.
 *
 * Which record is newer is never decided by comparing times that two
 * machines wrote: a read begun before this process adopted a token it
 * obtained is ignored (a generation count), and a token this process retired
 * (rejected, or replaced by its own renewal) is never adopted again.
 */
export class TokenRecords {
  readonly #options: TokenRecordsOptions;
  readonly #guard: StorageGuard;
  /** The token to send, with the login's refresh token. */
  #current: Token | undefined;
  /** The last access token seen, even expired or rejected: the `previous` of a grant. */
  #lastSeen: Token | undefined;
  /** The login record as this process knows it. */
  #login: Token | undefined;
  /** Whether this process has read the login record yet (or written one). */
  #loginKnown = false;
  /** Counts the tokens this process obtained and adopted: reads begun before are stale. */
  #generation = 0;
  /** Access tokens this process retired (rejected, or replaced): never adopted again. */
  readonly #retired = new RecentSet(RETIRED_KEPT);
  /** Refresh tokens this process saw replaced or refused: a login record showing one is stale. */
  readonly #retiredRefreshTokens = new RecentSet(RETIRED_KEPT);
  /** The storage read under way, shared by every caller that asks meanwhile. */
  #sharedRead: Promise<Token | undefined> | undefined;
  /** The storage keys: hashes, so computed once, on first use. */
  #keys: Promise<TokenKeys> | undefined;

  constructor(options: TokenRecordsOptions) {
    this.#options = options;
    this.#guard = new StorageGuard({
      bound: options.timeout,
      now: options.now,
      probe: async () => options.storage.get((await this.#storageKeys()).access),
      report: (error) => options.emit({ type: "error", phase: "storage", error }),
      closed: options.closed,
    });
  }

  /** The token to send, if this process has one (maybe expired). */
  get current(): Token | undefined {
    return this.#current;
  }

  /**
   * Whether this process has read the login record, or obtained a token: a
   * token read from the storage does not carry its login's refresh token.
   */
  get loginKnown(): boolean {
    return this.#loginKnown;
  }

  /** The login record as this process knows it: the login's refresh token and scope. */
  get login(): Token | undefined {
    return this.#login;
  }

  /** Storage calls under way, each bounded: close() waits for them. */
  get pending(): Promise<unknown>[] {
    return this.#guard.pending;
  }

  /** Whether the storage has a renewal lease through which holders agree on who renews. */
  get leasing(): boolean {
    const { storage } = this.#options;
    return !!storage.acquireLease && !!storage.waitForChange;
  }

  /** Retires an access token a resource rejected: it is not sent or adopted again. */
  reject(accessToken: string): void {
    this.#retired.add(accessToken);
    if (this.#current?.accessToken === accessToken) this.#current = undefined;
  }

  /**
   * One read of the access record for all the requests that ask while it is
   * under way: a cold burst of N requests reads the storage once, not N times.
   */
  readShared(): Promise<Token | undefined> {
    if (this.#sharedRead) return this.#sharedRead;
    const reading = this.read().finally(() => {
      if (this.#sharedRead === reading) this.#sharedRead = undefined;
    });
    this.#sharedRead = reading;
    return reading;
  }

  /**
   * The newest usable knowledge of the access token: the stored one, unless
   * the read began before this process adopted a token it obtained, or the
   * stored one was retired here. A failing or hanging storage, or a record
   * that is not a valid token, reads as empty (and is reported).
   */
  async read(): Promise<Token | undefined> {
    const generation = this.#generation;
    let stored: unknown;
    try {
      stored = await this.#call((s, keys) => s.get(keys.access));
    } catch {
      return this.#current; // reported by the guard
    }
    if (generation !== this.#generation) return this.#current;
    // A record of the other kind (DPoP-bound or not) is not this client's to send.
    const dpop = this.#options.keyParts.boundTo !== undefined;
    if (stored !== undefined && (!isValidToken(stored) || bindingDefect(stored.tokenType, dpop))) {
      this.#reportRecord();
      stored = undefined;
    }
    const token = stored as Token | undefined;
    const current = this.#current;
    if (!token || this.#retired.has(token.accessToken)) return current;
    if (token.accessToken === current?.accessToken) return current;
    const now = this.#options.now();
    if (current && isUsable(current, now) && !isUsable(token, now)) return current;
    // A record of an earlier version carries its login's refresh token itself.
    const { refreshToken } = token;
    if (refreshToken !== undefined && !this.#login) this.#takeLogin({ ...token, refreshToken });
    this.#lastSeen = accessRecordOf(token);
    return this.#current = withRefreshToken(this.#lastSeen, this.#login?.refreshToken);
  }

  /**
   * The token a grant replaces, carrying the login's latest refresh token:
   * read from the login record (under the lease, when there is one), else
   * this process's own.
   */
  async readLogin(): Promise<Token | undefined> {
    let stored: unknown;
    try {
      stored = await this.#call((s, keys) => s.get(keys.login));
      this.#loginKnown = true;
    } catch {
      stored = undefined; // reported by the guard; this process's own knowledge serves
    }
    if (stored !== undefined) {
      if (isValidToken(stored) && stored.refreshToken !== undefined) {
        this.#takeLogin({ ...stored, refreshToken: stored.refreshToken });
      } else this.#reportRecord();
    }
    const last = this.#current ?? this.#lastSeen;
    const login = this.#login;
    return login ? withRefreshToken(last ?? login, login.refreshToken) : last;
  }

  /**
   * Keeps a token this process obtained: in memory, in the login record when
   * it carries a refresh token (fenced by `lease`, the login's; with the
   * login's `scope`), and in the access record when it may be reused.
   *
   * @returns The token to hand out, with the login's refresh token.
   */
  async adopt(
    obtained: Token,
    options: { reusable: boolean; lease?: TokenLease; scope?: LoginScope },
  ): Promise<Token> {
    const { lease, scope } = options;
    const writes: ((storage: TokenStorage, keys: TokenKeys) => Promise<void>)[] = [];
    const { refreshToken } = obtained;
    this.#loginKnown = true;
    if (refreshToken !== undefined) {
      const retiring = this.#login?.refreshToken;
      if (retiring !== undefined && retiring !== refreshToken) {
        this.#retiredRefreshTokens.add(retiring);
      }
      const login = loginRecordOf({ ...obtained, refreshToken }, scope);
      this.#setLogin(login);
      // A holder whose lease ran out writes nothing over a newer login.
      writes.push((s, keys) => s.set(keys.login, login, { lease }));
    }
    const record = this.#lastSeen = accessRecordOf(obtained);
    const token = withRefreshToken(obtained, this.#login?.refreshToken);
    if (options.reusable) {
      const replaced = this.#current?.accessToken;
      if (replaced !== undefined && replaced !== obtained.accessToken) this.#retired.add(replaced);
      this.#generation++;
      this.#current = token;
      // Not fenced: the lease is the login's, and either holder's token is good.
      writes.push((s, keys) => s.set(keys.access, record));
    }
    for (const write of writes) await this.#call(write).catch(() => {});
    return token;
  }

  /**
   * Forgets a login whose refresh token the token endpoint refused
   * ([RFC 6749 §5.2](https://www.rfc-editor.org/rfc/rfc6749#section-5.2) `invalid_grant`),
   * unless its record changed since: the one way a login record ends.
   */
  async endLogin(refreshToken: string): Promise<void> {
    this.#retiredRefreshTokens.add(refreshToken);
    const login = this.#login;
    if (login?.refreshToken !== refreshToken) return;
    this.#setLogin(undefined);
    const accessToken = login.accessToken;
    await this.#call((s, keys) => s.delete(keys.login, { accessToken })).catch(() => {});
  }

  /**
   * Ends the login: `revoke` gets its refresh token, else its access token,
   * as the storage has them (another process may have renewed); once it
   * succeeds, the access record and the login record are deleted, and what
   * this process knew is retired, so that no read brings it back. When
   * `revoke` throws, everything is kept (after a 503 the token still exists,
   * [RFC 7009 §2.2.1](https://www.rfc-editor.org/rfc/rfc7009#section-2.2.1)).
   *
   * @returns What was revoked; `undefined` when there was no token (nothing is sent).
   */
  async revoke(revoke: RevokeLogin, signal?: AbortSignal): Promise<RevocableToken | undefined> {
    await abortable(this.read(), signal);
    const login = await abortable(this.readLogin(), signal);
    if (login === undefined) return undefined;
    const revocable = revocableOf(login);
    await revoke(revocable);
    for (const known of [this.#current, this.#lastSeen, this.#login, login]) {
      if (known) this.#retired.add(known.accessToken);
    }
    if (login.refreshToken !== undefined) this.#retiredRefreshTokens.add(login.refreshToken);
    // Reads begun before this are stale: they see the revoked tokens.
    this.#generation++;
    this.#current = this.#lastSeen = undefined;
    this.#setLogin(undefined);
    // Unconditional: a logout leaves nothing stored for this client.
    await this.#call((s, keys) => s.delete(keys.access)).catch(() => {});
    await this.#call((s, keys) => s.delete(keys.login)).catch(() => {});
    return revocable;
  }

  /** Takes the renewal lease, on the login key (one renewal per login). */
  acquireLease(ttl: number, signal: AbortSignal): Promise<TokenLease | undefined> {
    return this.#call((s, keys) => s.acquireLease!(keys.login, { ttl, signal }));
  }

  /** Gives the lease up; a failure is reported by the guard and otherwise ignored. */
  async release(lease: TokenLease): Promise<void> {
    await this.#call(() => lease.release()).catch(() => {});
  }

  /** Waits up to `timeout` ms for the holder of the login's lease to finish. */
  waitForChange(timeout: number, signal: AbortSignal): Promise<void> {
    return this.#call((s, keys) => s.waitForChange!(keys.login, { timeout, signal }), timeout);
  }

  /** Adopts a login record unless it shows a refresh token this process saw retired. */
  #takeLogin(record: Token & { refreshToken: string }): void {
    if (!this.#retiredRefreshTokens.has(record.refreshToken)) this.#setLogin(loginRecordOf(record));
  }

  #setLogin(login: Token | undefined): void {
    this.#login = login;
    if (this.#current) this.#current = withRefreshToken(this.#current, login?.refreshToken);
  }

  #reportRecord(): void {
    const error = new TypeError("Cannot use the stored token: the record is not a valid token");
    this.#options.emit({ type: "error", phase: "storage", error });
  }

  /** Calls the storage with the keys, through the guard (bounded; skipped while down). */
  #call<T>(call: (storage: TokenStorage, keys: TokenKeys) => Promise<T>, extra = 0): Promise<T> {
    return this.#guard.call(
      async () => await call(this.#options.storage, await this.#storageKeys()),
      extra,
    );
  }

  /** The storage keys (hashes, computed once): the access key also names the token's limits. */
  keys(): Promise<TokenKeys> {
    return this.#storageKeys();
  }

  #storageKeys(): Promise<TokenKeys> {
    this.#keys ??= storageKeys(this.#options.keyParts).catch((error) => {
      this.#keys = undefined; // try again on the next call
      throw error;
    });
    return this.#keys;
  }
}
