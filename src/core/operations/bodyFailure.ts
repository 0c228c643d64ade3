import { isSigV4BodyError, type SigV4BodyError } from "../sigv4/errors.js"

/** Set when a verified request body failed (a chunk signature, the payload hash, the aws-chunked framing). */
export interface BodyFailure {
  error: SigV4BodyError | undefined
}

/**
 * `body` passed through unchanged, noting in `failure` the SigV4 body error it fails with. The backend that
 * reads it sees only a stream that errored and reports a failure of its own (a transport error, a refused
 * body); with this, the write answers the client's error instead, on every backend alike.
 */
export const noteBodyFailure = (body: ReadableStream<Uint8Array>, failure: BodyFailure): ReadableStream<Uint8Array> => {
  const reader = body.getReader()
  return new ReadableStream<Uint8Array>({
    pull: (controller) =>
      reader.read().then(
        (chunk) => (chunk.done ? controller.close() : controller.enqueue(chunk.value)),
        (cause: unknown) => {
          if (isSigV4BodyError(cause)) failure.error ??= cause
          controller.error(cause)
        }
      ),
    cancel: (reason) => reader.cancel(reason)
  }, { highWaterMark: 0 })
}
