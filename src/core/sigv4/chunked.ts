import * as Effect from "effect/Effect"
import * as Runtime from "effect/Runtime"
import { type Bytes, Hmac } from "../services/Hmac.js"
import { constantTimeEqual, EMPTY_SHA256, toHex } from "./encoding.js"
import { IncompleteBody, SignatureDoesNotMatch } from "../s3/errors.js"
import { Sha256 } from "./sha256.js"
import { chunkStringToSign, type CredentialScope, trailerStringToSign } from "./stringToSign.js"

/** What signed chunks are chained on: the request's signing key, time, scope and signature (the seed). */
export interface ChunkSigning {
  readonly key: Bytes
  readonly timestamp: string
  readonly scope: CredentialScope
  readonly seedSignature: string
}

export interface AwsChunkedOptions {
  /** Verify `chunk-signature`s (STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]); undefined: framing only. */
  readonly signing: ChunkSigning | undefined
  /** Trailing headers follow the final chunk (the `-TRAILER` modes); signed modes then need `x-amz-trailer-signature`. */
  readonly trailer: boolean
  /** `x-amz-decoded-content-length`: the decoded body must be exactly this long. */
  readonly decodedContentLength: number | undefined
  /**
   * Signed chunks up to this size are held whole and only emitted once their signature verifies. A larger chunk
   * is hashed incrementally while it passes through (its last piece held back), so memory stays bounded by this
   * value whatever size a client declares; a bad one still errors the stream before it can complete.
   */
  readonly maxHeldChunkBytes?: number | undefined
  /**
   * How a held chunk's buffer is allocated (default `new Uint8Array`; a seam for tests). It grows with the bytes
   * that arrive, at most doubling, never to the declared size ahead of them.
   */
  readonly allocate?: ((length: number) => Bytes) | undefined
}

export interface AwsChunkedBody {
  /** The decoded bytes. Errors with a `SigV4BodyError` on a bad signature, bad framing or wrong length. */
  readonly body: ReadableStream<Uint8Array>
  /**
   * Trailing headers (lowercased names, e.g. `x-amz-checksum-crc32`), without `x-amz-trailer-signature`.
   * Complete (and, in signed modes, verified) once `body` has closed; empty before.
   */
  readonly trailers: () => ReadonlyMap<string, string>
}

export const DEFAULT_MAX_HELD_CHUNK_BYTES = 8 * 1024 * 1024
const MAX_LINE = 4096
const MAX_TRAILERS = 32

type State = "size" | "data" | "dataEnd" | "trailer" | "done"

/**
 * Decodes an `aws-chunked` body (`<hex-size>[;chunk-signature=<sig>]\r\n<data>\r\n` … `0[;…]\r\n`, then trailing
 * `name:value\r\n` lines and an empty line) as a TransformStream, verifying each chunk signature in sequence.
 * Only the current chunk (when held) and one already-verified piece are in memory; chunks may be split across
 * reads in any way. The last decoded piece is held back until the whole body (final chunk, trailers, length) has
 * verified, so a consumer that frames by length never sees a complete body that then fails.
 */
