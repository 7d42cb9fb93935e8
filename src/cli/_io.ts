// What a run of the command reads and writes: environment, stdin, stdout, stderr.

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
 * const code = await main(["request", "PUT", server.resourceUrl, "-d", "@-", "-i"], options);
 * assert.equal(code, EXIT_CODE.OK);
 * assert.deepEqual(JSON.parse(stdout), { method: "PUT", path: "/resource", bytes: 14 });
 * assert.match(stderr, /^HTTP 200 OK\n/); // -i: the status and headers
 * assert.equal(new TextDecoder().decode(server.resourceRequests[0].body), '{"name":"ada"}');
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

const encoder = new TextEncoder();

/** The streams and environment of one run; the process's own unless replaced. */
export class Io {
  readonly #options: CliOptions;

  constructor(options: CliOptions) {
    this.#options = options;
  }

  /** An environment variable; an empty one counts as unset. */
  env(name: string): string | undefined {
    const value = this.#options.env ? this.#options.env[name] : Deno.env.get(name);
    return value === "" ? undefined : value;
  }

  /** The whole standard input, as bytes. */
  async readStdin(): Promise<Uint8Array<ArrayBuffer>> {
    const stdin = this.#options.stdin ?? Deno.stdin.readable;
    return new Uint8Array(await new Response(stdin).arrayBuffer());
  }

  /** The standard output. Take a writer and release it: closing is the process's job. */
  get stdout(): WritableStream<Uint8Array> {
    return this.#options.stdout ?? Deno.stdout.writable;
  }

  /** Writes `text` to the standard output. */
  print(text: string): Promise<void> {
    return write(this.stdout, encoder.encode(text));
  }

  /** Writes `text` to the standard error. */
  printError(text: string): Promise<void> {
    return write(this.#options.stderr ?? Deno.stderr.writable, encoder.encode(text));
  }
}

async function write(stream: WritableStream<Uint8Array>, bytes: Uint8Array): Promise<void> {
  const writer = stream.getWriter();
  try {
    await writer.write(bytes);
  } finally {
    writer.releaseLock();
  }
}
