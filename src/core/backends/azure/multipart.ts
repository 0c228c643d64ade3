import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Encoding from "effect/Encoding"
import { EntityTooSmall, InvalidPart, InvalidRequest, NoSuchUpload, PreconditionFailed } from "../../s3/errors.js"
import type { CompletedPart } from "../../s3/writeXml.js"
import { discard } from "../answer.js"
import type { ObjectWriter } from "../ObjectStore.js"
import {
  blockId,
  checkPartNumber,
  encodeUploadId,
  partTag,
  random48,
  RECORD_MAX_PIECES,
  recordBlockIds,
  tagOfEtag,
  tombstoneTag,
  uploadOf,
  ZERO_ATTEMPT
} from "./blockIds.js"
import { blockListXml } from "./blockList.js"
import type { BlockRequests } from "./blockRequests.js"
import { type AzureWriterOptions, blobUrl, PARALLEL_REQUESTS } from "./blobService.js"
import { forwardPreconditions, headersOf, storedHeaders } from "./headers.js"
import { quoted, refusal } from "./writeAnswers.js"
import { bodyFor, lengthOf } from "./writeBody.js"

const MiB = 1024 * 1024
/** Put Block's largest block (API 2019-12-12 and later). */
const MAX_BLOCK = 4000 * MiB
/** S3's smallest part but the last; Azure takes blocks of any size, so the proxy holds to S3's rule. */
const MIN_PART = 5 * MiB

