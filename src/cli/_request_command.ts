// `alf request`: one HTTP request with a bearer token, the body to stdout.

import { flagOption, listOption, type ParsedArgs, stringOption } from "./_args.ts";
import { openClient } from "./_client_config.ts";
import type { Command } from "./_command.ts";
import type { Io } from "./_io.ts";
import { CliError, EXIT_CODE, oneLine, usageError } from "./exit_code.ts";

/** The `alf request` command. */
export const requestCommand: Command = {
  name: "request",
  summary: "send a request with a bearer token; the body goes to stdout",
  help: `alf request: send a request with a bearer token obtained (and renewed) for you

Usage:
  alf request [METHOD] URL [-d DATA | -d @FILE | -d @-] [-H "Name: value"]... [-i] [-o FILE]

  The response body goes to stdout, byte for byte. On a 401 the token is renewed
  and the request sent once more. The method is GET, or POST with -d.

Options:
  -d, --data DATA      the request body: DATA as given, @FILE for a file's bytes,
                       @- for the standard input; no Content-Type is added
  -H, --header "Name: value"
                       a request header; repeatable
  -i, --include        write the status and the response headers to stderr
  -o, --output FILE    write the body to FILE instead of stdout
  -h, --help           show this help

Exit codes: 0 for a 2xx response, 22 for any other status (the body is still
written), 3 when no token could be obtained, 4 when the resource could not be
reached, 5 for a file that cannot be read or written, 2 for bad arguments.`,
  options: [
    { name: "data", short: "d", value: true },
    { name: "header", short: "H", value: true, repeat: true },
    { name: "include", short: "i", value: false },
    { name: "output", short: "o", value: true },
  ],
  async run(args, io) {
    const { method, url } = target(args);
    const headers = requestHeaders(listOption(args, "header"));
    const data = stringOption(args, "data");
    const body = data === undefined ? undefined : await requestBody(data, io);
    await using configured = await openClient(args, io);
    let response: Response;
    try {
      response = await configured.client.request(method ?? (body ? "POST" : "GET"), url, {
        headers,
        body,
      });
    } catch (error) {
      if (error instanceof TypeError) {
        throw new CliError(`Cannot send the request: ${oneLine(error)}`, EXIT_CODE.NETWORK, {
          cause: error,
        });
      }
      throw error;
    }
    if (flagOption(args, "include")) await io.printError(statusAndHeaders(response));
    await writeBody(response, stringOption(args, "output"), io);
    if (response.ok) return EXIT_CODE.OK;
    await io.printError(`alf: the server answered ${describeStatus(response)}\n`);
    return EXIT_CODE.HTTP;
  },
};

// An HTTP method is a token ([RFC 9110 §9.1](https://www.rfc-editor.org/rfc/rfc9110#section-9.1),
// [§5.6.2](https://www.rfc-editor.org/rfc/rfc9110#section-5.6.2)).
const METHOD = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function target(args: ParsedArgs): { method?: string; url: URL } {
  const { positionals } = args;
  const [first, second] = positionals;
  if (first === undefined || positionals.length > 2) {
    throw usageError(
      `Cannot parse the arguments: alf request takes [METHOD] URL, got ${positionals.length} arguments`,
    );
  }
  const method = second === undefined ? undefined : first;
  if (method !== undefined && !METHOD.test(method)) {
    throw usageError("Cannot parse the arguments: the method is not a valid HTTP method");
  }
  let url: URL;
  try {
    url = new URL(second ?? first);
  } catch {
    throw usageError("Cannot parse the arguments: the URL is not a valid absolute URL");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw usageError(
      `Cannot parse the arguments: the URL must be http: or https:, not ${url.protocol}`,
    );
  }
  return { method, url };
}

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

async function requestBody(data: string, io: Io): Promise<Uint8Array<ArrayBuffer>> {
  if (data === "@-") {
    try {
      return await io.readStdin();
    } catch (error) {
      throw new CliError(`Cannot read the standard input: ${oneLine(error)}`, EXIT_CODE.FILE);
    }
  }
  if (data.startsWith("@")) {
    const path = data.slice(1);
    try {
      return await Deno.readFile(path);
    } catch (error) {
      throw new CliError(`Cannot read ${path}: ${oneLine(error)}`, EXIT_CODE.FILE);
    }
  }
  return new TextEncoder().encode(data);
}

function describeStatus(response: Response): string {
  return response.statusText ? `${response.status} ${response.statusText}` : `${response.status}`;
}

function statusAndHeaders(response: Response): string {
  const lines = [`HTTP ${describeStatus(response)}`];
  for (const [name, value] of response.headers) lines.push(`${name}: ${value}`);
  return `${lines.join("\n")}\n\n`;
}

/** Copies the body, telling a broken download (network) from a failed write (file). */
async function writeBody(response: Response, output: string | undefined, io: Io): Promise<void> {
  let file: Deno.FsFile | undefined;
  if (output !== undefined) {
    try {
      file = await Deno.open(output, { write: true, create: true, truncate: true });
    } catch (error) {
      await response.body?.cancel();
      throw new CliError(`Cannot write ${output}: ${oneLine(error)}`, EXIT_CODE.FILE);
    }
  }
  const writer = (file?.writable ?? io.stdout).getWriter();
  const where = output ?? "the standard output";
  try {
    if (!response.body) return;
    const reader = response.body.getReader();
    while (true) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (error) {
        throw new CliError(`Cannot read the response: ${oneLine(error)}`, EXIT_CODE.NETWORK);
      }
      if (chunk.done) break;
      try {
        await writer.write(chunk.value);
      } catch (error) {
        await reader.cancel();
        throw new CliError(`Cannot write ${where}: ${oneLine(error)}`, EXIT_CODE.FILE);
      }
    }
  } finally {
    if (!file) writer.releaseLock();
    else await writer.close().catch(() => closeQuietly(file));
  }
}

function closeQuietly(file: Deno.FsFile): void {
  try {
    file.close();
  } catch {
    // Already closed by its failed stream.
  }
}
