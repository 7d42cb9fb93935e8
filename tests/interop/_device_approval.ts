// The user on another device, for the device flow at oidc-provider: a browser
// that keeps cookies and submits forms as they are written, and the steps of
// an approval (the code, the confirmation, the sign-in, the consent).

import assert from "node:assert/strict";
import type { DeviceUserCode } from "../../mod.ts";

/** A user's browser on another device: cookies, and forms submitted as they are written. */
export class FormBrowser {
  readonly #cookies = new Map<string, string>();

  /** Requests `url`, following redirects as a browser does; returns the last page. */
  async open(url: string, form?: Record<string, string>): Promise<{ url: string; html: string }> {
    let init: RequestInit | undefined = form && { method: "POST", body: new URLSearchParams(form) };
    for (let hops = 0; hops < 10; hops++) {
      const headers = new Headers(init?.headers);
      headers.set("Cookie", [...this.#cookies].map(([k, v]) => `${k}=${v}`).join("; "));
      const response = await fetch(url, { ...init, headers, redirect: "manual" });
      for (const cookie of response.headers.getSetCookie()) {
        const [pair = "", ...attributes] = cookie.split(";");
        const [name = "", value = ""] = pair.trim().split(/=(.*)/s);
        const gone = attributes.some((a) => /^\s*expires=Thu, 01 Jan 1970/i.test(a));
        if (gone) this.#cookies.delete(name);
        else this.#cookies.set(name, value);
      }
      const location = response.headers.get("location");
      if (response.status < 300 || response.status > 399 || location === null) {
        const html = await response.text();
        assert.equal(response.status, 200, `${url}: ${html.slice(0, 500)}`);
        return { url, html };
      }
      await response.body?.cancel();
      url = new URL(location, url).href;
      init = undefined;
    }
    throw new Error("Too many redirects");
  }

  /** Submits the page's form (the one with `id`, else the first), with `extra` values. */
  submit(page: { url: string; html: string }, extra: Record<string, string> = {}, id?: string) {
    const forms = [...page.html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/g)];
    const match = id === undefined ? forms[0] : forms.find((f) => f[1]?.includes(`id="${id}"`));
    assert(match, `no form in ${page.url}: ${page.html.slice(0, 500)}`);
    const action = /action="([^"]*)"/.exec(match[1] ?? "")?.[1] ?? page.url;
    const values: Record<string, string> = {};
    for (const input of (match[2] ?? "").matchAll(/<input\b([^>]*)>/g)) {
      const name = /name="([^"]*)"/.exec(input[1] ?? "")?.[1];
      const value = /value="([^"]*)"/.exec(input[1] ?? "")?.[1] ?? "";
      if (name !== undefined) values[name] = value;
    }
    return this.open(new URL(action.replaceAll("&amp;", "&"), page.url).href, {
      ...values,
      ...extra,
    });
  }
}

/**
 * The user at another device, as `login`: opens the address with the code,
 * confirms the code, signs in and consents on oidc-provider's pages; or aborts.
 */
export async function approveDeviceCode(
  code: DeviceUserCode,
  { login = "alice", answer = "approve" }: { login?: string; answer?: "approve" | "abort" } = {},
): Promise<void> {
  const browser = new FormBrowser();
  // A page whose form posts the code (and the form's xsrf token) back, as a script would.
  const posting = await browser.open(code.verificationUriComplete!);
  const confirm = await browser.submit(posting);
  assert.match(confirm.html, /Confirm Device/);
  if (answer === "abort") {
    const aborted = await browser.submit(confirm, { abort: "yes" }, "op.deviceConfirmForm");
    assert.match(aborted.html, /Error: AbortedError/);
    return;
  }
  const form = await browser.submit(confirm, {}, "op.deviceConfirmForm");
  assert.match(form.html, /name="login"/);
  const consent = await browser.submit(form, { login, password: "any" });
  assert.match(consent.html, /name="prompt" value="consent"/);
  const done = await browser.submit(consent);
  assert.match(done.html, /Sign-in Success/);
}
