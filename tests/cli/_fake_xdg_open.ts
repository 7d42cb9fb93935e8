// A stand-in system browser for the login tests: an `xdg-open` on PATH.

const FAKE_BROWSER = new URL("./_fake_browser.ts", import.meta.url).pathname;

/** A folder on PATH whose `xdg-open` logs each address and visits it with a scripted browser. */
export interface FakeXdgOpen extends AsyncDisposable {
  /** The PATH to give the command: this folder first. */
  path: string;
  /** The addresses opened so far, in order. */
  opened(): Promise<string[]>;
}

/** Creates the folder and its `xdg-open`; disposing removes them. */
export async function fakeXdgOpen(): Promise<FakeXdgOpen> {
  const dir = await Deno.makeTempDir({ prefix: "alf-browser-" });
  const log = `${dir}/opened.log`;
  await Deno.writeTextFile(
    `${dir}/xdg-open`,
    `#!/bin/sh\necho "$1" >> '${log}'\nexec '${Deno.execPath()}' run -A '${FAKE_BROWSER}' "$1"\n`,
    { mode: 0o755 },
  );
  return {
    path: `${dir}:${Deno.env.get("PATH")}`,
    async opened() {
      const text = await Deno.readTextFile(log).catch(() => "");
      return text.split("\n").filter(Boolean);
    },
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}
