import * as Effect from "effect/Effect"
import { BackendUnavailable, InvalidRequest, NoSuchKey, NoSuchUpload, PreconditionFailed } from "../../s3/errors.js"
import { parseCopySourceRange } from "../../s3/range.js"
import { discard } from "../answer.js"
import type { ObjectWriter } from "../ObjectStore.js"
import { blockId, checkPartNumber, partTag, random48, tombstoneTag, uploadOf, ZERO_ATTEMPT } from "./blockIds.js"
import type { BlockRequests } from "./blockRequests.js"
import { type AzureWriterOptions, blobUrl, copySourceUrl } from "./blobService.js"
import { forwardSourceConditions } from "./headers.js"
import { answeredAt, refusal } from "./writeAnswers.js"

type PartCopy = Parameters<NonNullable<ObjectWriter["uploadPartCopy"]>>[0]

/**
 * UploadPartCopy: Put Block From URL under a fresh block id (as UploadPart), the source being a blob of
 * this container (a SAS connection puts its SAS on the source URL; with SharedKey, `sourceUrl` signs
 * one), `x-amz-copy-source-range` forwarded as `x-ms-source-range`, the copy-source preconditions as
 * `x-ms-source-if-*`. A missing source is NoSuchKey; the block list is read meanwhile, as UploadPart does,
 * to answer NoSuchUpload after an abort. The part's ETag is its 32 hex digits, as for UploadPart.
 */
export const partCopy = (
  options: AzureWriterOptions,
  { putBlock, uncommitted }: BlockRequests
): NonNullable<ObjectWriter["uploadPartCopy"]> => {
  const { base, send, sourceUrl } = options

  /** Put Block From URL; "NotImplemented" when the service has no such operation (Azurite). */
  const blockFromUrl = Effect.fnUntraced(function*(request: PartCopy, tag: string, range: string | undefined) {
    const source = sourceUrl === undefined ? copySourceUrl(options, request.sourceKey) : yield* sourceUrl(request.sourceKey)
    const headers = new Headers({ "x-ms-copy-source": source, "content-length": "0" })
    if (range !== undefined) headers.set("x-ms-source-range", range)
    forwardSourceConditions(request.headers, headers, "x-ms-source-")
    const url = `${blobUrl(base, request.key)}?comp=block&blockid=${encodeURIComponent(blockId(tag))}`
    const response = yield* send("PUT", url, headers)
    if (response.status === 501) {
      yield* discard(response)
      return "NotImplemented" as const
    }
    if (response.status !== 201) {
      // A missing source: 404 (CannotVerifyCopySource on Azure, BlobNotFound elsewhere).
      if (response.status === 404) {
        yield* discard(response)
        return yield* new NoSuchKey({ key: request.sourceKey })
      }
      return yield* refusal(response, "Put Block From URL")
    }
    yield* discard(response)
    return { tag, at: yield* answeredAt(response) }
  })

  /**
   * Where Put Block From URL is not implemented (Azurite answers 501): Get Blob (ranged, with the
   * copy-source preconditions) streamed into Put Block, the bytes passing through the proxy.
   */
  const blockThroughProxy = Effect.fnUntraced(function*(request: PartCopy, tag: string, range: string | undefined) {
    const headers = new Headers()
    if (range !== undefined) headers.set("x-ms-range", range)
    forwardSourceConditions(request.headers, headers, "")
    const source = yield* send("GET", blobUrl(base, request.sourceKey), headers)
    if (source.status !== 200 && source.status !== 206) {
      yield* discard(source)
      if (source.status === 404) return yield* new NoSuchKey({ key: request.sourceKey })
      if (source.status === 304 || source.status === 412) return yield* new PreconditionFailed()
      if (source.status === 416) return yield* new InvalidRequest({ message: "InvalidRange: the requested range is not satisfiable" })
      return yield* refusal(source, "Get Blob for UploadPartCopy")
    }
    const length = Number(source.headers.get("content-length") ?? Number.NaN)
    if (!Number.isSafeInteger(length) || length < 0) {
      yield* discard(source)
      return yield* new BackendUnavailable({ reason: "Get Blob answered without a Content-Length" })
    }
    if (length === 0) {
      // An empty part stages nothing (as UploadPart does).
      yield* discard(source)
      return { tag: `${tag.slice(0, 20)}${ZERO_ATTEMPT}`, at: yield* answeredAt(source) }
    }
    yield* putBlock(request.key, tag, source.body, length, null)
    return { tag, at: yield* answeredAt(source) }
  })

  return Effect.fnUntraced(
    function*(request) {
      const upload = yield* uploadOf(request.uploadId, request.key)
      yield* checkPartNumber(request.partNumber)
      const range = request.range?.trim()
      if (range !== undefined && parseCopySourceRange(range) === undefined) {
        return yield* new InvalidRequest({ message: "The x-amz-copy-source-range value must be of the form bytes=first-last" })
      }
      const tag = partTag(upload.n, request.partNumber, yield* random48)
      const [answer, names] = yield* Effect.all([
        Effect.flatMap(blockFromUrl(request, tag, range), (answered) =>
          answered === "NotImplemented" ? blockThroughProxy(request, tag, range) : Effect.succeed(answered)),
        uncommitted(request.key)
      ], { concurrency: 2 })
      if (names.has(blockId(tombstoneTag(upload.n)))) return yield* new NoSuchUpload({ uploadId: request.uploadId })
      return { etag: `"${answer.tag}"`, lastModified: answer.at }
    })
}
