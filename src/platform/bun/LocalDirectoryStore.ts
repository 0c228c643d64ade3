import { createHash, type Hash, randomUUID } from "node:crypto"
import { createReadStream } from "node:fs"
import { link, mkdir, open, readFile, readdir, rename, rm, rmdir, stat, writeFile } from "node:fs/promises"
import { dirname, join, resolve, sep } from "node:path"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import type {
  ListedPart,
  ListedUpload,
  ObjectStore,
  ObjectWrite,
  ObjectWriter,
  ReadError,
  WriteError
} from "../../core/backends/ObjectStore.js"
import { namesImpossiblePosition, pageBuilder, tokenIssuedFor } from "../../core/backends/listSorted.js"
import type { DataConnection } from "../../core/catalog/schema.js"
import type { Reply } from "../../core/http/Reply.js"
import { compareUtf8, keyProblem } from "../../core/routing/keys.js"
import {
  BackendUnavailable,
  EntityTooSmall,
  InvalidArgument,
  InvalidPart,
  InvalidRange,
  InvalidRequest,
  NoSuchKey,
  NoSuchUpload,
  PreconditionFailed
} from "../../core/s3/errors.js"
import { evaluatePreconditions } from "../../core/s3/preconditions.js"
import { parseCopySourceRange, resolveRange } from "../../core/s3/range.js"
import { type ListingFs, nodeListingFs, walkKeys } from "./directoryWalk.js"

const CONTENT_TYPES: Record<string, string> = {
  json: "application/json", geojson: "application/geo+json", csv: "text/csv", txt: "text/plain",
  md: "text/markdown", html: "text/html", xml: "application/xml", parquet: "application/vnd.apache.parquet",
  tif: "image/tiff", tiff: "image/tiff", png: "image/png", jpg: "image/jpeg", pmtiles: "application/vnd.pmtiles"
}
const contentType = (key: string) => CONTENT_TYPES[key.split(".").pop()?.toLowerCase() ?? ""] ?? "application/octet-stream"

/** `relative` resolved under `base`, or undefined when it would leave it: the fence every path goes through. */
const within = (base: string, relative: string): string | undefined => {
  const path = resolve(base, relative)
  return path === base || path.startsWith(base + sep) ? path : undefined
}

/**
 * The `local` provider of the embedded default (`bun run dev`): a directory is a bucket, files are objects.
 * Range and preconditions are evaluated here as S3 would; bodies stream from disk.
 */
