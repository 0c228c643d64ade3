import { createHash } from "node:crypto"
import { mkdir, rm, rmdir, writeFile } from "node:fs/promises"
import { dirname, sep } from "node:path"
import * as Effect from "effect/Effect"
import type { ObjectWrite, ObjectWriter } from "../../../core/backends/ObjectStore.js"
import { InvalidRequest, PreconditionFailed } from "../../../core/s3/errors.js"
import { concatenate, hasBytes, streamToFile } from "./bodies.js"
import { commit } from "./commit.js"
import { copySource, requirePutAllowed } from "./conditions.js"
import { disk, diskUnless, fileAt, probe, withTempFiles } from "./disk.js"
import { folderKey, type Marker, markerOf, sidecarPath, tempPath, writablePath } from "./paths.js"
import { currentFile, EMPTY_ETAG, storedHeaders } from "./records.js"

/**
 * PutObject, DeleteObject, DeleteObjects and CopyObject (docs/backends.md#writes): atomic puts through a temp
 * file and a rename, with a metadata sidecar (`records.ts`); folder markers as records of their own.
 */
export const objectWrites = (root: string): Pick<ObjectWriter, "put" | "delete" | "deleteMany" | "copy"> => {
  /**
   * A folder marker holds no bytes here (`markerOf`): a body with any is refused rather than lost. Create-only
   * (`if-none-match: *`) creates the record exclusively, as `commit` links.
   */
  const putMarker = Effect.fnUntraced(function*(request: ObjectWrite, marker: Marker) {
    const exists = (yield* fileAt(marker.record)) !== undefined
    yield* requirePutAllowed(request.headers, exists ? EMPTY_ETAG : undefined)
    if (yield* hasBytes(request.body)) {
      return yield* new InvalidRequest({ message: "a folder marker (a key ending in /) cannot hold data in the local store" })
    }
    yield* disk(() => mkdir(marker.dir, { recursive: true }))
    yield* disk(() => mkdir(dirname(marker.record), { recursive: true }))
    const createOnly = request.headers.get("if-none-match")?.trim() === "*"
    const created = yield* diskUnless(() => writeFile(marker.record, "", { flag: createOnly ? "wx" : "w" }).then(() => true), "EEXIST", false)
    if (!created) return yield* new PreconditionFailed()
    return { etag: EMPTY_ETAG, headers: new Headers() }
  })

  const putFile = (request: ObjectWrite) =>
    withTempFiles(Effect.fnUntraced(
      function*(named) {
        const path = yield* writablePath(root, request.key)
        yield* requirePutAllowed(request.headers, (yield* currentFile(root, request.key, path))?.etag)
        const temp = named(yield* tempPath(root))
        const { md5 } = yield* streamToFile(request.body, temp, request.contentLength)
        const { etag } = yield* commit(root, temp, request.key, request.headers, storedHeaders(request.headers), `"${md5}"`)
        return { etag, headers: new Headers() }
      })
    )

  const put: ObjectWriter["put"] = (request) => {
    const marker = markerOf(root, request.key)
    return marker === undefined ? putFile(request) : putMarker(request, marker)
  }

  /** Removes the directories left empty from `from` up to the root, stopping at a folder that keeps a marker. */
  const prune = Effect.fnUntraced(function*(from: string) {
    for (let dir = from; dir.startsWith(root + sep); dir = dirname(dir)) {
      const marker = markerOf(root, folderKey(root, dir))
      if (marker !== undefined && (yield* fileAt(marker.record)) !== undefined) return
      if ((yield* probe(() => rmdir(dir).then(() => true))) !== true) return
    }
  })

  /** Removes the file and its sidecar, or a folder marker's record, then the directories left empty. */
  const remove: ObjectWriter["delete"] = Effect.fnUntraced(function*(key) {
    const marker = markerOf(root, key)
    if (marker !== undefined) {
      yield* disk(() => rm(marker.record, { force: true }))
      return yield* prune(marker.dir)
    }
    const path = yield* writablePath(root, key)
    yield* disk(() => rm(path, { force: true }))
    const sidecar = sidecarPath(root, key)
    if (sidecar !== undefined) yield* disk(() => rm(sidecar, { force: true }))
    yield* prune(dirname(path))
  })

  const deleteMany: ObjectWriter["deleteMany"] = (keys) =>
    Effect.forEach(keys, (key) =>
      Effect.match(remove(key), {
        onSuccess: () => ({ key, error: undefined }),
        onFailure: (e) => ({ key, error: { code: e._tag === "InvalidRequest" ? "InvalidArgument" : "InternalError", message: e._tag } })
      }))

  const copy: ObjectWriter["copy"] = (request) =>
    withTempFiles(Effect.fnUntraced(
      function*(named) {
        yield* writablePath(root, request.key)
        const source = yield* writablePath(root, request.sourceKey)
        const current = yield* copySource(root, request.sourceKey, source, request.headers)
        const replace = request.headers.get("x-amz-metadata-directive")?.toUpperCase() === "REPLACE"
        const metadata = replace ? storedHeaders(request.headers) : Object.fromEntries(current.headers)
        const temp = named(yield* tempPath(root))
        // A copy is a single-part object: its ETag is the MD5 of the bytes, whatever the source's was.
        const md5 = createHash("md5")
        yield* concatenate([source], temp, md5)
        return yield* commit(root, temp, request.key, new Headers(), metadata, `"${md5.digest("hex")}"`)
      })
    )

  return { put, delete: remove, deleteMany, copy }
}
