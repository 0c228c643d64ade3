import * as Encoding from "effect/Encoding"
import { Sha256 } from "../sigv4/sha256.js"

/** A running checksum over a body, as S3's `x-amz-checksum-*` algorithms define them (base64 digests). */
interface Checksum {
  readonly update: (chunk: Uint8Array) => void
  readonly digest: () => string
}

const crcTable = (polynomial: number) =>
  Uint32Array.from({ length: 256 }, (_, n) => {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? polynomial ^ (c >>> 1) : c >>> 1
    return c >>> 0
  })

const CRC32 = crcTable(0xedb88320)
const CRC32C = crcTable(0x82f63b78)

const crc = (table: Uint32Array): Checksum => {
  let value = 0xffffffff
  return {
    update: (chunk) => {
      for (let i = 0; i < chunk.length; i++) value = table[(value ^ chunk[i]!) & 0xff]! ^ (value >>> 8)
    },
    digest: () => {
      const out = (value ^ 0xffffffff) >>> 0
      return Encoding.encodeBase64(new Uint8Array([out >>> 24, (out >>> 16) & 0xff, (out >>> 8) & 0xff, out & 0xff]))
    }
  }
}

const sha256 = (): Checksum => {
  const hash = new Sha256()
  return { update: (chunk) => void hash.update(chunk), digest: () => Encoding.encodeBase64(hash.digest()) }
}

/** The algorithms the proxy can check itself; others (sha1, crc64nvme) are left to the client's own checks. */
const ALGORITHMS: Readonly<Record<string, () => Checksum>> = {
  "x-amz-checksum-crc32": () => crc(CRC32),
  "x-amz-checksum-crc32c": () => crc(CRC32C),
  "x-amz-checksum-sha256": sha256
}

/** Set when a trailing checksum did not match the bytes: the write then answers BadDigest, not a 5xx. */
export interface ChecksumOutcome {
  mismatch: string | undefined
}

/**
 * A body whose trailing checksum (aws-chunked `x-amz-trailer`, e.g. the JS SDK's default CRC32) is computed
 * while it streams and compared once it ends. A trailer cannot follow an UNSIGNED-PAYLOAD upload to the
 * backend, so the proxy checks it: on a mismatch the stream errors before its last chunk, and the backend
 * never receives a complete body.
 */
export const verifyTrailingChecksum = (
  body: ReadableStream<Uint8Array>,
  trailerHeader: string | null,
  trailers: () => ReadonlyMap<string, string>,
  outcome: ChecksumOutcome
): ReadableStream<Uint8Array> => {
  const name = (trailerHeader ?? "").trim().toLowerCase()
  const make = ALGORITHMS[name]
  if (make === undefined) return body
  const checksum = make()
  // One chunk is held back until the comparison, so a backend never receives a complete bad body.
  let held: Uint8Array | undefined
  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform: (chunk, controller) => {
        checksum.update(chunk)
        if (held !== undefined) controller.enqueue(held)
        held = chunk
      },
      flush: (controller) => {
        const expected = [...trailers()].find(([trailer]) => trailer.trim().toLowerCase() === name)?.[1]
        if (expected !== undefined && expected.trim() !== checksum.digest()) {
          outcome.mismatch = name
          controller.error(new Error(`${name} does not match the body`))
          return
        }
        if (held !== undefined) controller.enqueue(held)
      }
    })
  )
}