export const LocalDirectoryProvider = (catalogDir: string, fs: ListingFs = nodeListingFs) => (connection: DataConnection) =>
  Effect.sync((): ObjectStore => {
    const root = resolve(catalogDir, connection.details.path ?? connection.details.bucket ?? ".")
    // Keys are validated by the core; this is a second fence, whatever is asked. A key with an empty, `.` or `..`
    // segment, or a folder marker `dir/` (kept as a record: `markerOf`), names no file (it would resolve to another
    // key's, or outside), and the store's own files are never objects.
    const pathOf = (key: string) =>
      keyProblem(key) || key.endsWith("/") || isReserved(key) ? undefined : within(root, key)

    /** The file holding `key`'s bytes, its ETag and stored headers; a folder marker's is its empty record. */
    const objectAt = async (key: string) => {
      const marker = markerOf(root, key)
      const path = marker?.record ?? pathOf(key)
      const info = path === undefined ? undefined : await stat(path).catch(() => undefined)
      if (path === undefined || info?.isFile() !== true) return undefined
      const record = marker === undefined ? await recordOf(root, key, info) : { etag: EMPTY_ETAG, headers: new Headers() }
      return { path, info, ...record }
    }

    const read = ({ key, method, headers }: Parameters<ObjectStore["read"]>[0]): Effect.Effect<Reply, ReadError> =>
      Effect.gen(function*() {
        const found = yield* Effect.promise(() => objectAt(key))
        if (found === undefined) return yield* new NoSuchKey({ key })
        const { path, info, etag, headers: stored } = found
        const common = new Headers({ etag, "last-modified": info.mtime.toUTCString(), "accept-ranges": "bytes" })
        switch (evaluatePreconditions(headers, { etag, lastModified: info.mtime })) {
          case "PreconditionFailed":
            return yield* new PreconditionFailed()
          case "NotModified":
            return { status: 304, headers: common, body: null }
          case "Proceed":
            break
        }
        const range = resolveRange(headers.get("range"), info.size)
        if (range._tag === "Unsatisfiable") return yield* new InvalidRange({ size: info.size })
        const [start, end] = range._tag === "Partial" ? [range.start, range.end] : [0, info.size - 1]
        common.set("content-type", contentType(key))
        stored.forEach((value, name) => common.set(name, value))
        common.set("content-length", String(Math.max(0, end - start + 1)))
        if (range._tag === "Partial") common.set("content-range", `bytes ${start}-${end}/${info.size}`)
        return {
          status: range._tag === "Partial" ? 206 : 200,
          headers: common,
          body: method === "HEAD" ? null : Bun.file(path).slice(start, end + 1).stream()
        }
      })

    /** Whether the folder `dirKey` (ending in `/`) has a marker: asked by the walk of an empty directory only. */
    const isMarked = (dirKey: string) => {
      const marker = markerOf(root, dirKey)
      return marker === undefined ? Promise.resolve(false) : fs.stat(marker.record).then((i) => i.isFile(), () => false)
    }

    /**
     * One page, walking the tree lazily in byte order from the prefix's directory: subtrees the page cannot use
     * (outside the prefix, before start-after, under a prefix already rolled up) are never read, and the walk
     * stops at the key past max-keys. Only listed files (and the markers of empty folders) are stat'ed; one removed
     * meanwhile is left out. A token this store did not issue is refused (one naming an impossible position is
     * answered below, as such).
     */
    const list = (request: Parameters<ObjectStore["list"]>[0]): ReturnType<ObjectStore["list"]> =>
      !namesImpossiblePosition(request) && !tokenIssuedFor(request)
        ? Effect.fail(new InvalidArgument({ message: "The continuation token provided is incorrect" }))
        : Effect.tryPromise({
          try: async () => {
            const builder = pageBuilder(request)
            const dir = request.prefix.slice(0, request.prefix.lastIndexOf("/") + 1)
            if (namesImpossiblePosition(request) || within(root, dir) === undefined || isReserved(dir) || builder.skips(dir)) {
              return builder.page()
            }
            for await (const key of walkKeys(fs, root, dir, builder.skips, isReserved, isMarked)) {
              const placed = builder.place(key)
              if (placed === "full") break
              if (placed !== "object") continue
              const marker = markerOf(root, key)
              const info = await fs.stat(marker?.record ?? join(root, key)).catch(() => undefined)
              if (info?.isFile() === true) {
                const etag = marker === undefined ? (await recordOf(root, key, info)).etag : EMPTY_ETAG
                builder.add({ key, size: info.size, lastModified: info.mtime, etag })
              }
            }
            return builder.page()
          },
          catch: (cause) => new BackendUnavailable({ reason: `local listing failed: ${String(cause)}` })
        })

    return { read, list, writer: localWriter(root, pathOf) }
  })

// -------------------------------------------------------------------------------------------------
// Writes (TARGET §6–§7): atomic puts through a temp file and a rename, a metadata sidecar, multipart parts
// as files. Everything the store keeps for itself lives under reserved top-level names, never objects.
// -------------------------------------------------------------------------------------------------

const META_DIR = ".sdp-meta"
const UPLOADS_DIR = ".sdp-uploads"
const TEMP_DIR = ".sdp-tmp"
const MARKERS_DIR = ".sdp-markers"
const RESERVED = [META_DIR, UPLOADS_DIR, TEMP_DIR, MARKERS_DIR]

/** Keys under the store's own directories: hidden from listings, unreadable and unwritable as objects. */
const isReserved = (key: string) => RESERVED.some((dir) => key === dir || key.startsWith(`${dir}/`))

/** The headers a write stores with an object, and a read echoes. */
const isStoredHeader = (name: string) =>
  name === "content-type" || name === "cache-control" || name === "content-disposition" || name === "content-encoding" ||
  name === "content-language" || name === "expires" || name.startsWith("x-amz-meta-")

const storedHeaders = (headers: Headers): Record<string, string> => {
  const kept: Record<string, string> = {}
  headers.forEach((value, name) => {
    if (isStoredHeader(name)) kept[name] = value
  })
  return kept
}

