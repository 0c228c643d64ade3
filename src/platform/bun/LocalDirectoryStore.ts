import { readdir, stat } from "node:fs/promises"
import { join, resolve, sep } from "node:path"
import { Effect } from "effect"
import type { ListedObject, ObjectStore, ReadError } from "../../core/backends/ObjectStore.js"
import { listSorted } from "../../core/backends/listSorted.js"
import type { DataConnection } from "../../core/catalog/schema.js"
import type { Reply } from "../../core/http/Reply.js"
import { compareUtf8 } from "../../core/routing/keys.js"
import { BackendUnavailable, InvalidRange, NoSuchKey, PreconditionFailed } from "../../core/s3/errors.js"
import { evaluatePreconditions } from "../../core/s3/preconditions.js"
import { resolveRange } from "../../core/s3/range.js"

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
      return path.startsWith(root + sep) ? path : undefined // keys are validated; this is a second fence
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

    return { read, list }
  })
