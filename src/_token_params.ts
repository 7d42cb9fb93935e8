// The parameters every token request of a client carries: its `scope` and `tokenParams`.

/**
 * Parameters the client or a grant sets itself
 * ([RFC 6749 §3.1](https://www.rfc-editor.org/rfc/rfc6749#section-3.1): none may appear twice).
 */
const RESERVED_PARAMS = new Set([
  "grant_type",
  "client_id",
  "client_secret",
  "scope",
  "redirect_uri",
  "response_type",
  "state",
  "code",
  "code_verifier",
  "code_challenge",
  "code_challenge_method",
  "refresh_token",
  // Client assertions (RFC 7521 §4.2), the JWT bearer grant (RFC 7523 §2.1) and token exchange
  // (RFC 8693 §2.1) set these themselves.
  "assertion",
  "client_assertion",
  "client_assertion_type",
  "subject_token",
  "subject_token_type",
  "actor_token",
  "actor_token_type",
  "requested_token_type",
]);

/** Whether a value is a scope-token ([RFC 6749 §3.3](https://www.rfc-editor.org/rfc/rfc6749#section-3.3)). */
export function isScopeToken(value: string): boolean {
  return /^[\x21\x23-\x5B\x5D-\x7E]+$/.test(value);
}

/** The scope, space-joined; `undefined` when none is asked for. */
export function parseScope(scope: unknown): string | undefined {
  if (scope === undefined) return undefined;
  const parts = typeof scope === "string" ? [scope] : scope;
  if (!Array.isArray(parts) || parts.some((part) => typeof part !== "string")) {
    throw new TypeError('Cannot create the client: "scope" must be a string or a list of strings');
  }
  const joined = parts.join(" ").trim().split(/\s+/).filter(Boolean).join(" ");
  return joined === "" ? undefined : joined;
}

/** `tokenParams` as a form, each list item as its own parameter. */
export function parseParams(params: unknown): URLSearchParams {
  const form = new URLSearchParams();
  if (params === undefined) return form;
  if (typeof params !== "object" || params === null) {
    throw new TypeError('Cannot create the client: "tokenParams" must be an object');
  }
  for (const [name, value] of Object.entries(params)) {
    if (RESERVED_PARAMS.has(name)) {
      throw new TypeError(
        `Cannot create the client: "tokenParams" cannot set "${name}"; use its own option`,
      );
    }
    const values = Array.isArray(value) ? value : [value];
    if (values.some((item) => typeof item !== "string")) {
      throw new TypeError(
        `Cannot create the client: "tokenParams.${name}" must be a string or a list of strings`,
      );
    }
    for (const item of values) form.append(name, item);
  }
  return form;
}
