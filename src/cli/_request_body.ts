// What `alf request` sends besides the token: the headers of -H, and the body
// of -d, --data-binary, --data-raw and --json, read before any token request.

import { listOption, type ParsedArgs } from "./_args.ts";
import type { Io } from "./_io.ts";
import { CliError, EXIT_CODE, oneLine, usageError } from "./exit_code.ts";

/** The options that give a body, as curl names them. */
const DATA_OPTIONS = ["data", "data-binary", "data-raw", "json"];

/** The headers and the body of the request. */
export interface RequestContent {
  headers: Headers;
  body?: Uint8Array<ArrayBuffer>;
}

/** Whether the arguments give a body. */
export function hasBody(args: ParsedArgs): boolean {
  return args.values.some(({ name }) => DATA_OPTIONS.includes(name));
}

/**
 * The headers of `-H` and the body of the data options, in the order given.
 *
 * As curl: pieces of `-d`, `--data-binary` and `--data-raw` are joined with
 * `&`; pieces of `--json` are joined as they are, and `--json` sets
 * `Content-Type` and `Accept` to `application/json` unless `-H` sets them.
 * Unlike curl's `-d`, no `Content-Type` is added for the other options, and
 * `-d @FILE` keeps the file's newlines (it is `--data-binary`).
 *
 * @throws {CliError} with the usage exit code for a malformed header or
 * `--json` with another data option, the file exit code for a file or the
 * standard input that cannot be read.
 */
export async function requestContent(args: ParsedArgs, io: Io): Promise<RequestContent> {
  const headers = requestHeaders(listOption(args, "header"));
  const pieces = args.values.filter(({ name }) => DATA_OPTIONS.includes(name));
  if (pieces.length === 0) return { headers };
  const json = pieces.some(({ name }) => name === "json");
  if (json && pieces.some(({ name }) => name !== "json")) {
    throw usageError(
      "Cannot parse the arguments: --json is the whole body; do not mix it with -d, --data-binary or --data-raw",
    );
  }
  if (json) {
    if (!headers.has("content-type")) headers.set("Content-Type", "application/json");
    if (!headers.has("accept")) headers.set("Accept", "application/json");
  }
  const parts: Uint8Array[] = [];
  for (const [index, { name, value }] of pieces.entries()) {
    if (index > 0 && !json) parts.push(AMPERSAND);
    parts.push(name === "data-raw" ? encoder.encode(value) : await dataValue(value, io));
  }
  return { headers, body: concat(parts) };
}

const encoder = new TextEncoder();
const AMPERSAND = encoder.encode("&");

function requestHeaders(lines: string[]): Headers {
  const headers = new Headers();
  for (const line of lines) {
    const colon = line.indexOf(":");
    const name = line.slice(0, colon).trim();
    try {
      if (colon < 1) throw new TypeError("no colon");
      headers.append(name, line.slice(colon + 1).trim());
    } catch {
      // The value is not repeated: it may be a credential.
      throw usageError('Cannot parse the arguments: a header must be "Name: value"');
    }
  }
  return headers;
}

/** DATA as given, @FILE for a file's bytes, @- for the standard input. */
async function dataValue(data: string, io: Io): Promise<Uint8Array<ArrayBuffer>> {
  if (data === "@-") {
    try {
      return await io.readStdin();
    } catch (error) {
      throw new CliError(`Cannot read the standard input: ${oneLine(error)}`, EXIT_CODE.FILE);
    }
  }
  if (!data.startsWith("@")) return encoder.encode(data);
  const path = data.slice(1);
  try {
    return await Deno.readFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) throw error; // Deno's refusal: exit code 1
    throw new CliError(`Cannot read ${path}: ${oneLine(error)}`, EXIT_CODE.FILE);
  }
}

function concat(parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  if (parts.length === 1 && parts[0]?.buffer instanceof ArrayBuffer) {
    return parts[0] as Uint8Array<ArrayBuffer>;
  }
  const bytes = new Uint8Array(parts.reduce((sum, part) => sum + part.byteLength, 0));
  let offset = 0;
  for (const part of parts) {
    bytes.set(part, offset);
    offset += part.byteLength;
  }
  return bytes;
}
