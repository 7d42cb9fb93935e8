/**
 * How a run of the `alf` command ends: its exit codes, and the error that
 * carries one.
 *
 * @module
 */

import { withFlagNames } from "./_flag_names.ts";

/**
 * The exit codes of the `alf` command.
 *
 * - `OK` (0): done; for `alf request`, the response status was 2xx.
 * - `FAILURE` (1): anything else, such as a permission Deno denied, or
 *   `alf token --claims` for a token that is not a JWT.
 * - `USAGE` (2): bad arguments or configuration; nothing was sent.
 * - `TOKEN` (3): no token could be obtained: the token endpoint refused, failed
 *   or could not be reached, or the login failed; for `alf logout`, the
 *   revocation endpoint did (the token is kept).
 * - `NETWORK` (4): the resource could not be reached or its answer was cut off.
 * - `FILE` (5): a local file or stream could not be read or written
 *   (`-d @file`, `-o FILE`, `--kv PATH`).
 * - `HTTP` (22): the resource answered with a status other than 2xx, as
 *   `curl -f` does; the body is still written (not with `-f`, for 4xx and 5xx).
 * - `TIMEOUT` (28): `--max-time` passed before the run was done, as curl's 28.
 *
 * @example Telling an HTTP error from a token error
 * ```ts
 * import assert from "node:assert/strict";
 * import { EXIT_CODE } from "@alf/client/cli";
 *
 * assert.equal(EXIT_CODE.HTTP, 22);
 * assert.notEqual(EXIT_CODE.TOKEN, EXIT_CODE.HTTP);
 * ```
 */
export const EXIT_CODE = {
  OK: 0,
  FAILURE: 1,
  USAGE: 2,
  TOKEN: 3,
  NETWORK: 4,
  FILE: 5,
  HTTP: 22,
  TIMEOUT: 28,
} as const;

/**
 * One of the {@linkcode EXIT_CODE} values: what {@linkcode main} returns and
 * the process exits with.
 *
 * @example Telling a refused token from an error status of the API
 * ```ts
 * import assert from "node:assert/strict";
 * import { EXIT_CODE, type ExitCode, main } from "@alf/client/cli";
 * import { startAuthServer } from "@alf/client/testing";
 *
 * await using server = await startAuthServer({ clientSecret: "secret" });
 * server.route("/resource/missing", () => new Response("no such item", { status: 404 }));
 * const run = (secret: string, url: string): Promise<ExitCode> =>
 *   main(["request", url], {
 *     env: {
 *       ALF_TOKEN_ENDPOINT: server.tokenEndpoint,
 *       ALF_CLIENT_ID: "id",
 *       ALF_CLIENT_SECRET: secret,
 *     },
 *     stdout: new WritableStream(),
 *     stderr: new WritableStream(),
 *   });
 * assert.equal(await run("guess", server.resourceUrl), EXIT_CODE.TOKEN); // 3
 * assert.equal(await run("secret", server.url("/resource/missing")), EXIT_CODE.HTTP); // 22
 * assert.equal(await run("secret", server.resourceUrl), EXIT_CODE.OK); // 0
 * ```
 */
export type ExitCode = typeof EXIT_CODE[keyof typeof EXIT_CODE];

/** A failure the command reports in one line, with its exit code. */
export class CliError extends Error {
  /** The exit code the run ends with. */
  readonly exitCode: ExitCode;

  /**
   * @param message The one-line message, without the `alf: ` prefix.
   * @param exitCode The exit code.
   * @param options The cause.
   */
  constructor(message: string, exitCode: ExitCode, options?: ErrorOptions) {
    super(message, options);
    this.name = "CliError";
    this.exitCode = exitCode;
  }
}

/**
 * A {@linkcode CliError} for bad arguments or configuration. Option names
 * of the library in `message` (`"allowHttp"`, `[first, last]`) are replaced
 * by the command's flags (`--allow-http`, `FROM-TO`).
 */
export function usageError(message: string): CliError {
  return new CliError(withFlagNames(message), EXIT_CODE.USAGE);
}

/**
 * An error's message on one line, for `alf: <message>`, followed by what its
 * causes add (fetch's "fetch failed" says why only in its cause).
 */
export function oneLine(error: unknown): string {
  const parts: string[] = [];
  for (let e = error, depth = 0; e !== undefined && depth < 4; depth++) {
    const message = (e instanceof Error ? e.message : String(e)).replace(/\s*\n\s*/g, " ").trim();
    if (message && !parts.some((part) => part.includes(message))) parts.push(message);
    e = e instanceof Error ? e.cause : undefined;
  }
  return parts.join(": ");
}