/** What the store records of an object it wrote: its ETag, the size and mtime of the file it was written as, its headers. */
const Sidecar = Schema.Struct({
  etag: Schema.String,
  size: Schema.Number,
  mtimeMs: Schema.Number,
  headers: Schema.Record({ key: Schema.String, value: Schema.String })
})
const decodeSidecar = Schema.decodeUnknownEither(Schema.parseJson(Sidecar))
const Upload = Schema.Struct({ key: Schema.String, headers: Schema.Record({ key: Schema.String, value: Schema.String }) })
const decodeUpload = Schema.decodeUnknownEither(Schema.parseJson(Upload))

/** The MD5 of no bytes: the ETag of every folder marker. */
const EMPTY_ETAG = "\"d41d8cd98f00b204e9800998ecf8427e\""

/**
 * A folder marker `dir/` (TARGET §9) names no file: it is an empty record named by the SHA-256 of its key, in
 * one flat directory (so no record can collide with another's, or with a sidecar, whatever the keys), and the
 * folder is a directory, which keeps the folder listed when it has nothing else. Undefined for any other key.
 */
const markerOf = (root: string, key: string): { readonly record: string; readonly dir: string } | undefined => {
  if (!key.endsWith("/") || keyProblem(key) || isReserved(key)) return undefined
  const dir = within(root, key)
  const record = within(join(root, MARKERS_DIR), createHash("sha256").update(key).digest("hex"))
  return dir === undefined || record === undefined ? undefined : { record, dir }
}

/** The key of a directory under `root` as a folder marker: `a/b/`. */
const folderKey = (root: string, dir: string) => `${dir.slice(root.length + 1).split(sep).join("/")}/`

/** Where `key`'s sidecar lives, fenced inside the metadata directory like every object path. */
const sidecarPath = (root: string, key: string) => within(join(root, META_DIR), `${key}.json`)

/** The file an object is: enough of its `stat` to tell whether a sidecar was written for it. */
interface FileIdentity {
  readonly size: number
  readonly mtimeMs: number
}

/** Hex `"{mtime}-{size}"`, for a file without a sidecar of its own; see `recordOf`. */
const fallbackEtag = (file: FileIdentity) => `"${Math.floor(file.mtimeMs).toString(16)}-${file.size.toString(16)}"`

/**
 * The ETag of the file `file` describes at `key`, and the headers a write stored with it. A sidecar written for
 * this very file (same size and mtime: rename and link keep the mtime) has both, the ETag being the MD5 of the
 * bytes (TARGET §9). A file placed by hand, or replaced behind the store's back, has no MD5 on record, and
 * hashing it would read the whole file on every request and listing: its ETag is `fallbackEtag`, which changes
 * whenever the file does and, holding a `-`, reads to clients that verify ETags (rclone, s3cmd) as a multipart
 * ETag they do not check, rather than a wrong MD5. Reads, listings and preconditions all use this one answer.
 */
const recordOf = async (root: string, key: string, file: FileIdentity): Promise<{ etag: string; headers: Headers }> => {
  const path = sidecarPath(root, key)
  const text = path === undefined ? undefined : await readFile(path, "utf8").catch(() => undefined)
  const sidecar = text === undefined ? undefined : decodeSidecar(text)
  return sidecar !== undefined && Either.isRight(sidecar) && sidecar.right.size === file.size && sidecar.right.mtimeMs === file.mtimeMs
    ? { etag: sidecar.right.etag, headers: new Headers(sidecar.right.headers) }
    : { etag: fallbackEtag(file), headers: new Headers() }
}

/** Records `etag` and `headers` for the file `file` describes, which `key` is about to hold. */
const writeSidecar = async (root: string, key: string, etag: string, file: FileIdentity, headers: Record<string, string>) => {
  const path = sidecarPath(root, key)
  if (path === undefined) throw new Error(`the sidecar of "${key}" would lie outside ${META_DIR}`)
  await mkdir(dirname(path), { recursive: true })
  const temp = join(root, TEMP_DIR, `meta-${randomUUID()}`)
  await mkdir(dirname(temp), { recursive: true })
  await writeFile(temp, JSON.stringify({ etag, size: file.size, mtimeMs: file.mtimeMs, headers }))
  await rename(temp, path)
}

