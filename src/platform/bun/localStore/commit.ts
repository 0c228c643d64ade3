import { link, mkdir, rename, rm, stat } from "node:fs/promises"
import { dirname } from "node:path"
import * as Effect from "effect/Effect"
import { type BackendUnavailable, type InvalidRequest, PreconditionFailed } from "../../../core/s3/errors.js"
import { requirePutAllowed } from "./conditions.js"
import { disk, diskUnless } from "./disk.js"
import { writablePath } from "./paths.js"
import { currentFile, writeSidecar } from "./records.js"

/**
 * The last step of every object write: check the preconditions against the file there now, store the sidecar
 * (the new file's `etag`, its size and mtime, which rename and link keep), then rename `temp` over the key
 * (atomic: a reader sees the old or the new file). Check and rename are not one step: two writers in this
 * process can both pass a precondition. Once begun it is not interrupted, so sidecar and file agree.
 */
export const commit = (
  root: string,
  temp: string,
  key: string,
  headers: Headers,
  metadata: Record<string, string>,
  etag: string
): Effect.Effect<{ readonly etag: string; readonly lastModified: Date }, InvalidRequest | PreconditionFailed | BackendUnavailable> =>
  Effect.uninterruptible(Effect.gen(function*() {
    const path = yield* writablePath(root, key)
    yield* requirePutAllowed(headers, (yield* currentFile(root, key, path))?.etag)
    const info = yield* disk(() => stat(temp))
    yield* disk(() => mkdir(dirname(path), { recursive: true }))
    if (headers.get("if-none-match")?.trim() === "*") {
      // Create-only: link() fails atomically when the key exists, so of two racing writers exactly one wins.
      const created = yield* diskUnless(() => link(temp, path).then(() => true), "EEXIST", false)
      yield* disk(() => rm(temp, { force: true }))
      if (!created) return yield* new PreconditionFailed()
      yield* writeSidecar(root, key, etag, info, metadata)
    } else {
      yield* writeSidecar(root, key, etag, info, metadata)
      yield* disk(() => rename(temp, path))
    }
    return { etag, lastModified: info.mtime }
  }))
