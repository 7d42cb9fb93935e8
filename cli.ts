/**
 * The `alf` command: call an OAuth 2 protected API from the shell, with a
 * token obtained, kept and renewed for you.
 *
 * ```sh
 * deno install -g -A --unstable-kv -n alf jsr:@alf/client/cli
 * export ALF_TOKEN_ENDPOINT=https://auth.example.com/token ALF_CLIENT_ID=my-client
 * read -rs ALF_CLIENT_SECRET && export ALF_CLIENT_SECRET
 * alf request https://api.example.com/items              # the body to stdout
 * alf request POST https://api.example.com/items -d @item.json -H "Content-Type: application/json"
 * curl -H "Authorization: Bearer $(alf token)" https://api.example.com/items
 * ```
 *
 * Run `alf --help` for every option and environment variable, and see
 * {@linkcode EXIT_CODE} for the exit codes. `--unstable-kv` is needed only
 * for `--kv PATH`, which keeps tokens across runs.
 *
 * @example Running the command in-process
 * ```ts
 * import assert from "node:assert/strict";
 * import { EXIT_CODE, main } from "@alf/client/cli";
 * import { startAuthServer } from "@alf/client/testing";
 *
 * await using server = await startAuthServer();
 * let body = "";
 * const code = await main(["request", server.resourceUrl], {
 *   env: { ALF_TOKEN_ENDPOINT: server.tokenEndpoint, ALF_CLIENT_ID: "id" },
 *   stdout: new WritableStream({
 *     write: (chunk) => void (body += new TextDecoder().decode(chunk)),
 *   }),
 * });
 * assert.equal(code, EXIT_CODE.OK);
 * assert.equal(JSON.parse(body).path, "/resource");
 * ```
 *
 * @module
 */

import { main } from "./src/cli/main.ts";

export type { CliOptions } from "./src/cli/cli_options.ts";
export { main } from "./src/cli/main.ts";
export { EXIT_CODE, type ExitCode } from "./src/cli/exit_code.ts";

if (import.meta.main) Deno.exit(await main(Deno.args));
