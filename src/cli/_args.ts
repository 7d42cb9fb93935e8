// Command line parsing: options described by a table, positionals kept in order.

import { usageError } from "./exit_code.ts";

/** How one option is written and what it takes. */
export interface OptionSpec {
  /** The long name, without dashes: `"data"` for `--data`. */
  name: string;
  /** The one-letter name, without the dash: `"d"` for `-d`. */
  short?: string;
  /** Whether the option takes a value (`--data X`) or is a switch (`-i`). */
  value: boolean;
  /** Whether the option may be given more than once; its values are kept in order. */
  repeat?: boolean;
}

/** Parsed arguments: option values by long name, and the positionals. */
export interface ParsedArgs {
  /** `true` for a switch, the value (or the values of a repeated option) otherwise. */
  options: Map<string, string | true | string[]>;
  positionals: string[];
}

/**
 * Parses `args` by `specs`: `--name value`, `--name=value`, `-x value`,
 * `-xvalue`, and `--` to end the options.
 *
 * A value option always takes the next argument as its value, even one that
 * starts with a dash, so `-d -x` sends "-x".
 *
 * @throws {CliError} with the usage exit code for an unknown option, a missing
 * value, a value given to a switch, or a non-repeatable option given twice.
 */
export function parseArgs(args: readonly string[], specs: readonly OptionSpec[]): ParsedArgs {
  const options = new Map<string, string | true | string[]>();
  const positionals: string[] = [];
  // One iterator for the loop and for the values options take from the next argument.
  const rest = args.values();
  for (const arg of rest) {
    if (arg === "--") {
      positionals.push(...rest);
      break;
    }
    if (arg === "-" || !arg.startsWith("-")) {
      positionals.push(arg);
      continue;
    }
    let spec: OptionSpec | undefined;
    let inline: string | undefined;
    let written: string;
    if (arg.startsWith("--")) {
      const equals = arg.indexOf("=");
      const name = equals === -1 ? arg.slice(2) : arg.slice(2, equals);
      if (equals !== -1) inline = arg.slice(equals + 1);
      written = `--${name}`;
      spec = specs.find((s) => s.name === name);
    } else {
      written = arg.slice(0, 2);
      if (arg.length > 2) inline = arg.slice(2);
      spec = specs.find((s) => s.short === arg[1]);
    }
    if (!spec) throw usageError(`Cannot parse the arguments: unknown option ${written}`);
    if (!spec.value) {
      if (inline !== undefined) {
        throw usageError(`Cannot parse the arguments: ${written} takes no value`);
      }
      options.set(spec.name, true); // a switch given twice is still on
      continue;
    }
    const value = inline ?? rest.next().value;
    if (value === undefined) {
      throw usageError(`Cannot parse the arguments: ${written} needs a value`);
    }
    const previous = options.get(spec.name);
    if (spec.repeat) {
      options.set(spec.name, [...(Array.isArray(previous) ? previous : []), value]);
    } else if (previous !== undefined) {
      throw usageError(`Cannot parse the arguments: ${written} is given more than once`);
    } else {
      options.set(spec.name, value);
    }
  }
  return { options, positionals };
}

/** The value of a value option, if given. */
export function stringOption(parsed: ParsedArgs, name: string): string | undefined {
  const value = parsed.options.get(name);
  return typeof value === "string" ? value : undefined;
}

/** The values of a repeatable option, in order (empty if not given). */
export function listOption(parsed: ParsedArgs, name: string): string[] {
  const value = parsed.options.get(name);
  return Array.isArray(value) ? value : [];
}

/** Whether a switch was given. */
export function flagOption(parsed: ParsedArgs, name: string): boolean {
  return parsed.options.get(name) === true;
}
