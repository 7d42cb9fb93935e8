/**
 * The options of {@linkcode main}: the environment and streams a run of the
 * `alf` command uses instead of the process's.
 *
 * @module
 */

/**
 * Where a run of the `alf` command reads its input and writes its output:
 * replace them to run the command inside a program or a test.
 *
 * @example Sending the standard input and reading the output in-process
 * ```ts
 * import assert from "node:assert/strict";
 * import { type CliOptions, EXIT_CODE, main } from "@alf/client/cli";
 * import { startAuthServer } from "@alf/client/testing";
 *
 * await using server = await startAuthServer();
 * let stdout = "";
 * let stderr = "";
 * const decoder = new TextDecoder();
 * const options: CliOptions = {
 *   env: { ALF_TOKEN_ENDPOINT: server.tokenEndpoint, ALF_CLIENT_ID: "id" },
 *   stdin: ReadableStream.from([new TextEncoder().encode('{"name":"ada"}')]),
 *   stdout: new WritableStream({ write: (chunk) => void (stdout += decoder.decode(chunk)) }),
 *   stderr: new WritableStream({ write: (chunk) => void (stderr += decoder.decode(chunk)) }),
 * };
 * const code = await main(["request", "PUT", server.resourceUrl, "-d", "@-", "-v"], options);
 * assert.equal(code, EXIT_CODE.OK);
 * assert.deepEqual(JSON.parse(stdout), { method: "PUT", path: "/resource", bytes: 14 });
 * assert.match(stderr, /^> PUT http:\/\/127\.0\.0\.1:\d+\/resource\n/); // -v: what was sent
 * assert.equal(new TextDecoder().decode(server.resourceRequests[0]?.body), '{"name":"ada"}');
 * ```
 */
export interface CliOptions {
  /**
   * The environment variables the command reads (`ALF_TOKEN_ENDPOINT`, ...).
   * Default: the process environment, read one name at a time, so
   * `--allow-env=ALF_TOKEN_ENDPOINT,...` is enough.
   */
  env?: Record<string, string | undefined>;
  /** The standard input, read for `-d @-`. Default: `Deno.stdin.readable`. */
  stdin?: ReadableStream<Uint8Array>;
  /** Where bodies and tokens are written. Default: `Deno.stdout.writable`. */
  stdout?: WritableStream<Uint8Array>;
  /** Where messages, status and headers are written. Default: `Deno.stderr.writable`. */
  stderr?: WritableStream<Uint8Array>;
}
