// Step-up (RFC 6750 §3.1, and the Model Context Protocol's rule): a resource's
// `insufficient_scope` with the scope it needs asks for one new authorization.

import { resourceChallenge } from "./protected_resource.ts";

/**
 * The scope a step-up asks for: the union of the client's and the one a
 * `401` or `403` with `insufficient_scope` names; `undefined` when the answer
 * is no such challenge, or the union is no wider (never a loop).
 */
export function stepUpScope(response: Response, params: URLSearchParams): string | undefined {
  if (response.status !== 401 && response.status !== 403) return undefined;
  const challenge = resourceChallenge(response.headers.get("www-authenticate"));
  if (challenge.error !== "insufficient_scope" || !challenge.scope) return undefined;
  const current = (params.get("scope") ?? "").split(" ").filter(Boolean);
  const union = [...new Set([...current, ...challenge.scope.split(" ").filter(Boolean)])];
  return union.length > current.length ? union.join(" ") : undefined;
}
