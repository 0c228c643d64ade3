import { isSha256Hex, toHex } from "./encoding.js"
import { XAmzContentSHA256Mismatch } from "../s3/errors.js"
import { Sha256 } from "./sha256.js"

/** What `x-amz-content-sha256` (or, presigned, its absence) says about the body. */
export type PayloadMode =
  | { readonly _tag: "Unsigned" }
  | { readonly _tag: "Sha256"; readonly hex: string }
  | { readonly _tag: "StreamingUnsignedTrailer" }
  | { readonly _tag: "StreamingSigned"; readonly trailer: boolean }

export const UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
export const STREAMING_UNSIGNED_PAYLOAD_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
export const STREAMING_SIGNED_PAYLOAD = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
export const STREAMING_SIGNED_PAYLOAD_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"

/** The mode named by an `x-amz-content-sha256` value, or undefined (SigV4a streaming, garbage). */
export const payloadModeOf = (value: string): PayloadMode | undefined => {
  switch (value) {
    case UNSIGNED_PAYLOAD:
      return { _tag: "Unsigned" }
    case STREAMING_UNSIGNED_PAYLOAD_TRAILER:
      return { _tag: "StreamingUnsignedTrailer" }
    case STREAMING_SIGNED_PAYLOAD:
      return { _tag: "StreamingSigned", trailer: false }
    case STREAMING_SIGNED_PAYLOAD_TRAILER:
      return { _tag: "StreamingSigned", trailer: true }
    default:
      return isSha256Hex(value) ? { _tag: "Sha256", hex: value.toLowerCase() } : undefined
  }
}

/**
 * The body passed through unchanged while an incremental SHA-256 runs over it; the stream errors with
 * `XAmzContentSHA256Mismatch` at its end if the hash is not `expectedHex`. The last piece read is held back until
 * the hash has been checked, so a consumer framing by length never receives a complete body that then fails.
 * Memory: the hash state and one piece.
 */
export const verifySha256Body = (
  source: ReadableStream<Uint8Array>,
  expectedHex: string
): ReadableStream<Uint8Array> => {
  const hasher = new Sha256()
  let pending: Uint8Array | undefined
  return source.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        hasher.update(chunk)
        if (pending !== undefined) controller.enqueue(pending)
        pending = chunk
      },
      flush(controller) {
        const computed = toHex(hasher.digest())
        if (computed !== expectedHex) throw new XAmzContentSHA256Mismatch({ expected: expectedHex, computed })
        if (pending !== undefined) controller.enqueue(pending)
      }
    })
  )
}

