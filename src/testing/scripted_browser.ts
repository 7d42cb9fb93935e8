/**
 * A scripted browser for tests of browser logins: it follows the
 * authorization server's redirects to the login listener and does what the
 * listener's page script does.
 *
 * @module
 */

import { isLoopbackHost } from "../_endpoint_url.ts";

/**
 * The last page a {@linkcode ScriptedBrowser} visit ended on: what the user
 * would see after a login.
 *
 * @example The page a user sees when they refuse the login
 * ```ts
 * import assert from "node:assert/strict";
 * import { Client, ImplicitGrant, TokenError } from "@alf/client";
 * import { type BrowserPage, ScriptedBrowser, startAuthServer } from "@alf/client/testing";
 *
 * await using server = await startAuthServer();
 * server.failAuthorizations(1); // access_denied, as when the user says no
 * await using browser = new ScriptedBrowser();
 * await using client = new Client({
 *   tokenEndpoint: server.tokenEndpoint,
 *   clientId: "cli",
 *   grant: new ImplicitGrant({ openBrowser: browser.open, portRange: [0, 0] }),
 * });
 * await assert.rejects(client.getToken(), TokenError);
 * await browser.close(); // waits for the visit to end
 * const [page]: BrowserPage[] = browser.pages;
 * assert(page);
 * assert.equal(new URL(page.url).pathname, "/callback");
 * assert.equal(page.status, 400);
 * assert.match(page.text, /access_denied/);
 * ```
 */
export interface BrowserPage {
  /** The page's address, without its fragment. */
  url: string;
  /** The HTTP status of the page (of the posted answer, when the page posted one). */
  status: number;
  /** The text of the page (of the answer to the post, when the page posted one). */
  text: string;
}

/**
 * Options of {@linkcode ScriptedBrowser}: its transport and how many redirects
 * a visit follows.
 *
 * @example Watching every request of a login
 * ```ts
 * import assert from "node:assert/strict";
 * import { Client, ImplicitGrant } from "@alf/client";
 * import {
 *   ScriptedBrowser,
 *   type ScriptedBrowserOptions,
 *   startAuthServer,
 * } from "@alf/client/testing";
 *
 * await using server = await startAuthServer();
 * const requests: string[] = [];
 * const options: ScriptedBrowserOptions = {
 *   fetch: (input, init) => {
 *     const url = new URL(input instanceof Request ? input.url : input);
 *     requests.push(`${init?.method ?? "GET"} ${url.pathname}`);
 *     return fetch(input, init);
 *   },
 *   maxRedirects: 1, // the authorization endpoint's redirect to the listener
 * };
 * await using browser = new ScriptedBrowser(options);
 * await using client = new Client({
 *   tokenEndpoint: server.tokenEndpoint,
 *   clientId: "cli",
 *   grant: new ImplicitGrant({ openBrowser: browser.open, portRange: [0, 0] }),
 * });
 * await client.getToken();
 * await browser.close();
 * // The login page, then its script posting the token from the fragment back.
 * assert.deepEqual(requests, ["GET /token/authorize", "GET /callback", "POST /callback"]);
 * ```
 */
export interface ScriptedBrowserOptions {
  /** The transport. Default: `globalThis.fetch`. */
  fetch?: typeof fetch;
  /** How many redirects one visit follows at most. Default: 10. */
  maxRedirects?: number;
}

/**
 * Stands in for the user's browser in tests: pass its `open` as the
 * `openBrowser` option of a browser login.
 *
 * A visit fetches the authorization URL, follows redirects, and when the last
 * page was reached with a URL fragment (the implicit grant's token), posts
 * the fragment to that page's address, as the login page's script does. It
 * only visits loopback addresses. Close it (or `await using`) to wait for
 * visits still in progress.
 *
 * @example Watching a login
 * ```ts
 * import assert from "node:assert/strict";
 * import { Client, ImplicitGrant } from "@alf/client";
 * import { ScriptedBrowser, startAuthServer } from "@alf/client/testing";
 *
 * await using server = await startAuthServer();
 * await using browser = new ScriptedBrowser();
 * await using client = new Client({
 *   tokenEndpoint: server.tokenEndpoint,
 *   clientId: "cli",
 *   grant: new ImplicitGrant({ openBrowser: browser.open, portRange: [0, 0] }),
 * });
 * await client.getToken();
 * await browser.close();
 * assert.equal(browser.opened.length, 1);
 * assert.equal(browser.pages[0]?.text, "Login complete, you can close this tab");
 * ```
 */
export class ScriptedBrowser implements AsyncDisposable {
  /** Every URL given to `open`, in order. */
  readonly opened: string[] = [];
  /** The page each finished visit ended on, in order. */
  readonly pages: BrowserPage[] = [];
  /**
   * Visits `url`; bound, so it can be passed on as is.
   *
   * @param url The authorization URL.
   * @returns When the visit is over.
   * @throws {TypeError} for an address that is not loopback, too many redirects, or a
   * network error.
   */
  readonly open: (url: string) => Promise<void>;
  readonly #fetch: typeof fetch;
  readonly #maxRedirects: number;
  readonly #visits = new Set<Promise<void>>();

  /**
   * Creates a browser that has visited nothing.
   *
   * @param options The transport and the redirect limit.
   */
  constructor(options: ScriptedBrowserOptions = {}) {
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.#maxRedirects = options.maxRedirects ?? 10;
    this.open = (url) => {
      this.opened.push(url);
      const visit = this.#visit(url);
      const tracked = visit.catch(() => {}).finally(() => this.#visits.delete(tracked));
      this.#visits.add(tracked);
      return visit;
    };
  }

  /** Waits for the visits in progress. */
  async close(): Promise<void> {
    while (this.#visits.size > 0) await Promise.all(this.#visits);
  }

  /** Same as {@linkcode ScriptedBrowser.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #visit(start: string): Promise<void> {
    let url = new URL(start);
    for (let hops = 0;; hops++) {
      if (!isLoopbackHost(url.hostname)) {
        throw new TypeError(
          `Cannot visit ${url.origin}: the scripted browser only visits loopback addresses`,
        );
      }
      const response = await this.#fetch(url, { redirect: "manual" });
      const location = response.headers.get("location");
      if (response.status >= 300 && response.status < 400 && location !== null) {
        await response.body?.cancel();
        if (hops >= this.#maxRedirects) {
          throw new TypeError(`Cannot visit ${start}: more than ${this.#maxRedirects} redirects`);
        }
        const next = new URL(location, url);
        // A redirect without a fragment keeps the current one
        // ([RFC 9110 §10.2.2](https://www.rfc-editor.org/rfc/rfc9110#section-10.2.2)).
        if (next.hash === "" && url.hash !== "") next.hash = url.hash;
        url = next;
        continue;
      }
      const text = await response.text();
      const address = url.href.replace(/#.*$/, "");
      if (url.hash.length > 1 && response.ok) {
        // What the login page's script does: post the fragment to its own address.
        const answer = await this.#fetch(address, {
          method: "POST",
          headers: {
            "Content-Type": "application/x-www-form-urlencoded",
            "Origin": url.origin,
          },
          body: url.hash.slice(1),
        });
        this.pages.push({ url: address, status: answer.status, text: await answer.text() });
      } else {
        this.pages.push({ url: address, status: response.status, text });
      }
      return;
    }
  }
}
