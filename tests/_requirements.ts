// What some tests need from the machine besides Deno (Chromium, redis-server,
// Node), and the one rule for when it is missing: on a developer's machine the
// tests that need it are skipped with one printed line saying how to install
// it; in CI (the `CI` variable is set) a failing test says the same.

/**
 * Whether the tests that need `name` (a binary on the PATH) are skipped:
 * `undefined` when `name` is there, else why they are skipped, to be used as
 * `Deno.test(title, { ignore: reason !== undefined }, fn)`. A missing binary
 * is reported by {@linkcode skipUnlessCi}.
 *
 * @param name The binary, looked up on the PATH as `Deno.Command` does.
 * @param install The command that installs it (`apt-get install -y chromium`).
 */
export async function requireBinary(name: string, install: string): Promise<string | undefined> {
  if (await isOnPath(name)) return undefined;
  return skipUnlessCi(name, `no ${name} on the PATH (install it: ${install})`);
}

/**
 * Reports that the tests that need `name` cannot run, and returns `reason`
 * (their skip reason). One line per test run (not per test file) says so; with
 * `CI` set, a test named `<name> is installed` fails with that message
 * instead, so CI never passes without it.
 */
export function skipUnlessCi(name: string, reason: string): string {
  // Each test file runs in an isolate of its own, the environment is the process's:
  // it lets the first file that needs `name` be the only one that says so.
  const noted = `ALF_TEST_MISSING_${name.toUpperCase().replace(/[^A-Z0-9]/g, "_")}`;
  if (Deno.env.get(noted) === undefined) {
    Deno.env.set(noted, "1");
    if (Deno.env.get("CI")) {
      Deno.test(`${name} is installed`, () => {
        throw new Error(`Cannot run the tests that need ${name} in CI: ${reason}`);
      });
    } else {
      console.log(`Skipping the tests that need ${name}: ${reason}`);
    }
  }
  return reason;
}

/**
 * Whether an executable file `name` is in a folder of the PATH. Deno itself
 * does not count: without a Node on the PATH, Deno puts its own `node` there
 * (`$DENO_DIR/node_compat_bin`) for the processes it starts.
 */
async function isOnPath(name: string): Promise<boolean> {
  const windows = Deno.build.os === "windows";
  const deno = await Deno.realPath(Deno.execPath());
  const names = windows ? [name, `${name}.exe`, `${name}.cmd`] : [name];
  for (const dir of (Deno.env.get("PATH") ?? "").split(windows ? ";" : ":")) {
    if (!dir) continue;
    for (const file of names) {
      try {
        const info = await Deno.stat(`${dir}/${file}`);
        if (!info.isFile || (!windows && ((info.mode ?? 0) & 0o111) === 0)) continue;
        if (await Deno.realPath(`${dir}/${file}`) !== deno) return true;
      } catch (error) {
        if (
          !(error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory)
        ) {
          throw error;
        }
      }
    }
  }
  return false;
}
