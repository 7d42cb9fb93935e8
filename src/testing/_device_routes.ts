// The stand-in server's device authorization grant
// ([RFC 8628](https://www.rfc-editor.org/rfc/rfc8628)): the device authorization endpoint
// (`/device_authorization`, §3.1–3.2), the verification page where the "user" approves a code
// (`/device`, a GET with `user_code`, as a browser opening `verification_uri_complete`), and the
// token endpoint's answers to `grant_type=urn:ietf:params:oauth:grant-type:device_code` (§3.4–3.5).
// The client authenticates at the device authorization endpoint as at the token endpoint (§3.1),
// and its tokens come with a refresh token, as a browser login's do.

import type { LoginDesk } from "./_authorization.ts";
import type { ClientAuthenticator } from "./_client_auth.ts";
import { targetProblem } from "./_issued_tokens.ts";
import type { AuthServerOptions } from "./auth_server_options.ts";
import type { RecordedRequest } from "./recorded_request.ts";

/** The grant type of a device access token request (RFC 8628 §3.4). */
export const DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code";

/** The device authorization endpoint's path, which the metadata advertises. */
export const DEVICE_AUTHORIZATION_PATH = "/device_authorization";

/** The paths this desk answers. */
export function isDevicePath(path: string): boolean {
  return path === DEVICE_AUTHORIZATION_PATH || path === "/device";
}

interface DeviceCodes {
  /** The client the codes were issued to: only it may poll with them. */
  clientId: string;
  scope: string | null;
  /** The `resource`s of the request ([RFC 8707](https://www.rfc-editor.org/rfc/rfc8707)). */
  resources: string[];
  userCode: string;
  expiresAt: number;
  approved: boolean;
  /** Whether a token was issued: the code is then used up. */
  used: boolean;
}

/** Issues device codes, approves them, and answers their polls. */
export class DeviceDesk {
  readonly #options: NonNullable<AuthServerOptions["deviceAuthorization"]>;
  readonly #origin: string;
  readonly #now: () => number;
  readonly #clients: ClientAuthenticator;
  readonly #logins: LoginDesk;
  readonly #codes = new Map<string, DeviceCodes>();
  #count = 0;

  /**
   * @param options The server's options: `deviceAuthorization`'s answers, lifetime and interval.
   * @param origin The server's origin, for the verification URI.
   * @param now The server's clock.
   * @param clients Authenticates the client, as the token endpoint does.
   * @param logins Issues the tokens with a refresh token, as for a browser login.
   */
  constructor(
    options: AuthServerOptions,
    origin: string,
    now: () => number,
    clients: ClientAuthenticator,
    logins: LoginDesk,
  ) {
    this.#options = options.deviceAuthorization ?? {};
    this.#origin = origin;
    this.#now = now;
    this.#clients = clients;
    this.#logins = logins;
  }

  /** Answers `/device_authorization` (RFC 8628 §3.2) and `/device` (the user's approval). */
  async handle(url: URL, recorded: RecordedRequest): Promise<Response> {
    if (url.pathname === "/device") return this.#approve(url.searchParams.get("user_code"));
    if (recorded.method !== "POST") return error("invalid_request", "Use POST", 405);
    recorded.form = new URLSearchParams(new TextDecoder().decode(recorded.body));
    // RFC 8628 §3.1: the client authenticates as at the token endpoint, or names itself.
    const { clientId, error: refused } = await this.#clients.authenticate(recorded, url.href);
    if (refused) return refused;
    if (!clientId) return error("invalid_request", "The client is not named");
    const resources = recorded.form.getAll("resource");
    const target = targetProblem(resources);
    if (target !== undefined) return error("invalid_target", target);
    const deviceCode = `dc-${++this.#count}-${crypto.randomUUID()}`;
    const userCode = `USER-${String(this.#count).padStart(4, "0")}`;
    const expiresIn = this.#options.expiresIn ?? 600;
    this.#codes.set(deviceCode, {
      clientId,
      scope: recorded.form.get("scope"),
      resources,
      userCode,
      expiresAt: this.#now() + expiresIn * 1000,
      approved: false,
      used: false,
    });
    const verificationUri = `${this.#origin}/device`;
    const answer: Record<string, unknown> = {
      device_code: deviceCode,
      user_code: userCode,
      verification_uri: verificationUri,
      verification_uri_complete: `${verificationUri}?user_code=${userCode}`,
      expires_in: expiresIn,
    };
    if (this.#options.interval !== undefined) answer.interval = this.#options.interval;
    return Response.json(answer, { headers: { "Cache-Control": "no-store" } });
  }

  /**
   * Answers a device access token request (RFC 8628 §3.5): the next scripted
   * answer, if any; else `expired_token` past the codes' lifetime, a token
   * once the user approved (with a refresh token), `authorization_pending` before.
   *
   * @param recorded The token request, its form read.
   * @param clientId The client the token endpoint authenticated.
   * @returns `undefined` for another grant type.
   */
  token({ form }: RecordedRequest, clientId: string | null): Response | undefined {
    if (form.get("grant_type") !== DEVICE_CODE_GRANT) return undefined;
    const codes = this.#codes.get(form.get("device_code") ?? "");
    if (codes === undefined || codes.used) {
      return error("invalid_grant", "The device code is unknown or used");
    }
    if (codes.clientId !== clientId) {
      return error("invalid_grant", "The device code was issued to another client");
    }
    const scripted = this.#options.answers?.shift();
    if (scripted !== undefined) return error(scripted);
    if (this.#now() >= codes.expiresAt) return error("expired_token");
    if (!codes.approved) return error("authorization_pending");
    codes.used = true;
    return this.#logins.logIn(
      codes.clientId,
      codes.scope,
      codes.resources,
      form.getAll("resource"),
    );
  }

  #approve(userCode: string | null): Response {
    for (const codes of this.#codes.values()) {
      if (codes.userCode === userCode) {
        codes.approved = true;
        return new Response("Approved", { headers: { "Content-Type": "text/plain" } });
      }
    }
    return new Response("Cannot approve: unknown user code", { status: 400 });
  }
}

function error(code: string, description?: string, status = 400): Response {
  return Response.json(
    description === undefined ? { error: code } : { error: code, error_description: description },
    { status },
  );
}
