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
import { StorageGuard, type StorageGuardHost } from "./_storage_guard.ts";
import type { ClientEvent } from "./client_event.ts";
import type { Grant } from "./grant.ts";
import { loginKey, storageKey, type TokenKeyParts } from "./storage/storage_key.ts";
import type { TokenLease, TokenStorage } from "./storage/token_storage.ts";
import { MemoryTokenStorage } from "./storage/memory.ts";
import { bindingDefect, frozenToken, isUsable, isValidToken, type Token } from "./token.ts";

/**
 * Settings of {@linkcode TokenRecords}: a subset of the token provider's, so
 * that both share one object. The grant, parameters, credential and DPoP key
 * go into the keys with the endpoint (see `TokenKeyParts`).
 */
export interface TokenRecordsOptions {
  storage: TokenStorage;
  grant: Grant;
  params: URLSearchParams;
  credential?: string;
  boundTo?: () => Promise<string>;
  /** The client's clock, epoch milliseconds. */
  now: () => number;
  /** The token timeout, in milliseconds: also bounds each storage call. */
  timeout: number;
  onEvent?: (event: ClientEvent) => void;
}

/** Hands `event` to the listener, if any: a listener's failure is not the request's. */
export function emitEvent(
  onEvent: ((event: ClientEvent) => void) | undefined,
  event: ClientEvent,
): void {
  try {
    onEvent?.(event);
  } catch {
    // A listener's failure is not the request's.
  }
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
export class TokenRecords implements StorageGuardHost {
  readonly #options: TokenRecordsOptions;
  /** The endpoint (or issuer) URL's text and the client: the keys name them as before discovery. */
  readonly #url: string;
  readonly #clientId: string;
  /** The guard of the storage calls, while one is under way or the storage is in trouble. */
  #guard: StorageGuard | undefined;
  #closed = false;
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
  /** Access tokens this process retired (rejected, or replaced): never adopted again. Made on first use. */
  #retired: RecentSet | undefined;
  /** Refresh tokens this process saw replaced or refused: a login record showing one is stale. */
  #retiredRefreshTokens: RecentSet | undefined;
  /** The storage read under way, shared by every caller that asks meanwhile. */
  #sharedRead: Promise<Token | undefined> | undefined;
  /** The access key: a hash, so computed once, on first use (the login key, at each use). */
  #accessKey: string | undefined;
  /** The computation of the access key under way. */
  #computingAccessKey: Promise<string> | undefined;

  /**
   * @param options The storage, what goes into the keys, the clock and the timeout.
   * @param endpoint The token endpoint (or issuer) and the client identifier,
   *   read once: the keys name them as they are before any discovery.
   */
  constructor(options: TokenRecordsOptions, endpoint: { url: URL; clientId: string }) {
    this.#options = options;
    this.#url = endpoint.url.href;
    this.#clientId = endpoint.clientId;
  }

  // The guard's host (StorageGuardHost): the bound, the clock, the probe, the report.
  get storageBound(): number {
    return this.#options.timeout;
  }
  get closed(): boolean {
    return this.#closed;
  }
  now(): number {
    return this.#options.now();
  }
  async probeStorage(): Promise<unknown> {
    return await this.#options.storage.get(await this.accessKey());
  }
  reportStorageFailure(error: unknown): void {
    emitEvent(this.#options.onEvent, { type: "error", phase: "storage", error });
  }

  /** Marks the client closed: storage failures from now on are its closing's. */
  close(): void {
    this.#closed = true;
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

  /** The access key if computed already (see `accessKey()`): reading it computes nothing. */
  get knownAccessKey(): string | undefined {
    return this.#accessKey;
  }

  /** Storage calls under way, each bounded: close() waits for them. */
  get pending(): Promise<unknown>[] {
    return this.#guard?.pending ?? [];
  }

  /** Whether the storage has a renewal lease through which holders agree on who renews. */
  get leasing(): boolean {
    const { storage } = this.#options;
    return !!storage.acquireLease && !!storage.waitForChange;
  }

  /** Retires an access token a resource rejected: it is not sent or adopted again. */
  reject(accessToken: string): void {
    this.#retire(accessToken);
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
      stored = await this.#call(async (s) => s.get(await this.accessKey()));
    } catch {
      return this.#current; // reported by the guard
    }
    if (generation !== this.#generation) return this.#current;
    // A record of the other kind (DPoP-bound or not) is not this client's to send.
    const dpop = this.#options.boundTo !== undefined;
    if (stored !== undefined && (!isValidToken(stored) || bindingDefect(stored.tokenType, dpop))) {
      this.#reportRecord();
      stored = undefined;
    }
    const token = stored as Token | undefined;
    const current = this.#current;
    if (!token || this.#retired?.has(token.accessToken)) return current;
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
      stored = await this.#call(async (s) => s.get(await this.loginKey()));
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
    const writes: ((storage: TokenStorage) => Promise<void>)[] = [];
    const { refreshToken } = obtained;
    this.#loginKnown = true;
    if (refreshToken !== undefined) {
      const retiring = this.#login?.refreshToken;
      if (retiring !== undefined && retiring !== refreshToken) {
        this.#retireRefreshToken(retiring);
      }
      const login = loginRecordOf({ ...obtained, refreshToken }, scope);
      this.#setLogin(login);
      // A holder whose lease ran out writes nothing over a newer login.
      writes.push(async (s) => s.set(await this.loginKey(), login, { lease }));
    }
    // Frozen: the memory storage keeps this very object instead of a copy of its own.
    const record = this.#lastSeen = frozenToken(accessRecordOf(obtained));
    const token = withRefreshToken(record, this.#login?.refreshToken);
    if (options.reusable) {
      const replaced = this.#current?.accessToken;
      if (replaced !== undefined && replaced !== obtained.accessToken) this.#retire(replaced);
      this.#generation++;
      this.#current = token;
      // Not fenced: the lease is the login's, and either holder's token is good.
      // Any other storage gets a copy, which it may change (as before records were frozen).
      const stored = this.#options.storage instanceof MemoryTokenStorage ? record : { ...record };
      writes.push(async (s) => s.set(await this.accessKey(), stored));
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
    this.#retireRefreshToken(refreshToken);
    const login = this.#login;
    if (login?.refreshToken !== refreshToken) return;
    this.#setLogin(undefined);
    const accessToken = login.accessToken;
    await this.#call(async (s) => s.delete(await this.loginKey(), { accessToken })).catch(() => {});
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
      if (known) this.#retire(known.accessToken);
    }
    if (login.refreshToken !== undefined) this.#retireRefreshToken(login.refreshToken);
    // Reads begun before this are stale: they see the revoked tokens.
    this.#generation++;
    this.#current = this.#lastSeen = undefined;
    this.#setLogin(undefined);
    // Unconditional: a logout leaves nothing stored for this client.
    await this.#call(async (s) => s.delete(await this.accessKey())).catch(() => {});
    await this.#call(async (s) => s.delete(await this.loginKey())).catch(() => {});
    return revocable;
  }

  /** Takes the renewal lease, on the login key (one renewal per login). */
  acquireLease(ttl: number, signal: AbortSignal): Promise<TokenLease | undefined> {
    return this.#call(async (s) => await s.acquireLease!(await this.loginKey(), { ttl, signal }));
  }

  /** Gives the lease up; a failure is reported by the guard and otherwise ignored. */
  async release(lease: TokenLease): Promise<void> {
    await this.#call(() => lease.release()).catch(() => {});
  }

  /** Waits up to `timeout` ms for the holder of the login's lease to finish. */
  waitForChange(timeout: number, signal: AbortSignal): Promise<void> {
    return this.#call(
      async (s) => await s.waitForChange!(await this.loginKey(), { timeout, signal }),
      timeout,
    );
  }

  /** Adopts a login record unless it shows a refresh token this process saw retired. */
  #takeLogin(record: Token & { refreshToken: string }): void {
    if (!this.#retiredRefreshTokens?.has(record.refreshToken)) {
      this.#setLogin(loginRecordOf(record));
    }
  }

  #retire(accessToken: string): void {
    (this.#retired ??= new RecentSet(RETIRED_KEPT)).add(accessToken);
  }

  #retireRefreshToken(refreshToken: string): void {
    (this.#retiredRefreshTokens ??= new RecentSet(RETIRED_KEPT)).add(refreshToken);
  }

  #setLogin(login: Token | undefined): void {
    this.#login = login;
    if (this.#current) this.#current = withRefreshToken(this.#current, login?.refreshToken);
  }

  #reportRecord(): void {
    const error = new TypeError("Cannot use the stored token: the record is not a valid token");
    emitEvent(this.#options.onEvent, { type: "error", phase: "storage", error });
  }

  /** Calls the storage through the guard (bounded, skipped while down); keys are computed within. */
  #call<T>(call: (storage: TokenStorage) => Promise<T>, extra = 0): Promise<T> {
    // A guard at rest (storage healthy, nothing under way) is as good as a new
    // one: an idle client holds none.
    const guard = this.#guard ??= new StorageGuard(this);
    const called = guard.call(async () => await call(this.#options.storage), extra);
    const settled = () => {
      if (this.#guard === guard && guard.atRest) this.#guard = undefined;
    };
    called.then(settled, settled);
    return called;
  }

  /** The access record's key, which also names the token's limits: a hash, so computed once. */
  accessKey(): Promise<string> {
    // Kept as the key, not as its promise: a client holds no promise while idle.
    if (this.#accessKey !== undefined) return Promise.resolve(this.#accessKey);
    return this.#computingAccessKey ??= storageKey(this.#keyParts()).then(
      (key) => {
        this.#computingAccessKey = undefined;
        return this.#accessKey = key;
      },
      (error) => {
        this.#computingAccessKey = undefined; // try again on the next call
        throw error;
      },
    );
  }

  /** The login record's key, also the lease's: computed at each use (an idle client needs none). */
  loginKey(): Promise<string> {
    return loginKey(this.#keyParts());
  }

  #keyParts(): TokenKeyParts {
    const { credential, grant, params, boundTo } = this.#options;
    return { url: this.#url, clientId: this.#clientId, credential, grant, params, boundTo };
  }
}
