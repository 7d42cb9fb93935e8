// The shape every subcommand of `alf` has.

import type { OptionSpec, ParsedArgs } from "./_args.ts";
import type { Io } from "./_io.ts";
import type { ExitCode } from "./exit_code.ts";

/** A subcommand: its name, help, options and what it does. */
export interface Command {
  /** The word after `alf`. */
  name: string;
  /** One line for `alf --help`. */
  summary: string;
  /** The text of `alf NAME --help`, without the shared configuration options. */
  help: string;
  /** The options of this command, besides the shared configuration options. */
  options: OptionSpec[];
  /**
   * Runs the command.
   *
   * @throws {CliError} for a failure reported in one line.
   */
  run(args: ParsedArgs, io: Io): Promise<ExitCode>;
}
