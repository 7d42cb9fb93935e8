// `alf request`: one HTTP request with a bearer token, spoken as curl: the
// body to stdout, the options a curl user types first.

import { TokenError } from "../token_error.ts";
import { flagOption, type OptionSpec, type ParsedArgs, stringOption } from "./_args.ts";
import { openClient } from "./_client_config.ts";
import type { Command } from "./_command.ts";
import { hasBody, requestContent } from "./_request_body.ts";
import { requestTarget } from "./_request_target.ts";
import { describeStatus, writeResponse } from "./_response_output.ts";
import { VerboseLog } from "./_verbose.ts";
import { CliError, EXIT_CODE, oneLine, usageError } from "./exit_code.ts";

/** curl options `alf request` refuses, with why and what to use. */
const UNSUPPORTED: OptionSpec[] = [
  {
    name: "user",
    short: "u",
    value: true,
    unsupported:
      "alf authenticates with the bearer token it obtains; give the client's credentials with " +
      "--client-id and ALF_CLIENT_SECRET, or use curl -u for an API that takes Basic authentication",
  },
  {
    name: "form",
    short: "F",
    value: true,
    unsupported: "alf does not build multipart bodies; send a prepared one with " +
      '--data-binary @FILE -H "Content-Type: multipart/form-data; boundary=...", ' +
      "or a urlencoded form with -d 'name=value'",
  },
  {
    name: "insecure",
    short: "k",
    value: false,
    unsupported: "alf does not send a token to a server whose certificate it cannot check; " +
      "trust your CA with DENO_CERT=ca.pem (or deno run --cert ca.pem)",
  },
];

/** The `alf request` command. */
export const requestCommand: Command = {
  name: "request",
  summary: "send a request with a bearer token; the body goes to stdout",
  help: `alf request: send a request with a bearer token obtained (and renewed) for you

Usage:
  alf request [METHOD] URL [options]
  alf request -X PUT https://api.example.com/items/7 --json '{"name":"alf"}'

  The response body goes to stdout, byte for byte. On a 401 the token is renewed
  and the request sent once more. The method is GET, or POST with a body. The
  options are curl's: bundle switches as in -sSf, -fsSL.

Options:
  -X, --request METHOD   the method (or give it before the URL)
  -d, --data DATA        the body: DATA as given, @FILE for a file's bytes, @- for
                         the standard input; no Content-Type is added, and a
                         file's newlines are kept; repeated: joined with &
      --data-binary DATA the same as -d
      --data-raw DATA    DATA as given, even when it starts with @
      --json DATA        a JSON body (DATA, @FILE or @-), with Content-Type and
                         Accept set to application/json
  -H, --header "Name: value"
                         a request header; repeatable; wins over --json's
  -i, --include          write the status line and the headers before the body
  -I, --head             send HEAD and write the status line and the headers
  -o, --output FILE      write to FILE instead of stdout (- for stdout)
  -L, --location         follow redirects; without it a 3xx is the answer
  -f, --fail             for a status of 400 or more write nothing, exit 22
  -s, --silent           no messages on stderr once the arguments are accepted
  -S, --show-error       with -s, still report a failure
  -v, --verbose          show the token requests and the request and response
                         lines on stderr; tokens and secrets are never shown
  -m, --max-time SECONDS give up after SECONDS (2.5 is fine): exit code 28
  -h, --help             show this help

  Not supported: -u (alf sends the token), -F (send a prepared body), -k.

Exit codes: 0 for a 2xx response, 22 for any other status (the body is still
written, but not with -f for 4xx and 5xx), 3 when no token could be obtained,
4 when the resource could not be reached, 5 for a file that cannot be read or
written, 28 when --max-time passed, 2 for bad arguments, 1 for anything else
(such as a permission Deno denied).`,
  options: [
    { name: "request", short: "X", value: true },
    { name: "data", short: "d", value: true, repeat: true },
    { name: "data-binary", value: true, repeat: true },
    { name: "data-raw", value: true, repeat: true },
    { name: "json", value: true, repeat: true },
    { name: "header", short: "H", value: true, repeat: true },
    { name: "include", short: "i", value: false },
    { name: "head", short: "I", value: false },
    { name: "output", short: "o", value: true },
    { name: "location", short: "L", value: false },
    { name: "fail", short: "f", value: false },
    { name: "silent", short: "s", value: false },
    { name: "show-error", short: "S", value: false },
    { name: "verbose", short: "v", value: false },
    { name: "max-time", short: "m", value: true },
    ...UNSUPPORTED,
  ],
  async run(args, io) {
    const { method, url } = requestTarget(args, hasBody(args));
    const maxTime = maxTimeOption(args);
    const { headers, body } = await requestContent(args, io);
    const timeout = maxTime === undefined ? undefined : AbortSignal.timeout(maxTime * 1000);
    const verbose = flagOption(args, "verbose") ? new VerboseLog(io) : undefined;
    if (verbose) io.onClientEvent((event) => verbose.event(event));
    await using configured = await openClient(args, io, url.href);
    // Arguments and configuration are accepted: from here on, -s keeps stderr quiet.
    io.silent = flagOption(args, "silent") && !flagOption(args, "show-error");
    try {
      verbose?.request(method, url, headers, body);
      let response: Response;
      try {
        response = await configured.client.request(method, url, {
          headers,
          body,
          redirect: flagOption(args, "location") ? "follow" : "manual",
          signal: timeout,
        });
      } catch (error) {
        throw sendFailure(error, timeout, args);
      }
      verbose?.response(response);
      const failed = flagOption(args, "fail") && response.status >= 400;
      try {
        await writeResponse(response, {
          output: stringOption(args, "output"),
          headers: (flagOption(args, "include") || flagOption(args, "head")) && !failed,
          body: !flagOption(args, "head") && !failed,
        }, io);
      } catch (error) {
        throw timeout?.aborted ? timeoutError(args) : error;
      }
      if (response.ok) return EXIT_CODE.OK;
      await io.printError(
        `alf: the server answered ${describeStatus(response)}${hint(response)}\n`,
      );
      return EXIT_CODE.HTTP;
    } finally {
      await verbose?.flush();
    }
  },
};

