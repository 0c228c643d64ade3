import { randomUUID, createHash } from "node:crypto"
import { createReadStream } from "node:fs"
import { copyFile, link, mkdir, open, readFile, readdir, rename, rm, rmdir, stat, writeFile } from "node:fs/promises"
import { dirname, join, resolve, sep } from "node:path"
import { Effect, Either, Schema } from "effect"
import type {
  ListedObject,
  ListedPart,
  ListedUpload,
  ObjectStore,
  ObjectWriter,
  ReadError,
  WriteError
} from "../../core/backends/ObjectStore.js"
import { listSorted } from "../../core/backends/listSorted.js"
import type { DataConnection } from "../../core/catalog/schema.js"
import type { Reply } from "../../core/http/Reply.js"
import { compareUtf8 } from "../../core/routing/keys.js"
import {
  BackendUnavailable,
  InvalidPart,
  InvalidRange,
  InvalidRequest,
  NoSuchKey,
  NoSuchUpload,
  PreconditionFailed
} from "../../core/s3/errors.js"
import { evaluatePreconditions } from "../../core/s3/preconditions.js"
import { parseCopySourceRange, resolveRange } from "../../core/s3/range.js"

const CONTENT_TYPES: Record<string, string> = {
  json: "application/json", geojson: "application/geo+json", csv: "text/csv", txt: "text/plain",
  md: "text/markdown", html: "text/html", xml: "application/xml", parquet: "application/vnd.apache.parquet",
  tif: "image/tiff", tiff: "image/tiff", png: "image/png", jpg: "image/jpeg", pmtiles: "application/vnd.pmtiles"
}
const contentType = (key: string) => CONTENT_TYPES[key.split(".").pop()?.toLowerCase() ?? ""] ?? "application/octet-stream"

/** Not a content hash (that would read the whole file per request): changes whenever the file does. */
const etagOf = (size: number, mtimeMs: number) => `"${Math.floor(mtimeMs).toString(16)}-${size.toString(16)}"`

const walk = async (root: string, dir: string, into: Array<ListedObject>): Promise<void> => {
  const entries = await readdir(join(root, dir), { withFileTypes: true }).catch(() => [])
  for (const entry of entries) {
    const key = dir === "" ? entry.name : `${dir}/${entry.name}`
    if (isReserved(key)) continue // the store's own metadata, uploads and temp files
    if (entry.isDirectory()) await walk(root, key, into)
    else if (entry.isFile()) {
      const info = await stat(join(root, key))
      into.push({ key, size: info.size, lastModified: info.mtime, etag: etagOf(info.size, info.mtimeMs) })
    }
  }
}

/**
 * The `local` provider of the embedded default (`bun run dev`): a directory is a bucket, files are objects.
 * Range and preconditions are evaluated here as S3 would; bodies stream from disk.
 */
