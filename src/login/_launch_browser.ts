// The default browser launcher of a login: the system's "open this URL" command.

/** Settings a test changes; the defaults are this machine's. */
export interface LauncherOptions {
  /** The operating system, as `Deno.build.os` names it. */
  os?: typeof Deno.build.os;
  /** The launcher's environment (to find the command on a test's `PATH`). */
  env?: Record<string, string>;
  /** Where the address is printed. Default: `console.error`. */
  print?: (line: string) => void;
}

/** The command that opens `url` in the default browser on `os`. */
export function launchCommand(
  os: typeof Deno.build.os,
  url: string,
): { command: string; args: string[]; windowsRawArguments?: boolean } {
  if (os === "darwin") return { command: "open", args: [url] };
  if (os === "windows") {
    // `start` is a cmd built-in; raw arguments keep cmd from splitting the
    // URL at its "&" (a URL has no '"' of its own: it is percent-encoded).
    return {
      command: "cmd",
      args: ["/d", "/c", `start "" "${url}"`],
      windowsRawArguments: true,
    };
  }
  return { command: "xdg-open", args: [url] };
}

/**
 * Opens `url` in the system browser, and prints it to stderr first so that a
 * user on a machine without one can open it elsewhere.
 *
 * Never rejects: when no browser can be started, the printed address is the
 * way on, and the login waits for it until its timeout.
 */
export async function openSystemBrowser(url: string, options: LauncherOptions = {}): Promise<void> {
  const print = options.print ?? ((line: string) => console.error(line));
  print(`To log in, open this address in a browser: ${url}`);
  const { command, args, windowsRawArguments } = launchCommand(options.os ?? Deno.build.os, url);
  try {
    const child = new Deno.Command(command, {
      args,
      windowsRawArguments,
      env: options.env,
      clearEnv: options.env !== undefined,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const status = await child.status;
    if (!status.success) print(`(${command} exited with code ${status.code})`);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    print(`(Cannot start ${command}: ${reason})`);
  }
}
