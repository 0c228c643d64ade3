import { mkdir, readFile, rename, writeFile } from "node:fs/promises"
import { dirname } from "node:path"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { BackendUnavailable } from "../../../core/s3/errors.js"
import { disk, fileAt, probe } from "./disk.js"
import { META_DIR, sidecarPath, tempPath } from "./paths.js"

/**
 * What the store records of an object it wrote, beside the file (a sidecar): its ETag, the size and mtime of
 * the file it was written as, and the headers a read echoes.
 */

/** The headers a write stores with an object, and a read echoes. */
const isStoredHeader = (name: string) =>
  name === "content-type" || name === "cache-control" || name === "content-disposition" || name === "content-encoding" ||
  name === "content-language" || name === "expires" || name.startsWith("x-amz-meta-")

export const storedHeaders = (headers: Headers): Record<string, string> => {
  const kept: Record<string, string> = {}
  headers.forEach((value, name) => {
    if (isStoredHeader(name)) kept[name] = value
  })
  return kept
}

const Sidecar = Schema.Struct({
  etag: Schema.String,
  size: Schema.Number,
  mtimeMs: Schema.Number,
  headers: Schema.Record({ key: Schema.String, value: Schema.String })
})
const decodeSidecar = Schema.decodeUnknownEither(Schema.parseJson(Sidecar))

/** The MD5 of no bytes: the ETag of every folder marker. */
export const EMPTY_ETAG = "\"d41d8cd98f00b204e9800998ecf8427e\""

/** The file an object is: enough of its `stat` to tell whether a sidecar was written for it. */
export interface FileIdentity {
  readonly size: number
  readonly mtimeMs: number
}

/** Hex `"{mtime}-{size}"`, for a file without a sidecar of its own; see `recordOf`. */
const fallbackEtag = (file: FileIdentity) => `"${Math.floor(file.mtimeMs).toString(16)}-${file.size.toString(16)}"`

export interface ObjectRecord {
  readonly etag: string
  readonly headers: Headers
}

/**
 * The ETag of the file `file` describes at `key`, and the headers a write stored with it. A sidecar written for
 * this very file (same size and mtime: rename and link keep the mtime) has both, the ETag being the MD5 of the
 * bytes (docs/s3-compatibility.md#uploads). A file placed by hand, or replaced behind the store's back, has no
 * MD5 on record, and hashing it would read the whole file on every request and listing: its ETag is
 * `fallbackEtag`, which changes whenever the file does and, holding a `-`, reads to clients that verify ETags
 * (rclone, s3cmd) as a multipart ETag they do not check, rather than a wrong MD5. Reads, listings and
 * preconditions all use this one answer.
 */
export const recordOf: (
  root: string,
  key: string,
  file: FileIdentity
) => Effect.Effect<ObjectRecord> = Effect.fnUntraced(
  function*(root: string, key: string, file: FileIdentity) {
    const path = sidecarPath(root, key)
    const text = path === undefined ? undefined : yield* probe(() => readFile(path, "utf8"))
    const sidecar = text === undefined ? undefined : decodeSidecar(text)
    return sidecar !== undefined && Either.isRight(sidecar) && sidecar.right.size === file.size && sidecar.right.mtimeMs === file.mtimeMs
      ? { etag: sidecar.right.etag, headers: new Headers(sidecar.right.headers) }
      : { etag: fallbackEtag(file), headers: new Headers() }
  }
)

/** Records `etag` and `headers` for the file `file` describes, which `key` is about to hold. */
export const writeSidecar: (
  root: string,
  key: string,
  etag: string,
  file: FileIdentity,
  headers: Record<string, string>
) => Effect.Effect<void, BackendUnavailable> = Effect.fnUntraced(
  function*(root: string, key: string, etag: string, file: FileIdentity, headers: Record<string, string>) {
    const path = sidecarPath(root, key)
    if (path === undefined) return yield* new BackendUnavailable({ reason: `local write failed: the sidecar of "${key}" would lie outside ${META_DIR}` })
    yield* disk(() => mkdir(dirname(path), { recursive: true }))
    const temp = yield* tempPath(root, "meta-")
    yield* disk(() => mkdir(dirname(temp), { recursive: true }))
    yield* disk(() => writeFile(temp, JSON.stringify({ etag, size: file.size, mtimeMs: file.mtimeMs, headers })))
    yield* disk(() => rename(temp, path))
  }
)

/** The object file at `path` now (its ETag, mtime and stored headers), or undefined when there is none. */
export const currentFile: (
  root: string,
  key: string,
  path: string
) => Effect.Effect<(ObjectRecord & { readonly mtime: Date }) | undefined> = Effect.fnUntraced(
  function*(root: string, key: string, path: string) {
    const info = yield* fileAt(path)
    return info === undefined ? undefined : { ...(yield* recordOf(root, key, info)), mtime: info.mtime }
  }
)
