import { readdir, stat } from "node:fs/promises"
import { join } from "node:path"
import * as Effect from "effect/Effect"
import type { ListedPart, ListedUpload, ObjectWriter } from "../../../core/backends/ObjectStore.js"
import { compareUtf8 } from "../../../core/shared/utf8.js"
import { disk, probe } from "./disk.js"
import { UPLOADS_DIR } from "./paths.js"
import { openUpload, UPLOAD_RECORD, uploadRecord } from "./uploads.js"

/** When an upload began: its record's birth time, or its mtime where the filesystem keeps no birth time. */
const initiatedAt = (info: { readonly birthtime: Date; readonly mtime: Date }) =>
  info.birthtime.getTime() > 0 ? info.birthtime : info.mtime

/** ListParts and ListMultipartUploads, read from the upload directories (`uploads.ts`). */
export const multipartListing = (root: string): Required<Pick<ObjectWriter, "listParts" | "listUploads">> => {
  /** The parts of an upload directory: `{n}.{md5}` files, by number. */
  const partsOf = Effect.fnUntraced(function*(dir: string) {
    const parts: Array<ListedPart> = []
    for (const name of yield* disk(() => readdir(dir))) {
      const match = /^(\d+)\.([0-9a-f]{32})$/.exec(name)
      if (match === null) continue
      const info = yield* probe(() => stat(join(dir, name)))
      if (info === undefined) continue // replaced meanwhile
      parts.push({ partNumber: Number(match[1]), etag: `"${match[2]}"`, size: info.size, lastModified: info.mtime })
    }
    return parts.sort((a, b) => a.partNumber - b.partNumber)
  })

  const listParts: NonNullable<ObjectWriter["listParts"]> = Effect.fnUntraced(function*(request) {
    const { dir } = yield* openUpload(root, request.uploadId, request.key)
    const after = (yield* partsOf(dir)).filter((p) => p.partNumber > request.partNumberMarker)
    const parts = after.slice(0, Math.max(0, request.maxParts))
    const isTruncated = after.length > parts.length
    return { parts, isTruncated, nextPartNumberMarker: isTruncated ? parts.at(-1)?.partNumber ?? request.partNumberMarker : undefined }
  })

  const listUploads: NonNullable<ObjectWriter["listUploads"]> = Effect.fnUntraced(function*(request) {
    const base = join(root, UPLOADS_DIR)
    const uploads: Array<ListedUpload> = []
    for (const uploadId of (yield* probe(() => readdir(base))) ?? []) {
      const dir = join(base, uploadId)
      const [upload, info] = yield* Effect.all([uploadRecord(dir), probe(() => stat(join(dir, UPLOAD_RECORD)))], { concurrency: 2 })
      if (upload === undefined || info === undefined) continue // completed or aborted meanwhile
      if (upload.key.startsWith(request.prefix)) uploads.push({ key: upload.key, uploadId, initiated: initiatedAt(info) })
    }
    // S3's order: by key, then by initiation (the upload id breaks ties, so the order is total).
    uploads.sort((a, b) =>
      compareUtf8(a.key, b.key) || a.initiated.getTime() - b.initiated.getTime() || compareUtf8(a.uploadId, b.uploadId))
    const { keyMarker, uploadIdMarker } = request
    let from = 0
    if (keyMarker !== undefined) {
      const marked = uploadIdMarker === undefined
        ? -1
        : uploads.findIndex((u) => u.key === keyMarker && u.uploadId === uploadIdMarker)
      // With an upload-id marker: after that upload; without one (or an unknown one): after every upload of the key.
      from = marked >= 0 ? marked + 1 : uploads.filter((u) => compareUtf8(u.key, keyMarker) <= 0).length
    }
    const rest = uploads.slice(from)
    const page = rest.slice(0, Math.max(0, request.maxUploads))
    const isTruncated = rest.length > page.length
    const last = page.at(-1)
    return {
      uploads: page,
      isTruncated,
      nextKeyMarker: isTruncated ? last?.key : undefined,
      nextUploadIdMarker: isTruncated ? last?.uploadId : undefined
    }
  })

  return { listParts, listUploads }
}
