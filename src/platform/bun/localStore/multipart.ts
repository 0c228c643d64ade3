import { createHash, randomUUID } from "node:crypto"
import { mkdir, readdir, rename, rm, stat, writeFile } from "node:fs/promises"
import { join } from "node:path"
import * as Effect from "effect/Effect"
import type { ObjectWriter } from "../../../core/backends/ObjectStore.js"
import { EntityTooSmall, InvalidPart, InvalidRequest } from "../../../core/s3/errors.js"
import { parseCopySourceRange } from "../../../core/s3/range.js"
import { concatenate, streamToFile } from "./bodies.js"
import { commit } from "./commit.js"
import { copySource, unquote } from "./conditions.js"
import { disk, withTempFiles } from "./disk.js"
import { tempPath, UPLOADS_DIR, writablePath } from "./paths.js"
import { storedHeaders } from "./records.js"
import { checkPartNumber, openUpload, UPLOAD_RECORD } from "./uploads.js"

const MIN_PART = 5 * 1024 * 1024

/** CreateMultipartUpload, UploadPart, UploadPartCopy, CompleteMultipartUpload and AbortMultipartUpload (`uploads.ts`). */
export const multipartWrites = (
  root: string
): Pick<ObjectWriter, "createMultipart" | "uploadPart" | "completeMultipart" | "abortMultipart"> & Required<Pick<ObjectWriter, "uploadPartCopy">> => {
  /**
   * Puts the written `temp` in place as part `partNumber`: the part's ETag names its file, so a re-upload
   * replaces it and complete finds it by number. Not interrupted once begun, so a part is never half replaced.
   */
  const storePart = (dir: string, partNumber: number, temp: string, md5: string) =>
    Effect.uninterruptible(Effect.gen(function*() {
      const partPrefix = `${partNumber}.`
      for (const old of (yield* disk(() => readdir(dir))).filter((name) => name.startsWith(partPrefix))) {
        yield* disk(() => rm(join(dir, old), { force: true }))
      }
      const part = join(dir, `${partPrefix}${md5}`)
      yield* disk(() => rename(temp, part))
      return part
    }))

  const createMultipart: ObjectWriter["createMultipart"] = Effect.fnUntraced(function*(request) {
    yield* writablePath(root, request.key)
    const uploadId = randomUUID().replace(/-/g, "")
    const dir = join(root, UPLOADS_DIR, uploadId)
    yield* disk(() => mkdir(dir, { recursive: true }))
    yield* disk(() => writeFile(join(dir, UPLOAD_RECORD), JSON.stringify({ key: request.key, headers: storedHeaders(request.headers) })))
    return uploadId
  })

  const uploadPart: ObjectWriter["uploadPart"] = (request) =>
    withTempFiles(Effect.fnUntraced(
      function*(named) {
        yield* checkPartNumber(request.partNumber)
        const { dir } = yield* openUpload(root, request.uploadId, request.key)
        const temp = named(yield* tempPath(root))
        const { md5 } = yield* streamToFile(request.body, temp, request.contentLength)
        yield* storePart(dir, request.partNumber, temp, md5)
        return { etag: `"${md5}"`, headers: new Headers() }
      })
    )

  /** A part from the object `sourceKey`, whole or the byte range `range` of it (`bytes=first-last`). */
  const uploadPartCopy: NonNullable<ObjectWriter["uploadPartCopy"]> = (request) =>
    withTempFiles(Effect.fnUntraced(
      function*(named) {
        yield* checkPartNumber(request.partNumber)
        const { dir } = yield* openUpload(root, request.uploadId, request.key)
        const source = yield* writablePath(root, request.sourceKey)
        yield* copySource(root, request.sourceKey, source, request.headers)
        const size = (yield* disk(() => stat(source))).size
        let start = 0
        let end = size - 1
        if (request.range !== undefined) {
          const range = parseCopySourceRange(request.range)
          if (range === undefined || range.end >= size) {
            return yield* new InvalidRequest({ message: `InvalidRange: the copy range is not within the source object of ${size} bytes` })
          }
          ;({ start, end } = range)
        }
        const temp = named(yield* tempPath(root))
        const body = end < start ? null : Bun.file(source).slice(start, end + 1).stream()
        const { md5 } = yield* streamToFile(body, temp, end - start + 1)
        const part = yield* storePart(dir, request.partNumber, temp, md5)
        return { etag: `"${md5}"`, lastModified: (yield* disk(() => stat(part))).mtime }
      })
    )

  const completeMultipart: ObjectWriter["completeMultipart"] = (request) =>
    withTempFiles(Effect.fnUntraced(
      function*(named) {
        const { dir, upload } = yield* openUpload(root, request.uploadId, request.key)
        const names = yield* disk(() => readdir(dir))
        const files = new Map(names.filter((n) => n !== UPLOAD_RECORD).map((n) => [n.slice(0, n.indexOf(".")), n] as const))
        if (request.parts.length === 0) return yield* new InvalidRequest({ message: "a complete names at least one part" })
        const chosen: Array<string> = []
        // S3's multipart ETag: the MD5 of the parts' binary MD5s (their file names), then `-{number of parts}`.
        const partsMd5 = createHash("md5")
        for (const [i, part] of request.parts.entries()) {
          if (i > 0 && part.partNumber <= request.parts[i - 1]!.partNumber) {
            return yield* new InvalidPart({ message: "the parts are not in ascending order" })
          }
          const file = files.get(String(part.partNumber))
          if (file === undefined || file !== `${part.partNumber}.${unquote(part.etag)}`) {
            return yield* new InvalidPart({ message: `part ${part.partNumber} was not uploaded with this ETag` })
          }
          chosen.push(join(dir, file))
          partsMd5.update(Buffer.from(unquote(part.etag), "hex"))
        }
        for (const file of chosen.slice(0, -1)) {
          if ((yield* disk(() => stat(file))).size < MIN_PART) return yield* new EntityTooSmall()
        }
        const temp = named(yield* tempPath(root))
        yield* concatenate(chosen, temp)
        const etag = `"${partsMd5.digest("hex")}-${chosen.length}"`
        // The upload ends with the object: once committed, its directory goes too.
        yield* Effect.uninterruptible(Effect.zipLeft(
          commit(root, temp, request.key, request.headers, upload.headers, etag),
          disk(() => rm(dir, { recursive: true, force: true }))
        ))
        return { etag, headers: new Headers() }
      })
    )

  const abortMultipart: ObjectWriter["abortMultipart"] = Effect.fnUntraced(function*(request) {
    const { dir } = yield* openUpload(root, request.uploadId, request.key)
    yield* disk(() => rm(dir, { recursive: true, force: true }))
  })

  return { createMultipart, uploadPart, uploadPartCopy, completeMultipart, abortMultipart }
}
