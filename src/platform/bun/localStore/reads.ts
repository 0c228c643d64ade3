import * as Effect from "effect/Effect"
import type { ObjectRead, ObjectStore } from "../../../core/backends/ObjectStore.js"
import { InvalidRange, NoSuchKey, PreconditionFailed } from "../../../core/s3/errors.js"
import { evaluatePreconditions } from "../../../core/s3/preconditions.js"
import { resolveRange } from "../../../core/s3/range.js"
import { fileAt } from "./disk.js"
import { markerOf, objectPath } from "./paths.js"
import { EMPTY_ETAG, recordOf } from "./records.js"

const CONTENT_TYPES: Record<string, string> = {
  json: "application/json", geojson: "application/geo+json", csv: "text/csv", txt: "text/plain",
  md: "text/markdown", html: "text/html", xml: "application/xml", parquet: "application/vnd.apache.parquet",
  tif: "image/tiff", tiff: "image/tiff", png: "image/png", jpg: "image/jpeg", pmtiles: "application/vnd.pmtiles"
}
const contentType = (key: string) => CONTENT_TYPES[key.split(".").pop()?.toLowerCase() ?? ""] ?? "application/octet-stream"

/** The file holding `key`'s bytes, its ETag and stored headers; a folder marker's is its empty record. */
const objectAt = Effect.fnUntraced(function*(root: string, key: string) {
  const marker = markerOf(root, key)
  const path = marker?.record ?? objectPath(root, key)
  const info = path === undefined ? undefined : yield* fileAt(path)
  if (path === undefined || info === undefined) return undefined
  const record = marker === undefined ? yield* recordOf(root, key, info) : { etag: EMPTY_ETAG, headers: new Headers() }
  return { path, info, ...record }
})

/** GET and HEAD, with Range and the preconditions evaluated here as S3 would; bodies stream from disk. */
export const readObject = (root: string): ObjectStore["read"] =>
  Effect.fnUntraced(function*({ headers, key, method }: ObjectRead) {
    const found = yield* objectAt(root, key)
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
