// Reading response bodies with a size bound, cancelling the ones we drop, and
// the request bodies the client copies for a replay.

/** Thrown by {@linkcode readBounded} when a body exceeds its limit. */
export class BodyTooLargeError extends RangeError {
  constructor(limit: number) {
    super(`Cannot read the body: it exceeds ${limit} bytes`);
    this.name = "BodyTooLargeError";
  }
}

/**
 * Reads a whole response body, refusing to buffer more than `limit` bytes.
 *
 * A `Content-Length` above the limit fails before anything is read; a body
 * that grows past it is cancelled as soon as it does.
 */
export async function readBounded(response: Response, limit: number): Promise<Uint8Array> {
  const declared = Number(response.headers.get("content-length"));
  if (declared > limit) {
    await discard(response);
    throw new BodyTooLargeError(limit);
  }
  if (response.body === null) return new Uint8Array();
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > limit) {
        await reader.cancel().catch(() => {});
        throw new BodyTooLargeError(limit);
      }
      chunks.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  const [only] = chunks;
  if (chunks.length === 1 && only) return only;
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

/** Cancels a body we will not read, so its connection is released promptly. */
export async function discard(body: { body: ReadableStream | null } | undefined): Promise<void> {
  if (!body?.body || body.body.locked) return;
  await body.body.cancel().catch(() => {});
}

/**
 * Whether a request body is streamed as fetch sends it: a `ReadableStream`,
 * or an async or sync iterable of `Uint8Array` (which Deno's fetch turns into
 * a stream). Strings, bytes, `Blob`s, forms and `URLSearchParams` are iterable
 * too, but sent whole.
 */
export function isStreamedBody(body: unknown): boolean {
  if (body instanceof ReadableStream) return true;
  if (typeof body !== "object" || body === null) return false;
  if (
    body instanceof Blob || body instanceof ArrayBuffer || ArrayBuffer.isView(body) ||
    body instanceof FormData || body instanceof URLSearchParams || body instanceof String ||
    (typeof SharedArrayBuffer === "function" && body instanceof SharedArrayBuffer)
  ) {
    return false;
  }
  return Symbol.asyncIterator in body || Symbol.iterator in body;
}

/**
 * Makes `request.body`, as a transport sees it, a stream whose `cancel()`
 * settles at once; returns `request`.
 *
 * The body of a cloned Request is a branch of a tee, and a tee branch's
 * `cancel()` settles only once the other branch is cancelled too: a transport
 * that awaits it would wait for the replay copy, which is kept until the
 * response comes. Only the `body` property changes: fetch reads the Request's
 * own body, so what is sent, and how (Content-Length or chunked), stays the
 * same. Reading the view reads the body; cancelling it cancels the body
 * without waiting, while the copy stays usable for the replay.
 */
export function withPromptCancel(request: Request): Request {
  let view: ReadableStream<Uint8Array> | null | undefined;
  Object.defineProperty(request, "body", {
    configurable: true,
    get() {
      if (view !== undefined) return view;
      // The Request's own body, taken only now: reading it turns a static body
      // into a stream, which the runtime then sends chunked.
      const body = Reflect.get(Request.prototype, "body", request) as
        | ReadableStream<Uint8Array>
        | null;
      return view = body && promptlyCancelled(body);
    },
  });
  return request;
}

/** A stream that reads `body` and whose `cancel()` does not wait for `body`'s. */
function promptlyCancelled(body: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      reader ??= body.getReader();
      const { done, value } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel(reason) {
      (reader ?? body).cancel(reason).catch(() => {});
    },
  }, { highWaterMark: 0 });
}
