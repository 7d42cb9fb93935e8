// Runs the alf command as a subprocess of the real Deno binary, as a user would.

const ROOT = new URL("../../", import.meta.url).pathname;
const CLI = new URL("../../cli.ts", import.meta.url).pathname;

/** Every variable the command reads, unset ("" counts as unset) unless a test sets it. */
const UNSET: Record<string, string> = Object.fromEntries(
  [
    "ALF_TOKEN_ENDPOINT",
    "ALF_REVOCATION_ENDPOINT",
    "ALF_CLIENT_ID",
    "ALF_CLIENT_SECRET",
    "ALF_SCOPE",
    "ALF_CLIENT_AUTH",
    "ALF_AUDIENCE",
    "ALF_KV",
    "ALF_REDIS",
    "ALF_AUTHORIZATION_ENDPOINT",
    "ALF_LOGIN_PORTS",
    "ALF_DEVICE_AUTHORIZATION_ENDPOINT",
    "ALF_RESOURCE",
  ].map((name) => [name, ""]),
);

export interface RunOptions {
  /** Environment variables on top of the test's (ALF_* ones start unset). */
  env?: Record<string, string>;
  /** Bytes or text for the standard input; none (closed) by default. */
  stdin?: Uint8Array | string;
  /** Flags of `deno run` before the script. Default: `["-A"]`. */
  denoFlags?: string[];
  /**
   * Start from an empty environment (but for what Deno needs to find its
   * cache), instead of the test's with ALF_* variables set to "".
   */
  clearEnv?: boolean;
}

/** The variables Deno itself needs: where its cache is. */
function denoEnv(): Record<string, string> {
  const names = ["PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME"];
  return Object.fromEntries(
    names.flatMap((name) => {
      const value = Deno.env.get(name);
      return value === undefined ? [] : [[name, value]];
    }),
  );
}

export interface RunResult {
  code: number;
  /** The standard output, bytes. */
  stdout: Uint8Array;
  /** The standard output, text. */
  out: string;
  /** The standard error, text. */
  err: string;
}

/** Runs `deno run <denoFlags> cli.ts <args>` in the project folder. */
export async function alf(args: string[], options: RunOptions = {}): Promise<RunResult> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...(options.denoFlags ?? ["-A"]), CLI, ...args],
    cwd: ROOT,
    env: { ...(options.clearEnv ? denoEnv() : UNSET), NO_COLOR: "1", ...options.env },
    clearEnv: options.clearEnv,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    const bytes = typeof options.stdin === "string"
      ? new TextEncoder().encode(options.stdin)
      : options.stdin;
    await writer.write(bytes);
    await writer.close();
  }
  const { code, stdout, stderr } = await child.output();
  const decoder = new TextDecoder();
  return { code, stdout, out: decoder.decode(stdout), err: decoder.decode(stderr) };
}

/**
 * Starts `deno run -A cli.ts <args>` in the project folder, its output piped,
 * for a test that reads it while the command runs (a device login's prompt).
 *
 * @param wrap Turns the Deno command line into another program's that runs
 * it (`script`, for a terminal).
 */
export function spawnAlf(
  args: string[],
  env: Record<string, string>,
  wrap?: (deno: string[]) => { command: string; args: string[] },
): Deno.ChildProcess {
  const deno = [Deno.execPath(), "run", "-A", CLI, ...args];
  const { command, args: commandArgs } = wrap?.(deno) ??
    { command: deno[0]!, args: deno.slice(1) };
  return new Deno.Command(command, {
    args: commandArgs,
    cwd: ROOT,
    env: { ...UNSET, NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** The environment that points the command at a stand-in server. */
export function envFor(
  server: { tokenEndpoint: string },
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    ALF_TOKEN_ENDPOINT: server.tokenEndpoint,
    ALF_CLIENT_ID: "cli-client",
    ALF_CLIENT_SECRET: SECRET,
    ...extra,
  };
}

/** The client secret the tests configure, to check it is never printed. */
export const SECRET = "s3cret-never-printed";

/** The credentials a stand-in server expects from {@linkcode envFor}. */
export const CREDENTIALS = { clientId: "cli-client", clientSecret: SECRET };

/**
 * Whether `err` is one `alf: ...` line, without a stack trace: how every
 * failure must be reported.
 */
export function isOneLineError(err: string): boolean {
  return /^alf: [^\n]+\n$/.test(err) && !/\n\s+at /.test(err);
}

/** A loopback port where nothing listens (a server was there a moment ago). */
export async function closedPort(): Promise<number> {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response(),
  );
  const port = server.addr.port;
  await server.shutdown();
  return port;
}