/** `--max-time` in seconds, if given: a number above 0 that a timer can hold. */
function maxTimeOption(args: ParsedArgs): number | undefined {
  const text = stringOption(args, "max-time");
  if (text === undefined) return undefined;
  const seconds = /^\d+(\.\d+)?$|^\.\d+$/.test(text.trim()) ? Number(text) : NaN;
  // Timers hold at most 2^31 - 1 ms (24.8 days).
  if (!(seconds > 0 && seconds * 1000 <= 2 ** 31 - 1)) {
    throw usageError(
      "Cannot parse the arguments: -m/--max-time takes a number of seconds above 0, such as 30 or 2.5",
    );
  }
  return seconds;
}

function timeoutError(args: ParsedArgs): CliError {
  return new CliError(
    `Cannot complete the request: --max-time ${stringOption(args, "max-time")?.trim()} s passed`,
    EXIT_CODE.TIMEOUT,
  );
}

/** The failure of a request that got no response: a timeout, a network error, or the token's. */
function sendFailure(error: unknown, timeout: AbortSignal | undefined, args: ParsedArgs): unknown {
  if (timeout?.aborted) return timeoutError(args);
  if (error instanceof TokenError || error instanceof Deno.errors.NotCapable) return error;
  if (error instanceof TypeError) {
    return new CliError(`Cannot send the request: ${oneLine(error)}`, EXIT_CODE.NETWORK, {
      cause: error,
    });
  }
  return error;
}

/** What a 3xx that was not followed asks for. */
function hint(response: Response): string {
  return response.status >= 300 && response.status < 400 && response.headers.has("location")
    ? ", a redirect; pass -L to follow it"
    : "";
}
