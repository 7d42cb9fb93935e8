// Reading response bodies with a size bound, and cancelling the ones we drop.

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
