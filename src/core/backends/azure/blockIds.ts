import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Encoding from "effect/Encoding"
import * as Random from "effect/Random"
import * as Schema from "effect/Schema"
import { InvalidRequest, NoSuchUpload } from "../../s3/errors.js"
import type { StagedBlock } from "./blockList.js"

/**
 * How a multipart upload lives in a blob's uncommitted blocks, with no server state: upload ids, part tags
 * (the part ETags), the block ids they become, the upload's record blocks and the abort's tombstone.
 */

/**
 * An upload id is base64url of `{v, k, n, h}`: the key, a random 48-bit nonce (12 hex digits) and the
 * Azure headers to set at completion (content headers and metadata sent with CreateMultipartUpload). It
 * is not secret and needs no server state; a forged one names a key the client was already allowed to write.
 */
const UploadId = Schema.Struct({
  v: Schema.Literal(1),
  k: Schema.String,
  n: Schema.String.pipe(Schema.pattern(/^[0-9a-f]{12}$/)),
  h: Schema.Array(Schema.Tuple(Schema.String, Schema.String))
})
export type UploadId = typeof UploadId.Type
const UploadIdJson = Schema.parseJson(UploadId)

export const encodeUploadId = (upload: UploadId): string => Encoding.encodeBase64Url(JSON.stringify(upload))
export const decodeUploadId = (id: string): UploadId | undefined =>
  /^[A-Za-z0-9_-]+$/.test(id)
    ? Either.getOrUndefined(
      Either.flatMap(
        Either.mapLeft(Encoding.decodeBase64UrlString(id), () => undefined),
        (json) => Either.mapLeft(Schema.decodeUnknownEither(UploadIdJson)(json), () => undefined)
      )
    )
    : undefined

/** The upload `uploadId` names, when it decodes and is one of `key`'s; else NoSuchUpload. */
export const uploadOf = (uploadId: string, key: string): Effect.Effect<UploadId, NoSuchUpload> => {
  const upload = decodeUploadId(uploadId)
  return upload === undefined || upload.k !== key ? Effect.fail(new NoSuchUpload({ uploadId })) : Effect.succeed(upload)
}

/** S3's part numbers, 1 to 10000; a block id holds any in its 8 hex digits. */
export const checkPartNumber = (partNumber: number): Effect.Effect<void, InvalidRequest> =>
  !Number.isInteger(partNumber) || partNumber < 1 || partNumber > 10000
    ? Effect.fail(new InvalidRequest({ message: "Part number must be an integer between 1 and 10000, inclusive" }))
    : Effect.void

const hex = (value: number, width: number) => value.toString(16).padStart(width, "0")
/** 48 random bits as 12 hex digits, never all zeros (`ZERO_ATTEMPT`). */
export const random48: Effect.Effect<string> = Effect.zipWith(
  Random.nextIntBetween(1, 0x1000000),
  Random.nextIntBetween(0, 0x1000000),
  (a, b) => hex(a, 6) + hex(b, 6)
)
/**
 * The attempt of a part with no bytes: Azure refuses an empty Put Block (400), so an empty part stages
 * nothing, answers this ETag, and is left out of the block list at completion (it adds no bytes).
 */
export const ZERO_ATTEMPT = "000000000000"

/**
 * A staged part is named by 32 hex digits: the upload's nonce, the part number (8 hex digits) and a random
 * 48-bit attempt, so every UploadPart (a retry of a part number too) stages its own block. Those 32 digits
 * are the part's ETag: the client sends it back at completion, which picks exactly the block it names, and
 * an ETag this upload never answered is InvalidPart, as on S3. It is not the part's MD5.
 */
export const partTag = (nonce: string, partNumber: number, attempt: string): string => `${nonce}${hex(partNumber, 8)}${attempt}`
/**
 * Azure's block id: base64 of `sdp1` + the 32 digits, 36 bytes: every block id this proxy stages has the
 * same length (48 base64 characters), as Azure requires of all uncommitted blocks of a blob.
 */
export const blockId = (tag: string): string => Encoding.encodeBase64(`sdp1${tag}`)
/** Part number 0 with a zero attempt: the tombstone an abort stages (S3 part numbers start at 1). */
export const tombstoneTag = (nonce: string): string => partTag(nonce, 0, ZERO_ATTEMPT)

/** The tag of a part ETag as the client echoes it (quoted or not), or undefined when it is not one of ours. */
export const tagOfEtag = (etag: string): string | undefined => {
  const bare = etag.trim().replace(/^"|"$/g, "").toLowerCase()
  return /^[0-9a-f]{32}$/.test(bare) ? bare : undefined
}

