// The pages the loopback listener serves at the redirect URI during a login.

/**
 * Headers of every page: never cached (a fragment may hold a token), never
 * framed, no referrer, and only the scripts and requests the page needs.
 */
function pageHeaders(contentType: string, script?: string): Headers {
  const scriptSource = script === undefined ? "'none'" : `'nonce-${script}'`;
  return new Headers({
    "Content-Type": contentType,
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy":
      `default-src 'none'; script-src ${scriptSource}; connect-src 'self'; frame-ancestors 'none'`,
  });
}

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

function html(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>
<body>
${body}
</body>
</html>
`;
}

/** A page that tells the user how the login went. */
export function messagePage(status: number, message: string): Response {
  const title = status === 200 ? "Login complete" : "Login failed";
  return new Response(html(title, `<p id="status">${escapeHtml(message)}</p>`), {
    status,
    headers: pageHeaders("text/html; charset=utf-8"),
  });
}

/** A plain text answer to the page's script. */
export function plainText(
  status: number,
  message: string,
  headers: Record<string, string> = {},
): Response {
  const all = pageHeaders("text/plain; charset=utf-8");
  for (const [name, value] of Object.entries(headers)) all.set(name, value);
  return new Response(message, { status, headers: all });
}

/**
 * The page served at the redirect URI when the answer is in the fragment
 * ([RFC 6749 §4.2.2](https://www.rfc-editor.org/rfc/rfc6749#section-4.2.2)): its
 * script removes the fragment from the address bar and the history, posts it
 * to the same address, and shows the answer. It never navigates, so it cannot
 * loop.
 */
export function fragmentPage(): Response {
  const nonce = crypto.randomUUID();
  const script = `
(() => {
  const status = document.getElementById("status");
  const answer = location.hash.slice(1);
  history.replaceState(null, "", location.pathname);
  if (answer === "") {
    status.textContent = "This page expects a login answer in its address. You can close this tab.";
    return;
  }
  fetch(location.pathname, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: answer,
  }).then(async (response) => {
    status.textContent = await response.text();
    document.title = response.ok ? "Login complete" : "Login failed";
  }).catch(() => {
    status.textContent = "Cannot reach the application that started the login: is it still running?";
    document.title = "Login failed";
  });
})();
`;
  const body = `<p id="status">Completing the login…</p>
<noscript>This page needs JavaScript to hand the login to the application.</noscript>
<script nonce="${nonce}">${script}</script>`;
  return new Response(html("Completing the login", body), {
    headers: pageHeaders("text/html; charset=utf-8", nonce),
  });
}
