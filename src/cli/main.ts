/**
 * The `alf` command: dispatch to a subcommand, help, and the one-line report
 * of a failure with its exit code.
 *
 * @module
 */

import denoJson from "../../deno.json" with { type: "json" };
import { TokenError } from "../../mod.ts";
import { type OptionSpec, parseArgs } from "./_args.ts";
import { CONFIG_HELP, CONFIG_OPTIONS } from "./_client_config.ts";
import type { Command } from "./_command.ts";
import { Io } from "./_io.ts";
import { logoutCommand } from "./_logout_command.ts";
import { requestCommand } from "./_request_command.ts";
import { tokenCommand } from "./_token_command.ts";
import type { CliOptions } from "./cli_options.ts";
import { CliError, EXIT_CODE, type ExitCode, oneLine, usageError } from "./exit_code.ts";

const COMMANDS: readonly Command[] = [requestCommand, tokenCommand, logoutCommand];
const HELP_OPTION: OptionSpec = { name: "help", short: "h", value: false };

const MAIN_HELP = `alf: call an OAuth 2 protected API from the shell; tokens are obtained, kept and
renewed for you

Usage:
${COMMANDS.map((c) => `  alf ${c.name.padEnd(10)} ${c.summary}`).join("\n")}
  alf help COMMAND  show a command's help (or: alf COMMAND --help)
  alf --version     print the version

  alf request takes curl's options: -X, -d, --json, -H, -i, -I, -o, -L, -f, -s,
  -S, -v, -m (see alf request --help).

${CONFIG_HELP}

Exit codes: 0 done (a 2xx response), 1 anything else (such as a permission Deno
denied), 2 bad arguments or configuration, 3 no token, 4 network error, 5 file
error, 22 HTTP status other than 2xx, 28 --max-time passed.`;

/**
 * Runs the `alf` command with `args` and returns its exit code.
 *
 * `cli.ts` calls it with `Deno.args` and exits with the result. Failures are
 * reported on stderr in one line (`alf: Cannot ...`), never with a stack
 * trace, and never with the client secret.
 *
 * @param args The arguments after the program name, e.g. `["token", "--json"]`.
 * @param options The environment and streams to use instead of the process's.
 * @returns The exit code; see {@linkcode EXIT_CODE}.
 *
 * @example Getting a token in-process
 * ```ts
 * import assert from "node:assert/strict";
 * import { EXIT_CODE, main } from "@alf/client/cli";
 * import { startAuthServer } from "@alf/client/testing";
 *
 * await using server = await startAuthServer();
 * const chunks: Uint8Array[] = [];
 * const code = await main(["token"], {
 *   env: { ALF_TOKEN_ENDPOINT: server.tokenEndpoint, ALF_CLIENT_ID: "id" },
 *   stdout: new WritableStream({ write: (chunk) => void chunks.push(chunk) }),
 * });
 * assert.equal(code, EXIT_CODE.OK);
 * assert.equal(new TextDecoder().decode(chunks[0]), `${server.issuedTokens[0]}\n`);
 * ```
 */
export async function main(args: readonly string[], options: CliOptions = {}): Promise<ExitCode> {
  const io = new Io(options);
  try {
    return await run(args, io);
  } catch (error) {
    const { exitCode, message } = describeFailure(error);
    await io.printError(`alf: ${message}\n`).catch(() => {});
    return exitCode;
  }
}

async function run(args: readonly string[], io: Io): Promise<ExitCode> {
  const [first, ...rest] = args;
  if (first === undefined) {
    await io.printError(`${MAIN_HELP}\n`);
    return EXIT_CODE.USAGE;
  }
  if (first === "--help" || first === "-h") {
    await io.print(`${MAIN_HELP}\n`);
    return EXIT_CODE.OK;
  }
  if (first === "--version" || first === "-V") {
    await io.print(`alf ${denoJson.version}\n`);
    return EXIT_CODE.OK;
  }
  if (first === "help") {
    const [name] = rest;
    await io.print(name === undefined ? `${MAIN_HELP}\n` : commandHelp(findCommand(name)));
    return EXIT_CODE.OK;
  }
  const command = findCommand(first);
  const parsed = parseArgs(rest, [...command.options, ...CONFIG_OPTIONS, HELP_OPTION]);
  if (parsed.options.has("help")) {
    await io.print(commandHelp(command));
    return EXIT_CODE.OK;
  }
  return await command.run(parsed, io);
}

function findCommand(name: string): Command {
  const command = COMMANDS.find((c) => c.name === name);
  if (command) return command;
  // The word is not repeated: a misplaced argument may be a credential.
  throw usageError(
    `Cannot parse the arguments: unknown command; the commands are ${
      COMMANDS.map((c) => c.name).join(", ")
    } (see alf --help)`,
  );
}

function commandHelp(command: Command): string {
  return `${command.help}\n\n${CONFIG_HELP}\n`;
}

function describeFailure(error: unknown): { exitCode: ExitCode; message: string } {
  if (error instanceof CliError) return { exitCode: error.exitCode, message: error.message };
  // A permission Deno denied is the user's to grant, wherever it surfaced (exit 1, as the README says).
  if (error instanceof TokenError && isDenied(error.cause)) {
    return { exitCode: EXIT_CODE.FAILURE, message: oneLine(error) };
  }
  if (error instanceof TokenError) return { exitCode: EXIT_CODE.TOKEN, message: oneLine(error) };
  if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
    return { exitCode: EXIT_CODE.FAILURE, message: `Cannot run the command: ${oneLine(error)}` };
  }
  return { exitCode: EXIT_CODE.FAILURE, message: `Unexpected failure: ${oneLine(error)}` };
}

function isDenied(error: unknown): boolean {
  return error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied;
}
