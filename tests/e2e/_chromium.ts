// A real headless Chromium as the `openBrowser` of a login, and a look at its
// page through the DevTools protocol once the login is over.

import { requireBinary } from "../_requirements.ts";

/** Why the browser tests are skipped (no Chromium), or `undefined` when they run. */
export const chromiumSkipReason: string | undefined = await requireBinary(
  "chromium",
  "apt-get install -y chromium",
);

/** The options of a test that needs Chromium: `Deno.test(name, withChromium, fn)`. */
export const withChromium: { ignore: boolean } = { ignore: chromiumSkipReason !== undefined };

/** The flags every run uses: no sandbox (root in CI), no network of its own. */
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--remote-debugging-address=127.0.0.1",
  "--remote-debugging-port=0",
];

/** What the page in the tab shows. */
export interface PageState {
  title: string;
  text: string;
  href: string;
  /** `document.readyState`: `loading` while the body may still be half parsed. */
  readyState: string;
}

/**
 * One headless Chromium, started by `open` with a fresh profile in a temporary
 * directory; `close` kills it, waits for its exit and removes the profile.
 */
export class HeadlessChromium implements AsyncDisposable {
  /** The URLs opened, in order. */
  readonly opened: string[] = [];
  #child?: Deno.ChildProcess;
  #profile?: string;
  readonly #flags: string[];

  /** @param flags Command line flags on top of the usual ones. */
  constructor(flags: string[] = []) {
    this.#flags = flags;
  }

  /** Starts Chromium at `url`; a launcher for the `openBrowser` option. */
  readonly open = async (url: string): Promise<void> => {
    if (this.#child) throw new Error("Cannot open Chromium: it is open already");
    this.opened.push(url);
    this.#profile = await Deno.makeTempDir({ prefix: "alf-e2e-chromium-" });
    this.#child = new Deno.Command("chromium", {
      args: [...FLAGS, ...this.#flags, `--user-data-dir=${this.#profile}`, url],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
  };

  /**
   * The page of the tab once it has loaded and its title is no longer
   * `pending`, read through the DevTools protocol. (The title is parsed before
   * the body: a page read while loading can have its final title and no text.)
   */
  settledPage(pending: string): Promise<PageState> {
    return this.pageWhen((state) =>
      state.readyState === "complete" && state.title !== "" && state.title !== pending
    );
  }

  /** The page of the tab once `ready` says so, read through the DevTools protocol. */
  async pageWhen(ready: (state: PageState) => boolean): Promise<PageState> {
    const deadline = Date.now() + 30_000;
    let state: PageState | undefined;
    while (Date.now() < deadline) {
      state = await this.#evaluate<PageState>(
        "({ title: document.title, text: document.body?.innerText ?? '', href: location.href, readyState: document.readyState })",
      ).catch(() => undefined);
      if (state && ready(state)) return state;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`Cannot read the page: it still shows ${JSON.stringify(state)}`);
  }

  /** Kills Chromium, waits for it to exit and removes its profile. */
  async close(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (child) {
      try {
        child.kill("SIGTERM");
      } catch {
        // It exited already.
      }
      await child.status;
    }
    if (this.#profile) {
      await removeProfile(this.#profile);
      this.#profile = undefined;
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #devToolsPort(): Promise<number> {
    const text = await Deno.readTextFile(`${this.#profile}/DevToolsActivePort`);
    const port = Number(text.split("\n")[0]);
    if (!port) throw new Error("Cannot find the DevTools port yet");
    return port;
  }

  async #evaluate<T>(expression: string): Promise<T> {
    const port = await this.#devToolsPort();
    const targets: { type: string; webSocketDebuggerUrl: string }[] =
      await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
    const page = targets.find((target) => target.type === "page");
    if (!page) throw new Error("Cannot find the page target");
    const socket = new WebSocket(page.webSocketDebuggerUrl);
    const closed = new Promise((resolve) => socket.addEventListener("close", resolve));
    try {
      await new Promise((resolve, reject) => {
        socket.addEventListener("open", resolve);
        socket.addEventListener("error", reject);
      });
      const reply = new Promise<string>((resolve) =>
        socket.addEventListener("message", (event) => resolve(event.data))
      );
      socket.send(JSON.stringify({
        id: 1,
        method: "Runtime.evaluate",
        params: { expression, returnByValue: true },
      }));
      const message = JSON.parse(await reply);
      if (message.result?.exceptionDetails || !message.result?.result) {
        throw new Error(`Cannot evaluate in the page: ${JSON.stringify(message)}`);
      }
      return message.result.result.value as T;
    } finally {
      socket.close();
      await closed;
    }
  }
}

/** Removes a profile; Chromium's helper processes may still write to it for a moment. */
async function removeProfile(path: string): Promise<void> {
  for (let attempt = 1;; attempt++) {
    try {
      await Deno.remove(path, { recursive: true });
      return;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return;
      if (attempt >= 50) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