const unquote = (etag: string) => etag.trim().replace(/^W\//, "").replace(/^"+|"+$/g, "")

/** S3's put preconditions against the current file (`undefined`: no such object). */
const putAllowed = (headers: Headers, current: string | undefined): boolean => {
  const ifMatch = headers.get("if-match")
  if (ifMatch !== null) {
    if (current === undefined) return false
    if (!ifMatch.split(",").some((tag) => tag.trim() === "*" || unquote(tag) === unquote(current))) return false
  }
  const ifNoneMatch = headers.get("if-none-match")
  if (ifNoneMatch !== null && current !== undefined) {
    if (ifNoneMatch.split(",").some((tag) => tag.trim() === "*" || unquote(tag) === unquote(current))) return false
  }
  return true
}

/** The file at `key` now (its ETag, mtime and stored headers), or undefined when there is none. */
const currentFile = async (root: string, key: string, path: string) => {
  const info = await stat(path).catch(() => undefined)
  return info?.isFile() === true ? { ...(await recordOf(root, key, info)), mtime: info.mtime } : undefined
}

class BodyFailed extends Error {}

/** Writes the files `sources` one after the other into the new file `to`, feeding `hash` the bytes if given. */
const concatenate = async (sources: ReadonlyArray<string>, to: string, signal: AbortSignal, hash?: Hash) => {
  await mkdir(dirname(to), { recursive: true })
  const out = await open(to, "wx")
  try {
    for (const source of sources) {
      for await (const chunk of createReadStream(source, { highWaterMark: 1024 * 1024 })) {
        if (signal.aborted) throw new BodyFailed("the write was interrupted")
        hash?.update(chunk as Uint8Array)
        await out.write(chunk as Uint8Array)
      }
    }
  } finally {
    await out.close()
  }
}

/** The next chunk of an upload body: an interrupted or failing body is a BodyFailed. */
const nextChunk = (reader: ReadableStreamDefaultReader<Uint8Array>, signal: AbortSignal) => {
  if (signal.aborted) return Promise.reject(new BodyFailed("the upload was interrupted"))
  return reader.read().catch((cause: unknown) => {
    throw new BodyFailed(`the body failed: ${String(cause)}`)
  })
}

/** Streams `body` into `path`, hashing it; fails (the caller removes the file) when the stream errors or falls short. */
const streamToFile = async (
  body: ReadableStream<Uint8Array> | null,
  path: string,
  expectedLength: number | undefined,
  signal: AbortSignal
): Promise<{ size: number; md5: string }> => {
  await mkdir(dirname(path), { recursive: true })
  const handle = await open(path, "wx")
  const hash = createHash("md5")
  let size = 0
  try {
    if (body !== null) {
      const reader = body.getReader()
      try {
        for (;;) {
          const chunk = await nextChunk(reader, signal)
          if (chunk.done) break
          hash.update(chunk.value)
          size += chunk.value.length
          await handle.write(chunk.value)
        }
      } finally {
        reader.releaseLock()
      }
    }
  } finally {
    await handle.close()
  }
  if (expectedLength !== undefined && size !== expectedLength) {
    throw new BodyFailed(`the body had ${size} bytes, ${expectedLength} declared`)
  }
  return { size, md5: hash.digest("hex") }
}

/** Whether `body` holds any byte (read until the first one, then cancelled). */
const hasBytes = async (body: ReadableStream<Uint8Array> | null, signal: AbortSignal): Promise<boolean> => {
  if (body === null) return false
  const reader = body.getReader()
  try {
    for (;;) {
      const chunk = await nextChunk(reader, signal)
      if (chunk.done) return false
      if (chunk.value.length > 0) {
        await reader.cancel().catch(() => {})
        return true
      }
    }
  } finally {
    reader.releaseLock()
  }
}

const MIN_PART = 5 * 1024 * 1024

type WriteFailure = WriteError | NoSuchKey | NoSuchUpload | InvalidPart

/** A promise that throws these keeps them; anything else is the disk failing. */
const asWriteFailure = (cause: unknown): WriteFailure =>
  cause instanceof Outcome ? cause.error
    : cause instanceof BodyFailed ? new InvalidRequest({ message: cause.message })
    : new BackendUnavailable({ reason: `local write failed: ${String(cause)}` })

class Outcome extends Error {
  constructor(readonly error: WriteFailure) {
    super(error._tag)
  }
}

const localWriter = (root: string, pathOf: (key: string) => string | undefined): ObjectWriter => {
  const tempPath = () => join(root, TEMP_DIR, randomUUID())
  const target = (key: string) => {
    const path = pathOf(key)
    if (path === undefined) throw new Outcome(new InvalidRequest({ message: "this key cannot be written here" }))
    return path
  }
  /** Runs a write; the temp files it names are removed whatever happens (a no-op once renamed). */
  const attempt = <A>(body: (signal: AbortSignal, temps: Array<string>) => Promise<A>) => {
    const temps: Array<string> = []
    return Effect.tryPromise({ try: (signal) => body(signal, temps), catch: asWriteFailure }).pipe(
      Effect.ensuring(Effect.promise(() => Promise.all(temps.map((t) => rm(t, { force: true })))))
    )
  }

  /**
   * The last step of every object write: check the preconditions against the file there now, store the
   * sidecar (the new file's `etag`, its size and mtime, which rename and link keep), then rename over the key
   * (atomic: a reader sees the old or the new file). Check and rename are not one step: two writers in this
   * process can both pass a precondition.
   */
  const commit = async (temp: string, key: string, headers: Headers, metadata: Record<string, string>, etag: string) => {
    const path = target(key)
    if (!putAllowed(headers, (await currentFile(root, key, path))?.etag)) throw new Outcome(new PreconditionFailed())
    const info = await stat(temp)
    await mkdir(dirname(path), { recursive: true })
    if (headers.get("if-none-match")?.trim() === "*") {
      // Create-only: link() fails atomically when the key exists, so of two racing writers exactly one wins.
      const created = await link(temp, path).then(() => true, (e: { code?: string }) => {
        if (e.code === "EEXIST") return false
        throw e
      })
      await rm(temp, { force: true })
      if (!created) throw new Outcome(new PreconditionFailed())
      await writeSidecar(root, key, etag, info, metadata)
    } else {
      await writeSidecar(root, key, etag, info, metadata)
      await rename(temp, path)
    }
    return { etag, lastModified: info.mtime }
  }

  /**
   * A folder marker holds no bytes here (`markerOf`): a body with any is refused rather than lost. Create-only
   * (`if-none-match: *`) creates the record exclusively, as `commit` links.
   */
  const putMarker = (request: ObjectWrite, marker: NonNullable<ReturnType<typeof markerOf>>) =>
    attempt(async (signal) => {
      const exists = await stat(marker.record).then((i) => i.isFile(), () => false)
      if (!putAllowed(request.headers, exists ? EMPTY_ETAG : undefined)) throw new Outcome(new PreconditionFailed())
      if (await hasBytes(request.body, signal)) {
        throw new Outcome(new InvalidRequest({ message: "a folder marker (a key ending in /) cannot hold data in the local store" }))
      }
      await mkdir(marker.dir, { recursive: true })
      await mkdir(dirname(marker.record), { recursive: true })
      const createOnly = request.headers.get("if-none-match")?.trim() === "*"
      await writeFile(marker.record, "", { flag: createOnly ? "wx" : "w" }).catch((e: { code?: string }) => {
        throw e.code === "EEXIST" ? new Outcome(new PreconditionFailed()) : e
      })
      return { etag: EMPTY_ETAG, headers: new Headers() }
    })

  const putFile = (request: ObjectWrite) =>
    attempt(async (signal, temps) => {
      const path = target(request.key)
      if (!putAllowed(request.headers, (await currentFile(root, request.key, path))?.etag)) throw new Outcome(new PreconditionFailed())
      const temp = tempPath()
      temps.push(temp)
      const { md5 } = await streamToFile(request.body, temp, request.contentLength, signal)
      const { etag } = await commit(temp, request.key, request.headers, storedHeaders(request.headers), `"${md5}"`)
      return { etag, headers: new Headers() }
    })

  const put: ObjectWriter["put"] = (request) => {
    const marker = markerOf(root, request.key)
    return (marker === undefined ? putFile(request) : putMarker(request, marker)).pipe(
      Effect.catchTag("NoSuchKey", "NoSuchUpload", "InvalidPart", (e) => Effect.fail(new BackendUnavailable({ reason: e._tag })))
    )
  }

  /** Removes the directories left empty from `from` up to the root, stopping at a folder that keeps a marker. */
  const prune = async (from: string) => {
    for (let dir = from; dir.startsWith(root + sep); dir = dirname(dir)) {
      const marker = markerOf(root, folderKey(root, dir))
      if (marker !== undefined && await stat(marker.record).then((i) => i.isFile(), () => false)) break
      const removed = await rmdir(dir).then(() => true, () => false)
      if (!removed) break
    }
  }

  /** Removes the file and its sidecar, or a folder marker's record, then the directories left empty. */
  const removeObject = async (key: string) => {
    const marker = markerOf(root, key)
    if (marker !== undefined) {
      await rm(marker.record, { force: true })
      return prune(marker.dir)
    }
    const path = target(key)
    await rm(path, { force: true })
    const sidecar = sidecarPath(root, key)
    if (sidecar !== undefined) await rm(sidecar, { force: true })
    await prune(dirname(path))
  }

  const remove: ObjectWriter["delete"] = (key) =>
    attempt(() => removeObject(key)).pipe(
      Effect.catchTag("NoSuchKey", "NoSuchUpload", "InvalidPart", (e) => Effect.fail(new BackendUnavailable({ reason: e._tag })))
    )

  const deleteMany: ObjectWriter["deleteMany"] = (keys) =>
    Effect.forEach(keys, (key) =>
      Effect.match(remove(key), {
        onSuccess: () => ({ key, error: undefined }),
        onFailure: (e) => ({ key, error: { code: e._tag === "InvalidRequest" ? "InvalidArgument" : "InternalError", message: e._tag } })
      }))

  /** A copy's source file, once it exists and the `x-amz-copy-source-if-*` preconditions hold. */
  const copySource = async (sourceKey: string, headers: Headers) => {
    const path = target(sourceKey)
    const current = await currentFile(root, sourceKey, path)
    if (current === undefined) throw new Outcome(new NoSuchKey({ key: sourceKey }))
    const conditions = new Headers()
    for (const name of ["if-match", "if-none-match", "if-modified-since", "if-unmodified-since"]) {
      const value = headers.get(`x-amz-copy-source-${name}`)
      if (value !== null) conditions.set(name, value)
    }
    if (evaluatePreconditions(conditions, { etag: current.etag, lastModified: current.mtime }) !== "Proceed") {
      throw new Outcome(new PreconditionFailed())
    }
    return { path, current }
  }

  const copy: ObjectWriter["copy"] = (request) =>
    attempt(async (signal, temps) => {
      target(request.key)
      const { path: source, current } = await copySource(request.sourceKey, request.headers)
      const replace = request.headers.get("x-amz-metadata-directive")?.toUpperCase() === "REPLACE"
      const metadata = replace ? storedHeaders(request.headers) : Object.fromEntries(current.headers)
      const temp = tempPath()
      temps.push(temp)
      // A copy is a single-part object: its ETag is the MD5 of the bytes, whatever the source's was.
      const md5 = createHash("md5")
      await concatenate([source], temp, signal, md5)
      return commit(temp, request.key, new Headers(), metadata, `"${md5.digest("hex")}"`)
    }).pipe(Effect.catchTag("NoSuchUpload", "InvalidPart", (e) => Effect.fail(new BackendUnavailable({ reason: e._tag }))))

  /** An upload's directory, when the id is one this store issued and it is still open. */
  const uploadDir = async (uploadId: string, key: string) => {
    const dir = /^[A-Za-z0-9_-]{16,64}$/.test(uploadId) ? within(join(root, UPLOADS_DIR), uploadId) : undefined
    const text = dir === undefined ? undefined : await readFile(join(dir, "upload.json"), "utf8").catch(() => undefined)
    const upload = text === undefined ? undefined : decodeUpload(text)
    if (dir === undefined || upload === undefined || Either.isLeft(upload) || upload.right.key !== key) {
      throw new Outcome(new NoSuchUpload({ uploadId }))
    }
    return { dir, upload: upload.right }
  }

  const createMultipart: ObjectWriter["createMultipart"] = (request) =>
    attempt(async () => {
      target(request.key)
      const uploadId = randomUUID().replace(/-/g, "")
      const dir = join(root, UPLOADS_DIR, uploadId)
      await mkdir(dir, { recursive: true })
      await writeFile(join(dir, "upload.json"), JSON.stringify({ key: request.key, headers: storedHeaders(request.headers) }))
      return uploadId
    }).pipe(Effect.catchTag("NoSuchKey", "NoSuchUpload", "InvalidPart", (e) => Effect.fail(new BackendUnavailable({ reason: e._tag }))))

  const uploadPart: ObjectWriter["uploadPart"] = (request) =>
    attempt(async (signal, temps) => {
      if (!Number.isInteger(request.partNumber) || request.partNumber < 1 || request.partNumber > 10_000) {
        throw new Outcome(new InvalidRequest({ message: "part numbers are 1 to 10000" }))
      }
      const { dir } = await uploadDir(request.uploadId, request.key)
      const temp = tempPath()
      temps.push(temp)
      const { md5 } = await streamToFile(request.body, temp, request.contentLength, signal)
      // The part's ETag names its file: a re-upload replaces it, and complete finds it by number.
      const partPrefix = `${request.partNumber}.`
      for (const old of (await readdir(dir)).filter((name) => name.startsWith(partPrefix))) await rm(join(dir, old), { force: true })
      await rename(temp, join(dir, `${partPrefix}${md5}`))
      return { etag: `"${md5}"`, headers: new Headers() }
    }).pipe(Effect.catchTag("NoSuchKey", "InvalidPart", (e) => Effect.fail(new BackendUnavailable({ reason: e._tag }))))

  const completeMultipart: ObjectWriter["completeMultipart"] = (request) =>
    attempt(async (signal, temps) => {
      const { dir, upload } = await uploadDir(request.uploadId, request.key)
      const files = new Map((await readdir(dir)).filter((n) => n !== "upload.json").map((n) => [n.slice(0, n.indexOf(".")), n] as const))
      if (request.parts.length === 0) throw new Outcome(new InvalidRequest({ message: "a complete names at least one part" }))
      const chosen: Array<string> = []
      // S3's multipart ETag: the MD5 of the parts' binary MD5s (their file names), then `-{number of parts}`.
      const partsMd5 = createHash("md5")
      for (const [i, part] of request.parts.entries()) {
        if (i > 0 && part.partNumber <= request.parts[i - 1]!.partNumber) {
          throw new Outcome(new InvalidPart({ message: "the parts are not in ascending order" }))
        }
        const file = files.get(String(part.partNumber))
        if (file === undefined || file !== `${part.partNumber}.${unquote(part.etag)}`) {
          throw new Outcome(new InvalidPart({ message: `part ${part.partNumber} was not uploaded with this ETag` }))
        }
        chosen.push(join(dir, file))
        partsMd5.update(Buffer.from(unquote(part.etag), "hex"))
      }
      for (const file of chosen.slice(0, -1)) {
        if ((await stat(file)).size < MIN_PART) throw new Outcome(new EntityTooSmall())
      }
      const temp = tempPath()
      temps.push(temp)
      await concatenate(chosen, temp, signal)
      const etag = `"${partsMd5.digest("hex")}-${chosen.length}"`
      await commit(temp, request.key, request.headers, upload.headers, etag)
      await rm(dir, { recursive: true, force: true })
      return { etag, headers: new Headers() }
    }).pipe(Effect.catchTag("NoSuchKey", (e) => Effect.fail(new BackendUnavailable({ reason: e._tag }))))

  const abortMultipart: ObjectWriter["abortMultipart"] = (request) =>
    attempt(async () => {
      const { dir } = await uploadDir(request.uploadId, request.key)
      await rm(dir, { recursive: true, force: true })
    }).pipe(Effect.catchTag("NoSuchKey", "InvalidPart", (e) => Effect.fail(new BackendUnavailable({ reason: e._tag }))))

  /** The parts of an upload directory: `{n}.{md5}` files, by number. */
  const partsOf = async (dir: string): Promise<Array<ListedPart>> => {
    const parts: Array<ListedPart> = []
    for (const name of await readdir(dir)) {
      const match = /^(\d+)\.([0-9a-f]{32})$/.exec(name)
      if (match === null) continue
      const info = await stat(join(dir, name)).catch(() => undefined)
      if (info === undefined) continue // replaced meanwhile
      parts.push({ partNumber: Number(match[1]), etag: `"${match[2]}"`, size: info.size, lastModified: info.mtime })
    }
    return parts.sort((a, b) => a.partNumber - b.partNumber)
  }

  const listParts: NonNullable<ObjectWriter["listParts"]> = (request) =>
    attempt(async () => {
      const { dir } = await uploadDir(request.uploadId, request.key)
      const after = (await partsOf(dir)).filter((p) => p.partNumber > request.partNumberMarker)
      const parts = after.slice(0, Math.max(0, request.maxParts))
      const isTruncated = after.length > parts.length
      return { parts, isTruncated, nextPartNumberMarker: isTruncated ? parts.at(-1)?.partNumber ?? request.partNumberMarker : undefined }
    }).pipe(Effect.catchTag("NoSuchKey", "InvalidPart", (e) => Effect.fail(new BackendUnavailable({ reason: e._tag }))))

  /** When an upload began: its record's birth time, or its mtime where the filesystem keeps no birth time. */
  const initiatedAt = (info: { readonly birthtime: Date; readonly mtime: Date }) =>
    info.birthtime.getTime() > 0 ? info.birthtime : info.mtime

  const listUploads: NonNullable<ObjectWriter["listUploads"]> = (request) =>
    attempt(async () => {
      const base = join(root, UPLOADS_DIR)
      const uploads: Array<ListedUpload> = []
      for (const uploadId of await readdir(base).catch(() => [])) {
        const path = join(base, uploadId, "upload.json")
        const [text, info] = await Promise.all([readFile(path, "utf8").catch(() => undefined), stat(path).catch(() => undefined)])
        const upload = text === undefined ? undefined : decodeUpload(text)
        if (upload === undefined || info === undefined || Either.isLeft(upload)) continue // completed or aborted meanwhile
        if (upload.right.key.startsWith(request.prefix)) uploads.push({ key: upload.right.key, uploadId, initiated: initiatedAt(info) })
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
    }).pipe(Effect.catchTag("NoSuchKey", "NoSuchUpload", "InvalidPart", (e) => Effect.fail(new BackendUnavailable({ reason: e._tag }))))

  const uploadPartCopy: NonNullable<ObjectWriter["uploadPartCopy"]> = (request) =>
    attempt(async (signal, temps) => {
      if (!Number.isInteger(request.partNumber) || request.partNumber < 1 || request.partNumber > 10_000) {
        throw new Outcome(new InvalidRequest({ message: "part numbers are 1 to 10000" }))
      }
      const { dir } = await uploadDir(request.uploadId, request.key)
      const { path: source } = await copySource(request.sourceKey, request.headers)
      const size = (await stat(source)).size
      let start = 0
      let end = size - 1
      if (request.range !== undefined) {
        const range = parseCopySourceRange(request.range)
        if (range === undefined || range.end >= size) {
          throw new Outcome(new InvalidRequest({ message: `InvalidRange: the copy range is not within the source object of ${size} bytes` }))
        }
        ;({ start, end } = range)
      }
      const temp = tempPath()
      temps.push(temp)
      const body = end < start
        ? null
        : Bun.file(source).slice(start, end + 1).stream()
      const { md5 } = await streamToFile(body, temp, end - start + 1, signal)
      const partPrefix = `${request.partNumber}.`
      for (const old of (await readdir(dir)).filter((name) => name.startsWith(partPrefix))) await rm(join(dir, old), { force: true })
      const part = join(dir, `${partPrefix}${md5}`)
      await rename(temp, part)
      return { etag: `"${md5}"`, lastModified: (await stat(part)).mtime }
    }).pipe(Effect.catchTag("InvalidPart", (e) => Effect.fail(new BackendUnavailable({ reason: e._tag }))))

  return {
    put,
    delete: remove,
    deleteMany,
    copy,
    createMultipart,
    uploadPart,
    completeMultipart,
    abortMultipart,
    listParts,
    listUploads,
    uploadPartCopy
  }
}
