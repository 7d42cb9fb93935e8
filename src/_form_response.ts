// Token responses sent as a form (`application/x-www-form-urlencoded`) instead of JSON:
// GitHub does without `Accept: application/json`, and so do some older servers.

/** Whether a `Content-Type` names a form body (`application/x-www-form-urlencoded`). */
export function isFormContentType(contentType: string | null | undefined): boolean {
  const type = contentType?.split(";", 1)[0]?.trim().toLowerCase();
  return type === "application/x-www-form-urlencoded";
}

/**
 * Reads a form body into the members a JSON token response would have, all
 * strings (`expires_in` included: the parser accepts numeric strings).
 *
 * @param text The response body.
 * @returns The members, or `undefined` when the body is empty or repeats a
 * name ([RFC 6749 §3.1](https://www.rfc-editor.org/rfc/rfc6749#section-3.1):
 * no parameter may appear twice, and which copy counts would be a guess).
 */
export function parseFormBody(text: string): Record<string, string> | undefined {
  const entries = [...new URLSearchParams(text.trim())];
  const names = new Set(entries.map(([name]) => name));
  if (entries.length === 0 || names.size !== entries.length) return undefined;
  // fromEntries defines own members: a "__proto__" name stays a plain member.
  return Object.fromEntries(entries);
}