export const decodeAwsChunked: (
  source: ReadableStream<Uint8Array>,
  options: AwsChunkedOptions
) => Effect.Effect<AwsChunkedBody, never, Hmac> = Effect.fnUntraced(
  function*(source: ReadableStream<Uint8Array>, options: AwsChunkedOptions) {
    const hmac = yield* Hmac
    const run = Runtime.runPromise(yield* Effect.runtime<never>())
    const signing = options.signing
    const maxHeld = options.maxHeldChunkBytes ?? DEFAULT_MAX_HELD_CHUNK_BYTES
    const allocate = options.allocate ?? ((length: number) => new Uint8Array(length))
    const trailers = new Map<string, string>()
    let state: State = "size"
    let line = ""
    let remaining = 0
    let chunkIndex = 0
    let chunkSignature = ""
    let previous = signing?.seedSignature ?? ""
    let held: Bytes | undefined
    let heldFill = 0
    let heldSize = 0
    let hasher: Sha256 | undefined
    let pending: Uint8Array | undefined
    let total = 0
    let trailerCanonical = ""
    let trailerSignature: string | undefined

    const fail = (reason: string): never => {
      throw new IncompleteBody({ reason })
    }
    /** `buffer` (holding `heldFill` bytes) with room for `needed`: doubled or to `needed`, never past the declared `size`. */
    const room = (buffer: Bytes, needed: number, size: number): Bytes => {
      if (needed <= buffer.length) return buffer
      const grown = allocate(Math.min(size, Math.max(needed, 2 * buffer.length)))
      grown.set(buffer.subarray(0, heldFill))
      return grown
    }
    const emit = (piece: Uint8Array, controller: TransformStreamDefaultController<Uint8Array>) => {
      if (pending !== undefined) controller.enqueue(pending)
      pending = piece
    }

    const verifyChunk = async (dataSha256: Effect.Effect<string>) => {
      if (signing === undefined) return
      const expected = await run(Effect.flatMap(dataSha256, (hash) =>
        Effect.map(
          hmac.sha256(signing.key, chunkStringToSign(signing.timestamp, signing.scope, previous, hash)),
          toHex
        )))
      if (!constantTimeEqual(expected, chunkSignature)) {
        throw new SignatureDoesNotMatch({ where: `chunk ${chunkIndex}` })
      }
      previous = chunkSignature
    }

    const finish = async () => {
      if (signing !== undefined && options.trailer) {
        if (trailerSignature === undefined) fail("missing x-amz-trailer-signature")
        const expected = await run(Effect.flatMap(hmac.sha256Hex(trailerCanonical), (hash) =>
          Effect.map(
            hmac.sha256(signing.key, trailerStringToSign(signing.timestamp, signing.scope, previous, hash)),
            toHex
          )))
        if (!constantTimeEqual(expected, trailerSignature ?? "")) throw new SignatureDoesNotMatch({ where: "trailer" })
      }
      if (options.decodedContentLength !== undefined && total !== options.decodedContentLength) {
        fail(`decoded ${total} bytes, x-amz-decoded-content-length says ${options.decodedContentLength}`)
      }
      state = "done"
    }

    const onSizeLine = async (text: string) => {
      const [sizeText = "", ...extensions] = text.split(";")
      if (!/^[0-9a-fA-F]{1,13}$/.test(sizeText)) fail(`bad chunk size line "${text.slice(0, 80)}"`)
      const size = parseInt(sizeText, 16)
      if (signing !== undefined) {
        // Exactly `chunk-signature=<64 hex>`: nothing tolerated around it, so a damaged line cannot pass as valid.
        const ext = extensions.length === 1 ? /^chunk-signature=([0-9a-f]{64})$/.exec(extensions[0]!) : null
        if (ext === null) fail(`chunk ${chunkIndex} has no well-formed chunk-signature`)
        chunkSignature = ext?.[1] ?? ""
      }
      if (options.decodedContentLength !== undefined && total + size > options.decodedContentLength) {
        fail(`chunks exceed x-amz-decoded-content-length ${options.decodedContentLength}`)
      }
      if (size === 0) {
        await verifyChunk(Effect.succeed(EMPTY_SHA256))
        state = "trailer"
        return
      }
      remaining = size
      state = "data"
      if (signing !== undefined) {
        if (size <= maxHeld) {
          held = new Uint8Array(0)
          heldSize = size
          heldFill = 0
        } else {
          hasher = new Sha256()
        }
      }
    }

    const onTrailerLine = async (text: string) => {
      if (text === "") return finish()
      const colon = text.indexOf(":")
      if (colon <= 0) fail(`bad trailer line "${text.slice(0, 80)}"`)
      // Only spaces and tabs may surround a field (RFC 9110 OWS): a stray control byte is damage, not padding.
      const name = text.slice(0, colon).toLowerCase()
      const value = text.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, "")
      if (!/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(name)) fail(`bad trailer name "${name.slice(0, 80)}"`)
      if ([...value].some((c) => (c < " " && c !== "\t") || c === "\x7f")) fail("control character in a trailer value")
      if (name === "x-amz-trailer-signature" && signing !== undefined) {
        trailerSignature = value
        return
      }
      if (!options.trailer) fail("trailing headers in a body declared without trailers")
      if (trailerSignature !== undefined) fail("trailing header after x-amz-trailer-signature")
      if (trailers.size >= MAX_TRAILERS) fail("too many trailing headers")
      trailers.set(name, value)
      trailerCanonical += `${name}:${value}\n`
    }

    const onLine = (text: string): Promise<void> | void => {
      switch (state) {
        case "size":
          return onSizeLine(text)
        case "dataEnd":
          if (text !== "") fail(`chunk ${chunkIndex} is longer than its declared size`)
          chunkIndex++
          state = "size"
          return
        case "trailer":
          return onTrailerLine(text)
      }
    }

    const transform = async (bytes: Uint8Array, controller: TransformStreamDefaultController<Uint8Array>) => {
      let pos = 0
      while (pos < bytes.length) {
        if (state === "done") fail("data after the final chunk")
        if (state === "data") {
          const take = Math.min(remaining, bytes.length - pos)
          const piece = bytes.subarray(pos, pos + take)
          pos += take
          remaining -= take
          total += take
          if (held !== undefined) {
            held = room(held, heldFill + take, heldSize)
            held.set(piece, heldFill)
            heldFill += take
          } else {
            hasher?.update(piece)
            emit(piece, controller)
          }
          if (remaining === 0) {
            if (held !== undefined) {
              const chunk = held
              held = undefined
              await verifyChunk(hmac.sha256Hex(chunk))
              emit(chunk, controller)
            } else if (hasher !== undefined) {
              const digest = toHex(hasher.digest())
              hasher = undefined
              await verifyChunk(Effect.succeed(digest))
            }
            state = "dataEnd"
          }
          continue
        }
        const lf = bytes.indexOf(10, pos)
        const end = lf === -1 ? bytes.length : lf
        line += latin1(bytes, pos, end)
        if (line.length > MAX_LINE) fail("chunk header or trailer line too long")
        if (lf === -1) {
          pos = end
          continue
        }
        pos = lf + 1
        if (!line.endsWith("\r")) fail("line not terminated by CRLF")
        const text = line.slice(0, -1)
        line = ""
        await onLine(text)
      }
    }

    const flush = async (controller: TransformStreamDefaultController<Uint8Array>) => {
      // Tolerate a body that ends right after its trailers, without the closing empty line.
      if (state === "trailer" && line === "") await finish()
      if (state !== "done") fail(`body ended inside the aws-chunked framing (${state})`)
      if (pending !== undefined) controller.enqueue(pending)
      pending = undefined
    }

    const decoder = new TransformStream<Uint8Array, Uint8Array>({ transform, flush })
    return { body: source.pipeThrough(decoder), trailers: () => (state === "done" ? trailers : new Map()) }
  }
)

const latin1 = (bytes: Uint8Array, start: number, end: number): string => {
  let out = ""
  for (let i = start; i < end && out.length <= MAX_LINE; i++) out += String.fromCharCode(bytes[i]!)
  return out
}
