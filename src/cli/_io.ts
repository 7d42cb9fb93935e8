// What a run of the command reads and writes: environment, stdin, stdout, stderr.

import type { ClientEvent } from "../client_event.ts";
import type { CliOptions } from "./cli_options.ts";

const encoder = new TextEncoder();

/** The streams and environment of one run; the process's own unless replaced. */
export class Io {
  /**
   * Whether messages are kept off stderr (`-s` without `-S`): failures and
   * warnings; the exit code still tells. {@linkcode Io.printVerbose} still writes.
   */
  silent = false;
  readonly #options: CliOptions;
  readonly #eventListeners: ((event: ClientEvent) => void)[] = [];

  constructor(options: CliOptions) {
    this.#options = options;
  }

  /** Passes an event of the command's client to the listeners (`-v` is one). */
  clientEvent(event: ClientEvent): void {
    for (const listener of this.#eventListeners) listener(event);
  }

  /** Calls `listener` with every event of the command's client, from now on. */
  onClientEvent(listener: (event: ClientEvent) => void): void {
    this.#eventListeners.push(listener);
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

  /**
   * Whether the standard error is the process's, and a terminal: links and
   * escape sequences are written only then.
   */
  get stderrIsTerminal(): boolean {
    return this.#options.stderr === undefined && Deno.stderr.isTerminal();
  }

  /** Writes `text` to the standard error, unless the run is {@linkcode Io.silent}. */
  printError(text: string): Promise<void> {
    return this.silent ? Promise.resolve() : this.printVerbose(text);
  }

  /** Writes `text` to the standard error, even in a silent run: what `-v` asked for. */
  printVerbose(text: string): Promise<void> {
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
