import * as Effect from "effect/Effect"
import { NoSuchUpload } from "../../s3/errors.js"
import { compareUtf8 } from "../../shared/utf8.js"
import type { ListedPart, ListedUpload, ObjectWriter } from "../ObjectStore.js"
import { encodeUploadId, readBlockId, recordedUploads, tombstoneTag, uploadOf } from "./blockIds.js"
import type { BlockRequests } from "./blockRequests.js"
import { type AzureWriterOptions, PARALLEL_REQUESTS } from "./blobService.js"
import { listBlobs } from "./listBlobs.js"

/** Blobs per List Blobs page of ListMultipartUploads. */
const LIST_PAGE = 1000

/** ListParts and ListMultipartUploads, read from the blobs' uncommitted block lists. */
export const multipartListing = (
  { base, send }: AzureWriterOptions,
  { stagedBlocks }: BlockRequests
): Required<Pick<ObjectWriter, "listParts" | "listUploads">> => {
  /**
   * ListParts: Get Block List, this upload's part blocks (its nonce; record blocks and the tombstone
   * left out) as parts: number and ETag from the block id, size from the list. An aborted upload (its
   * tombstone staged) or one with no block at all (completed, overwritten, or never created) answers
   * NoSuchUpload. Limits: a part number uploaded more than once lists the attempt Azure lists last
   * (Azure lists uncommitted blocks in staging order), where S3 lists the latest; empty parts stage no
   * block and are not listed; Azure keeps no time per block, so every part's LastModified is the time of
   * the Get Block List answer.
   */
  const listParts: NonNullable<ObjectWriter["listParts"]> = Effect.fnUntraced(function*(request) {
    const upload = yield* uploadOf(request.uploadId, request.key)
    const { at, staged } = yield* stagedBlocks(request.key)
    const byNumber = new Map<number, ListedPart>()
    let known = false
    for (const block of staged) {
      const read = readBlockId(block.name)
      if (read === undefined || read.nonce !== upload.n) continue
      known = true
      if (read._tag !== "Part") continue
      if (read.tag === tombstoneTag(upload.n)) return yield* new NoSuchUpload({ uploadId: request.uploadId })
      if (read.partNumber < 1 || read.partNumber > 10000) continue
      byNumber.set(read.partNumber, { partNumber: read.partNumber, etag: `"${read.tag}"`, size: block.size, lastModified: at })
    }
    if (!known) return yield* new NoSuchUpload({ uploadId: request.uploadId })
    const after = [...byNumber.values()].filter((part) => part.partNumber > request.partNumberMarker).sort((a, b) => a.partNumber - b.partNumber)
    const max = Math.max(0, request.maxParts)
    const parts = after.slice(0, max)
    const isTruncated = after.length > parts.length
    return { parts, isTruncated, nextPartNumberMarker: isTruncated ? parts.at(-1)?.partNumber ?? request.partNumberMarker : undefined }
  })

  /**
   * ListMultipartUploads: List Blobs (`include=uncommittedblobs`) under the prefix, then Get Block List for
   * every blob after the key marker (six at a time), whose record blocks give back each open upload's id
   * exactly (`recordedUploads`). Uploads of one key are ordered by upload id (Azure keeps no initiation
   * time per upload: `initiated` is the blob's Last-Modified as listed). Limits: one Get Block List per
   * blob listed, committed or not, until the page is full, so a prefix with many objects and few uploads
   * costs many requests; an upload created before record blocks existed (no record) is not listed.
   */
  const listUploads: NonNullable<ObjectWriter["listUploads"]> = Effect.fnUntraced(function*(request) {
    const max = Math.max(0, request.maxUploads)
    const found: Array<ListedUpload> = []
    let marker: string | undefined
    do {
      const page = yield* listBlobs(send, base, { prefix: request.prefix, delimiter: "", maxResults: LIST_PAGE, marker, uncommitted: true })
      marker = page.nextMarker
      const blobs = page.objects.filter((blob) =>
        request.keyMarker === undefined || compareUtf8(blob.key, request.keyMarker) > 0 ||
        (blob.key === request.keyMarker && request.uploadIdMarker !== undefined)
      )
      const perBlob = yield* Effect.forEach(blobs, (blob) =>
        Effect.map(stagedBlocks(blob.key), ({ staged }) => {
          const uploads: Array<ListedUpload> = []
          for (const [nonce, headers] of recordedUploads(staged)) {
            const uploadId = encodeUploadId({ v: 1, k: blob.key, n: nonce, h: headers })
            if (blob.key === request.keyMarker && uploadId <= (request.uploadIdMarker ?? "")) continue
            uploads.push({ key: blob.key, uploadId, initiated: blob.lastModified })
          }
          return uploads.sort((a, b) => (a.uploadId < b.uploadId ? -1 : a.uploadId > b.uploadId ? 1 : 0))
        }), { concurrency: PARALLEL_REQUESTS })
      for (const uploads of perBlob) found.push(...uploads)
    } while (marker !== undefined && found.length <= max)
    const uploads = found.slice(0, max)
    const isTruncated = found.length > uploads.length
    const last = uploads.at(-1)
    return {
      uploads,
      isTruncated,
      nextKeyMarker: isTruncated ? last?.key ?? request.keyMarker : undefined,
      nextUploadIdMarker: isTruncated ? last?.uploadId ?? request.uploadIdMarker : undefined
    }
  })

  return { listParts, listUploads }
}
