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
  /**
   * Why the option is refused and what to use instead, for an option users
   * bring from elsewhere (curl's `-u`): given, it is a usage error saying so.
   */
  unsupported?: string;
}

/** Parsed arguments: option values by long name, and the positionals. */
export interface ParsedArgs {
  /** `true` for a switch, the value (or the values of a repeated option) otherwise. */
  options: Map<string, string | true | string[]>;
  positionals: string[];
  /** Every value option as given, in order across names (`-d a --data-raw b`). */
  values: { name: string; value: string }[];
}

/**
 * Parses `args` by `specs`: `--name value`, `--name=value`, `-x value`,
 * `-xvalue`, switches bundled as curl takes them (`-sSf`, `-sXPOST`), and `--`
 * to end the options.
 *
 * A value option always takes the next argument as its value, even one that
 * starts with a dash, so `-d -x` sends "-x".
 *
 * @throws {CliError} with the usage exit code for an unknown or unsupported
 * option, a missing value, a value given to a switch, or a non-repeatable
 * option given twice.
 */
export function parseArgs(args: readonly string[], specs: readonly OptionSpec[]): ParsedArgs {
  const parsed: ParsedArgs = { options: new Map(), positionals: [], values: [] };
  // One iterator for the loop and for the values options take from the next argument.
  const rest = args.values();
  const next = () => rest.next().value;
  for (const arg of rest) {
    if (arg === "--") {
      parsed.positionals.push(...rest);
      break;
    }
    if (arg === "-" || !arg.startsWith("-")) {
      parsed.positionals.push(arg);
      continue;
    }
    if (arg.startsWith("--")) {
      const equals = arg.indexOf("=");
      const name = equals === -1 ? arg.slice(2) : arg.slice(2, equals);
      const inline = equals === -1 ? undefined : arg.slice(equals + 1);
      take(parsed, find(specs, (s) => s.name === name, `--${name}`), `--${name}`, inline, next);
      continue;
    }
    // -sSf: switches, and the last may be a value option taking the rest (-XPOST).
    for (let i = 1; i < arg.length; i++) {
      const written = `-${arg[i]}`;
      const spec = find(specs, (s) => s.short === arg[i], written);
      const inline = spec.value && i + 1 < arg.length ? arg.slice(i + 1) : undefined;
      take(parsed, spec, written, inline, next);
      if (spec.value) break;
    }
  }
  return parsed;
}

function find(
  specs: readonly OptionSpec[],
  test: (spec: OptionSpec) => boolean,
  written: string,
): OptionSpec {
  const spec = specs.find(test);
  // The rest of the argument is not repeated: it may be a credential.
  if (!spec) throw usageError(`Cannot parse the arguments: unknown option ${written}`);
  if (spec.unsupported !== undefined) {
    const names = spec.short === undefined ? `--${spec.name}` : `-${spec.short}/--${spec.name}`;
    throw usageError(`Cannot parse the arguments: ${names} is not supported: ${spec.unsupported}`);
  }
  return spec;
}

function take(
  parsed: ParsedArgs,
  spec: OptionSpec,
  written: string,
  inline: string | undefined,
  next: () => string | undefined,
): void {
  const { options } = parsed;
  if (!spec.value) {
    if (inline !== undefined) {
      throw usageError(`Cannot parse the arguments: ${written} takes no value`);
    }
    options.set(spec.name, true); // a switch given twice is still on
    return;
  }
  const value = inline ?? next();
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
  parsed.values.push({ name: spec.name, value });
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
