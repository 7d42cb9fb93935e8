// What a run of the command reads and writes: environment, stdin, stdout, stderr.

import type { CliOptions } from "./cli_options.ts";

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