/** CreateMultipartUpload, UploadPart, CompleteMultipartUpload and AbortMultipartUpload as staged blocks (`blockIds.ts`). */
export const multipartWrites = (
  { base, send }: AzureWriterOptions,
  { putBlock, putBlockNamed, stagedBlocks, uncommitted }: BlockRequests
): Pick<ObjectWriter, "createMultipart" | "uploadPart" | "completeMultipart" | "abortMultipart"> => {
  /**
   * CreateMultipartUpload: the upload id carries the key, a nonce and the headers to set at completion;
   * the upload's record blocks (`recordBlockIds`: one 1-byte Put Block per 16 bytes of the headers as
   * JSON, at least one, six at a time) make the upload visible to ListParts and ListMultipartUploads.
   */
  const createMultipart: ObjectWriter["createMultipart"] = Effect.fnUntraced(function*(request) {
    const nonce = yield* random48
    const headers = storedHeaders(request.headers)
    const ids = recordBlockIds(nonce, headers)
    if (ids.length > RECORD_MAX_PIECES) {
      return yield* new InvalidRequest({ message: "MetadataTooLarge: your metadata headers exceed the maximum allowed metadata size" })
    }
    yield* Effect.forEach(ids, (id) => putBlockNamed(request.key, id, "x", 1, null), { concurrency: PARALLEL_REQUESTS, discard: true })
    return encodeUploadId({ v: 1, k: request.key, n: nonce, h: headers })
  })

  /**
   * UploadPart: Put Block, streamed, with a fresh block id; at the same time the block list is read to
   * answer NoSuchUpload after an abort. That read costs one request per part and grows with the number of
   * parts staged (≈ 80 bytes a block); an UploadPart after a *completion* is not detected (the block
   * stays uncommitted until Azure drops it, within 7 days).
   */
  const uploadPart: ObjectWriter["uploadPart"] = Effect.fnUntraced(function*(request) {
    const upload = yield* uploadOf(request.uploadId, request.key)
    yield* checkPartNumber(request.partNumber)
    const length = yield* lengthOf(request, MAX_BLOCK)
    const tag = partTag(upload.n, request.partNumber, length === 0 ? ZERO_ATTEMPT : yield* random48)
    const body = yield* bodyFor(request, length)
    const [, names] = yield* Effect.all([
      length === 0 ? Effect.void : putBlock(request.key, tag, body, length, request.headers.get("content-md5")),
      uncommitted(request.key)
    ], { concurrency: 2 })
    if (names.has(blockId(tombstoneTag(upload.n)))) return yield* new NoSuchUpload({ uploadId: request.uploadId })
    return { etag: `"${tag}"`, headers: new Headers() }
  })

  /**
   * CompleteMultipartUpload: the part list is checked (ascending part numbers, each ETag one this upload
   * answered for that part number, its block still staged), then Put Block List commits exactly those
   * blocks, with the content headers and metadata given at creation and the client's if-match /
   * if-none-match. An aborted upload (its tombstone staged) or one with no block left (completed, or
   * overwritten) answers NoSuchUpload.
   */
  const completeMultipart: ObjectWriter["completeMultipart"] = Effect.fnUntraced(function*(request) {
    const upload = yield* uploadOf(request.uploadId, request.key)
    if (request.parts.length === 0) {
      return yield* new InvalidRequest({ message: "You must specify at least one part" })
    }
    const tags: Array<string> = []
    let previous = 0
    for (const part of request.parts as ReadonlyArray<CompletedPart>) {
      if (part.partNumber <= previous) {
        return yield* new InvalidPart({ message: "InvalidPartOrder: the list of parts was not in ascending order" })
      }
      previous = part.partNumber
      const tag = tagOfEtag(part.etag)
      if (tag === undefined || tag.slice(0, 20) !== partTag(upload.n, part.partNumber, "")) {
        return yield* new InvalidPart({ message: `part ${part.partNumber}: the ETag is not one this upload answered` })
      }
      tags.push(tag)
    }
    const sizes = new Map((yield* stagedBlocks(request.key)).staged.map((block) => [block.name, block.size] as const))
    const names = new Set(sizes.keys())
    if (names.has(blockId(tombstoneTag(upload.n)))) return yield* new NoSuchUpload({ uploadId: request.uploadId })
    const prefix = `sdp1${upload.n}`
    let ours = false
    for (const name of names) {
      const raw = Encoding.decodeBase64String(name)
      if (Either.isRight(raw) && raw.right.startsWith(prefix)) {
        ours = true
        break
      }
    }
    const staged = tags.filter((tag) => tag.slice(20) !== ZERO_ATTEMPT)
    // Only empty parts: nothing was staged, so there is nothing to tell a completed upload by.
    if (!ours && staged.length > 0) return yield* new NoSuchUpload({ uploadId: request.uploadId })
    const ids = staged.map(blockId)
    for (const [index, id] of ids.entries()) {
      if (!names.has(id)) {
        return yield* new InvalidPart({ message: `part ${Number.parseInt(staged[index]!.slice(12, 20), 16)} was not uploaded, or not with that ETag` })
      }
    }
    // Every part but the last is at least 5 MiB, as S3 answers on Complete (an empty part was never staged).
    for (const tag of tags.slice(0, -1)) {
      if ((tag.slice(20) === ZERO_ATTEMPT ? 0 : sizes.get(blockId(tag)) ?? 0) < MIN_PART) return yield* new EntityTooSmall()
    }
    const xml = blockListXml(ids)
    const headers = headersOf(upload.h)
    forwardPreconditions(request.headers, headers)
    headers.set("content-type", "application/xml")
    headers.set("content-length", String(new TextEncoder().encode(xml).length))
    const response = yield* send("PUT", `${blobUrl(base, request.key)}?comp=blocklist`, headers, xml)
    if (response.status !== 201) {
      if (response.status === 404 && headers.has("if-match")) {
        yield* discard(response)
        return yield* new PreconditionFailed()
      }
      // A block named in the list but gone meanwhile (another upload committed the blob): 400 InvalidBlockList.
      if (response.status === 400 && response.headers.get("x-ms-error-code") === "InvalidBlockList") {
        yield* discard(response)
        return yield* new InvalidPart({ message: "a part is no longer staged" })
      }
      return yield* refusal(response, "Put Block List")
    }
    yield* discard(response)
    return { etag: quoted(response.headers.get("etag")), headers: new Headers() }
  })

  /**
   * AbortMultipartUpload: Azure cannot delete uncommitted blocks (it drops them within 7 days, or at the
   * blob's next commit). The abort stages a one-byte tombstone block instead, which later UploadPart,
   * CompleteMultipartUpload and AbortMultipartUpload calls find (NoSuchUpload). An abort of an id this proxy
   * cannot decode, or of another key, is NoSuchUpload; a decodable id whose upload never staged a part is
   * not told apart from a live one. Two aborts racing both succeed.
   */
  const abortMultipart: ObjectWriter["abortMultipart"] = Effect.fnUntraced(function*(request) {
    const upload = yield* uploadOf(request.uploadId, request.key)
    const tombstone = tombstoneTag(upload.n)
    if ((yield* uncommitted(request.key)).has(blockId(tombstone))) {
      return yield* new NoSuchUpload({ uploadId: request.uploadId })
    }
    yield* putBlock(request.key, tombstone, "x", 1, null)
  })

  return { createMultipart, uploadPart, completeMultipart, abortMultipart }
}