export const LocalDirectoryProvider = (catalogDir: string) => (connection: DataConnection) =>
  Effect.sync((): ObjectStore => {
    const root = resolve(catalogDir, connection.details.path ?? connection.details.bucket ?? ".")
    const pathOf = (key: string) => {
      const path = resolve(root, key)
      // keys are validated; this is a second fence. The store's own files are never objects.
      return path.startsWith(root + sep) && !isReserved(key) ? path : undefined
    }

    const read = ({ key, method, headers }: Parameters<ObjectStore["read"]>[0]): Effect.Effect<Reply, ReadError> =>
      Effect.gen(function*() {
        const path = pathOf(key)
        const info = path === undefined ? undefined : yield* Effect.promise(() => stat(path).catch(() => undefined))
        if (path === undefined || info === undefined || !info.isFile()) return yield* new NoSuchKey({ key })
        const etag = etagOf(info.size, info.mtimeMs)
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
        // What a write stored with the object (content-type, x-amz-meta-*…), if the sidecar is this file's.
        const stored = yield* Effect.promise(() => readSidecar(root, key, etag))
        stored?.forEach((value, name) => common.set(name, value))
        common.set("content-length", String(Math.max(0, end - start + 1)))
        if (range._tag === "Partial") common.set("content-range", `bytes ${start}-${end}/${info.size}`)
        return {
          status: range._tag === "Partial" ? 206 : 200,
          headers: common,
          body: method === "HEAD" ? null : Bun.file(path).slice(start, end + 1).stream()
        }
      })

    const list = (request: Parameters<ObjectStore["list"]>[0]) =>
      Effect.tryPromise({
        try: async () => {
          const slash = request.prefix.lastIndexOf("/")
          const objects: Array<ListedObject> = []
          await walk(root, slash < 0 ? "" : request.prefix.slice(0, slash), objects)
          return listSorted(objects.sort((a, b) => compareUtf8(a.key, b.key)), request)
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
const RESERVED = [META_DIR, UPLOADS_DIR, TEMP_DIR]

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

const Sidecar = Schema.Struct({ etag: Schema.String, headers: Schema.Record({ key: Schema.String, value: Schema.String }) })
const decodeSidecar = Schema.decodeUnknownEither(Schema.parseJson(Sidecar))
const Upload = Schema.Struct({ key: Schema.String, headers: Schema.Record({ key: Schema.String, value: Schema.String }) })
const decodeUpload = Schema.decodeUnknownEither(Schema.parseJson(Upload))

const sidecarPath = (root: string, key: string) => join(root, META_DIR, `${key}.json`)

/**
 * The stored headers of `key`, when its sidecar was written for the file that is there now (same ETag): a
 * file replaced behind the store's back does not inherit another file's metadata.
 */
const readSidecar = async (root: string, key: string, etag: string): Promise<Headers | undefined> => {
  const text = await readFile(sidecarPath(root, key), "utf8").catch(() => undefined)
  if (text === undefined) return undefined
  const sidecar = decodeSidecar(text)
  return Either.isRight(sidecar) && sidecar.right.etag === etag ? new Headers(sidecar.right.headers) : undefined
}

const writeSidecar = async (root: string, key: string, etag: string, headers: Record<string, string>) => {
  const path = sidecarPath(root, key)
  if (Object.keys(headers).length === 0) return rm(path, { force: true })
  await mkdir(dirname(path), { recursive: true })
  const temp = join(root, TEMP_DIR, `meta-${randomUUID()}`)
  await mkdir(dirname(temp), { recursive: true })
  await writeFile(temp, JSON.stringify({ etag, headers }))
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

const fileEtag = async (path: string): Promise<{ etag: string; mtime: Date } | undefined> => {
  const info = await stat(path).catch(() => undefined)
  return info?.isFile() === true ? { etag: etagOf(info.size, info.mtimeMs), mtime: info.mtime } : undefined
}

class BodyFailed extends Error {}

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
          if (signal.aborted) throw new BodyFailed("the upload was interrupted")
          const chunk = await reader.read().catch((cause: unknown) => {
            throw new BodyFailed(`the body failed: ${String(cause)}`)
          })
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
   * sidecar for the new file's ETag, then rename over the key (atomic: a reader sees the old or the new
   * file). Check and rename are not one step: two writers in this process can both pass a precondition.
   */
  const commit = async (temp: string, key: string, headers: Headers, metadata: Record<string, string>) => {
    const path = target(key)
    if (!putAllowed(headers, (await fileEtag(path))?.etag)) throw new Outcome(new PreconditionFailed())
    const info = await stat(temp)
    const etag = etagOf(info.size, info.mtimeMs) // rename keeps the mtime, so this is the read's ETag
    await mkdir(dirname(path), { recursive: true })
    if (headers.get("if-none-match")?.trim() === "*") {
      // Create-only: link() fails atomically when the key exists, so of two racing writers exactly one wins.
      const created = await link(temp, path).then(() => true, (e: { code?: string }) => {
        if (e.code === "EEXIST") return false
        throw e
      })
      await rm(temp, { force: true })
      if (!created) throw new Outcome(new PreconditionFailed())
      await writeSidecar(root, key, etag, metadata)
    } else {
      await writeSidecar(root, key, etag, metadata)
      await rename(temp, path)
    }
    return { etag, lastModified: info.mtime }
  }

  const put: ObjectWriter["put"] = (request) =>
    attempt(async (signal, temps) => {
      const path = target(request.key)
      if (!putAllowed(request.headers, (await fileEtag(path))?.etag)) throw new Outcome(new PreconditionFailed())
      const temp = tempPath()
      temps.push(temp)
      await streamToFile(request.body, temp, request.contentLength, signal)
      const { etag } = await commit(temp, request.key, request.headers, storedHeaders(request.headers))
      return { etag, headers: new Headers() }
    }).pipe(Effect.catchTag("NoSuchKey", "NoSuchUpload", "InvalidPart", (e) => Effect.fail(new BackendUnavailable({ reason: e._tag }))))

  /** Removes the file, its sidecar, and the directories left empty up to the root. */
  const removeObject = async (key: string) => {
    const path = target(key)
    await rm(path, { force: true })
    await rm(sidecarPath(root, key), { force: true })
    for (let dir = dirname(path); dir.startsWith(root + sep); dir = dirname(dir)) {
      const removed = await rmdir(dir).then(() => true, () => false)
      if (!removed) break
    }
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
    const current = await fileEtag(path)
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
    attempt(async (_signal, temps) => {
      const { path: source, current } = await copySource(request.sourceKey, request.headers)
      const replace = request.headers.get("x-amz-metadata-directive")?.toUpperCase() === "REPLACE"
      const metadata = replace ? storedHeaders(request.headers) : Object.fromEntries(await readSidecar(root, request.sourceKey, current.etag) ?? [])
      const temp = tempPath()
      temps.push(temp)
      await mkdir(dirname(temp), { recursive: true })
      await copyFile(source, temp)
      return commit(temp, request.key, new Headers(), metadata)
    }).pipe(Effect.catchTag("NoSuchUpload", "InvalidPart", (e) => Effect.fail(new BackendUnavailable({ reason: e._tag }))))

  /** An upload's directory, when the id is one this store issued and it is still open. */
  const uploadDir = async (uploadId: string, key: string) => {
    const dir = join(root, UPLOADS_DIR, uploadId)
    const text = /^[A-Za-z0-9_-]{16,64}$/.test(uploadId) ? await readFile(join(dir, "upload.json"), "utf8").catch(() => undefined) : undefined
    const upload = text === undefined ? undefined : decodeUpload(text)
    if (upload === undefined || Either.isLeft(upload) || upload.right.key !== key) throw new Outcome(new NoSuchUpload({ uploadId }))
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
      for (const [i, part] of request.parts.entries()) {
        if (i > 0 && part.partNumber <= request.parts[i - 1]!.partNumber) {
          throw new Outcome(new InvalidPart({ message: "the parts are not in ascending order" }))
        }
        const file = files.get(String(part.partNumber))
        if (file === undefined || file !== `${part.partNumber}.${unquote(part.etag)}`) {
          throw new Outcome(new InvalidPart({ message: `part ${part.partNumber} was not uploaded with this ETag` }))
        }
        chosen.push(join(dir, file))
      }
      for (const file of chosen.slice(0, -1)) {
        if ((await stat(file)).size < MIN_PART) throw new Outcome(new InvalidRequest({ message: "EntityTooSmall: a part but the last is under 5 MiB" }))
      }
      const temp = tempPath()
      temps.push(temp)
      await mkdir(dirname(temp), { recursive: true })
      const out = await open(temp, "wx")
      try {
        for (const file of chosen) {
          for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 })) {
            if (signal.aborted) throw new BodyFailed("the complete was interrupted")
            await out.write(chunk as Uint8Array)
          }
        }
      } finally {
        await out.close()
      }
      const { etag } = await commit(temp, request.key, request.headers, upload.headers)
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
