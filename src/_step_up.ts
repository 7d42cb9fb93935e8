// Step-up (RFC 6750 §3.1, and the Model Context Protocol's rule): a protected
// resource's `insufficient_scope` with the scope it needs asks for one new
// authorization, for the union of the scopes. Bounded, since the resource
// chooses what is asked of the user: only from the resource's own answers,
// only scope tokens (RFC 6749 §3.3), a bounded scope string, a few step-ups
// in a while, and the client's scope back as it was when the user refuses.
// (`scopes_supported` need not list every scope: it does not limit a step-up.)

import { isScopeToken } from "./_token_params.ts";
import { coversResource, resourceChallenge } from "./protected_resource.ts";

/** The longest scope a step-up asks for, in characters. */
const MAX_SCOPE_LENGTH = 2048;
/** At most this many step-ups per client in {@linkcode STEP_UP_WINDOW} ms. */
const MAX_STEP_UPS = 3;
const STEP_UP_WINDOW = 10 * 60_000;

/** The step-ups of one protected resource's client. */
export class StepUp {
  readonly #resource: URL;
  readonly #params: URLSearchParams;
  readonly #now: () => number;
  /** When the latest step-ups began, epoch ms. */
  #recent: number[] = [];

  /**
   * @param resource The protected resource: its tokens go only under it.
   * @param params The client's token parameters, whose scope a step-up widens.
   */
  constructor(
    resource: URL,
    params: URLSearchParams,
    now: () => number,
  ) {
    this.#resource = resource;
    this.#params = params;
    this.#now = now;
  }

  /** Whether a request to `url` may carry the resource's token: under the resource only. */
  covers(url: string): boolean {
    try {
      return coversResource(this.#resource.href, new URL(url));
    } catch {
      return false;
    }
  }

  /**
   * The scope a step-up would ask for after `response`: the union of the
   * client's and the one its `401` or `403` `insufficient_scope` names;
   * `undefined` when there is none to ask for (no such challenge, an answer
   * from elsewhere after a redirect, nothing new, a scope that is no
   * scope-token, too long, or too many step-ups lately).
   */
  scopeFor(response: Response): string | undefined {
    if (response.status !== 401 && response.status !== 403) return undefined;
    if (response.url && !this.covers(response.url)) return undefined;
    const challenge = resourceChallenge(response.headers.get("www-authenticate"));
    if (challenge.error !== "insufficient_scope" || !challenge.scope) return undefined;
    const asked = challenge.scope.split(" ").filter(Boolean);
    if (asked.some((scope) => !isScopeToken(scope))) return undefined;
    const current = (this.#params.get("scope") ?? "").split(" ").filter(Boolean);
    const union = [...new Set([...current, ...asked])];
    const scope = union.join(" ");
    if (union.length === current.length || scope.length > MAX_SCOPE_LENGTH) return undefined;
    const now = this.#now();
    this.#recent = this.#recent.filter((at) => now - at < STEP_UP_WINDOW);
    return this.#recent.length < MAX_STEP_UPS ? scope : undefined;
  }

  /**
   * Widens the client's scope for a step-up.
   *
   * @returns Puts the scope back as it was: for a step-up the user refused.
   */
  begin(scope: string): () => void {
    this.#recent.push(this.#now());
    const before = this.#params.get("scope");
    this.#params.set("scope", scope);
    return () => {
      if (before === null) this.#params.delete("scope");
      else this.#params.set("scope", before);
    };
  }
}
