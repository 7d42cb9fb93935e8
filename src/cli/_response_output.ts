// Where `alf request` writes the answer: the status and headers (-i, -I) and
// the body, byte for byte, to stdout or to the file of -o.

import type { Io } from "./_io.ts";
import { CliError, EXIT_CODE, oneLine } from "./exit_code.ts";

/** What of the response is written, and where. */
export interface OutputOptions {
  /** The file of `-o FILE`; `undefined` or `"-"` for the standard output. */
  output?: string;
  /** Whether the status line and the headers come first (`-i`, `-I`). */
  headers: boolean;
  /** Whether the body is written (not for `-I`, nor for `-f` and a 4xx or 5xx). */
  body: boolean;
}

/** `200 OK`, or `200` when the server gave no reason phrase. */
export function describeStatus(response: Response): string {
  return response.statusText ? `${response.status} ${response.statusText}` : `${response.status}`;
}

/**
 * The status line and the headers, as curl's `-i` writes them before the
 * body (CRLF line ends, a blank line last); `HTTP` has no version, which
 * `fetch` does not tell.
 */
export function statusAndHeaders(response: Response): string {
  const lines = [`HTTP ${describeStatus(response)}`];
  for (const [name, value] of response.headers) lines.push(`${name}: ${value}`);
  return `${lines.join("\r\n")}\r\n\r\n`;
}

/**
 * Writes the response as `options` say, telling a broken download (network
 * exit code) from a failed write (file exit code). A body not written is
 * cancelled.
 *
 * @throws {CliError} with the network or the file exit code.
 */
export async function writeResponse(
  response: Response,
  options: OutputOptions,
  io: Io,
): Promise<void> {
  if (!options.body) await response.body?.cancel();
  if (!options.headers && !options.body) return;
  const path = options.output === "-" ? undefined : options.output;
  let file: Deno.FsFile | undefined;
  if (path !== undefined) {
    try {
      file = await Deno.open(path, { write: true, create: true, truncate: true });
    } catch (error) {
      await response.body?.cancel();
      if (error instanceof Deno.errors.NotCapable) throw error; // Deno's refusal: exit code 1
      throw new CliError(`Cannot write ${path}: ${oneLine(error)}`, EXIT_CODE.FILE);
    }
  }
  const writer = (file?.writable ?? io.stdout).getWriter();
  const where = path ?? "the standard output";
  const write = async (bytes: Uint8Array, cancel?: () => Promise<void>) => {
    try {
      await writer.write(bytes);
    } catch (error) {
      await cancel?.();
      throw new CliError(`Cannot write ${where}: ${oneLine(error)}`, EXIT_CODE.FILE);
    }
  };
  try {
    if (options.headers) {
      await write(new TextEncoder().encode(statusAndHeaders(response)), () => cancel(response));
    }
    if (!options.body || !response.body) return;
    const reader = response.body.getReader();
    while (true) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (error) {
        throw new CliError(`Cannot read the response: ${oneLine(error)}`, EXIT_CODE.NETWORK);
      }
      if (chunk.done) break;
      await write(chunk.value, () => reader.cancel());
    }
  } finally {
    if (!file) writer.releaseLock();
    else await writer.close().catch(() => closeQuietly(file));
  }
}

async function cancel(response: Response): Promise<void> {
  await response.body?.cancel().catch(() => {});
}

function closeQuietly(file: Deno.FsFile): void {
  try {
    file.close();
  } catch {
    // Already closed by its failed stream.
  }
}