/**
 * The upload's record blocks, staged by CreateMultipartUpload (one byte each): block id = base64 of the 36
 * bytes `sdph` + nonce (12 hex digits) + sequence (4 hex digits) + 16 bytes of the upload's headers as
 * JSON (UTF-8, the last piece padded with NUL bytes, which JSON text never holds). At least one is staged
 * (`[]` when there are no headers): it tells an upload that exists from an id never issued, and lets
 * ListMultipartUploads rebuild the upload id exactly (key from the blob, nonce and headers from here).
 */
const RECORD_PIECE = 16
/** The most record blocks one upload may stage: the sequence's 4 hex digits. */
export const RECORD_MAX_PIECES = 0x10000
const ascii = (text: string) => new TextEncoder().encode(text)

export const recordBlockIds = (nonce: string, headers: ReadonlyArray<readonly [string, string]>): Array<string> => {
  const json = ascii(JSON.stringify(headers))
  const ids: Array<string> = []
  for (let seq = 0; seq * RECORD_PIECE < json.length; seq++) {
    const raw = new Uint8Array(36)
    raw.set(ascii(`sdph${nonce}${hex(seq, 4)}`), 0)
    raw.set(json.subarray(seq * RECORD_PIECE, (seq + 1) * RECORD_PIECE), 20)
    ids.push(Encoding.encodeBase64(raw))
  }
  return ids
}

/** What one of this proxy's block ids says: a part (or tombstone) tag, or a piece of an upload record. */
type BlockName =
  | { readonly _tag: "Part"; readonly nonce: string; readonly partNumber: number; readonly tag: string }
  | { readonly _tag: "Record"; readonly nonce: string; readonly seq: number; readonly piece: Uint8Array }

export const readBlockId = (name: string): BlockName | undefined => {
  const decoded = Encoding.decodeBase64(name)
  if (Either.isLeft(decoded) || decoded.right.length !== 36) return undefined
  const raw = decoded.right
  const head = String.fromCharCode(...raw.subarray(0, 20))
  if (head.startsWith("sdp1")) {
    const tag = String.fromCharCode(...raw.subarray(4))
    return /^[0-9a-f]{32}$/.test(tag)
      ? { _tag: "Part", nonce: tag.slice(0, 12), partNumber: Number.parseInt(tag.slice(12, 20), 16), tag }
      : undefined
  }
  const match = /^sdph([0-9a-f]{12})([0-9a-f]{4})$/.exec(head)
  return match === null ? undefined : { _tag: "Record", nonce: match[1]!, seq: Number.parseInt(match[2]!, 16), piece: raw.subarray(20) }
}

const HeaderPairs = Schema.parseJson(Schema.Array(Schema.Tuple(Schema.String, Schema.String)))

/**
 * The uploads a blob's uncommitted blocks record: nonce → headers, for every complete record whose upload
 * has no tombstone. Record pieces are 1 byte each and sorted by their sequence number here.
 */
export const recordedUploads = (staged: ReadonlyArray<StagedBlock>): Map<string, ReadonlyArray<readonly [string, string]>> => {
  const pieces = new Map<string, Map<number, Uint8Array>>()
  const aborted = new Set<string>()
  for (const block of staged) {
    const read = readBlockId(block.name)
    if (read === undefined) continue
    if (read._tag === "Part") {
      if (read.tag === tombstoneTag(read.nonce)) aborted.add(read.nonce)
      continue
    }
    const known = pieces.get(read.nonce) ?? new Map<number, Uint8Array>()
    known.set(read.seq, read.piece)
    pieces.set(read.nonce, known)
  }
  const uploads = new Map<string, ReadonlyArray<readonly [string, string]>>()
  for (const [nonce, known] of pieces) {
    if (aborted.has(nonce)) continue
    const bytes: Array<number> = []
    for (let seq = 0; seq < known.size; seq++) {
      const piece = known.get(seq)
      if (piece === undefined) break
      bytes.push(...piece)
    }
    const end = bytes.indexOf(0)
    const text = new TextDecoder("utf-8", { fatal: false }).decode(Uint8Array.from(end < 0 ? bytes : bytes.slice(0, end)))
    const headers = Either.getOrUndefined(Schema.decodeUnknownEither(HeaderPairs)(text))
    if (headers !== undefined) uploads.set(nonce, headers)
  }
  return uploads
}
