/** `GET|HEAD /{bucket}/{object}`: conditional and ranged reads, answered with the headers GCS sends. */
import { etagOf } from "./bucket.js"
import { type AnswerHeaders, type Exchange, headerOf } from "./exchange.js"
import { etagListMatches, httpSeconds } from "./preconditions.js"
import { errorXml } from "./xml.js"

interface ByteRange {
  readonly start: number
  readonly end: number
}

/** One `bytes=` range against `size`: a range, `"ignore"` (serve the whole object) or `"unsatisfiable"`. */
const parseRange = (header: string | undefined, size: number): ByteRange | "ignore" | "unsatisfiable" => {
  if (header === undefined) return "ignore"
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim())
  if (m === null || (m[1] === "" && m[2] === "")) return "ignore"
  if (m[1] === "") {
    const suffix = Number(m[2])
    if (suffix === 0) return "unsatisfiable"
    return size === 0 ? "unsatisfiable" : { start: Math.max(0, size - suffix), end: size - 1 }
  }
  const start = Number(m[1])
  const end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1)
  if (m[2] !== "" && Number(m[2]) < start) return "ignore"
  if (start >= size) return "unsatisfiable"
  return { start, end }
}

export const readObject = ({ req, method, bucketName, bucket, send, fail }: Exchange, key: string): void => {
  const object = bucket.objects.get(key)
  if (object === undefined) {
    return method === "HEAD"
      ? fail(404, "")
      : fail(404, errorXml("NoSuchKey", "The specified key does not exist.", `No such object: ${bucketName}/${key}`))
  }

  const etag = etagOf(object)
  const lastModified = object.updated.toUTCString()
  const validators: Record<string, string> = {
    etag,
    "last-modified": lastModified,
    "x-goog-generation": object.generation,
    "x-goog-metageneration": object.metageneration
  }
  const header = (name: string) => headerOf(req, name)
  const ifMatch = header("if-match")
  const ifNoneMatch = header("if-none-match")
  const ifModifiedSince = header("if-modified-since")
  const ifUnmodifiedSince = header("if-unmodified-since")
  const updated = httpSeconds(object.updated)
  const preconditionFailed = () =>
    fail(412, errorXml("PreconditionFailed", "At least one of the pre-conditions you specified did not hold.", "Precondition failed"))
  if (ifMatch !== undefined) {
    if (!etagListMatches(ifMatch, etag)) return preconditionFailed()
  } else if (ifUnmodifiedSince !== undefined) {
    const since = Date.parse(ifUnmodifiedSince)
    if (!Number.isNaN(since) && updated > Math.floor(since / 1000)) return preconditionFailed()
  }
  if (ifNoneMatch !== undefined) {
    if (etagListMatches(ifNoneMatch, etag)) return send(304, { ...validators, "content-length": "0" })
  } else if (ifModifiedSince !== undefined) {
    const since = Date.parse(ifModifiedSince)
    if (!Number.isNaN(since) && updated <= Math.floor(since / 1000)) return send(304, { ...validators, "content-length": "0" })
  }

  const size = object.bytes.length
  const range = parseRange(header("range"), size)
  if (range === "unsatisfiable") {
    return send(416, {
      "content-type": "application/xml; charset=UTF-8",
      "content-range": `bytes */${size}`
    }, errorXml("InvalidRange", "The requested range cannot be satisfied.", header("range")))
  }
  const entity: AnswerHeaders = {
    ...validators,
    "content-type": object.contentType,
    "accept-ranges": "bytes",
    "cache-control": object.cacheControl ?? (bucket.options.public === true ? "public, max-age=3600" : "private, max-age=0"),
    expires: new Date(Date.now() + (bucket.options.public === true ? 3600_000 : 0)).toUTCString(),
    "x-goog-stored-content-encoding": object.contentEncoding ?? "identity",
    "x-goog-stored-content-length": String(size),
    "x-goog-hash": object.composite === undefined
      ? [`crc32c=${object.crc32c.toString("base64")}`, `md5=${object.md5.toString("base64")}`]
      : `crc32c=${object.crc32c.toString("base64")}`,
    "x-goog-storage-class": "STANDARD",
    ...(object.composite === undefined ? {} : { "x-goog-component-count": String(object.composite.componentCount) }),
    ...(object.contentDisposition === undefined ? {} : { "content-disposition": object.contentDisposition }),
    ...(object.contentEncoding === undefined ? {} : { "content-encoding": object.contentEncoding }),
    ...(object.contentLanguage === undefined ? {} : { "content-language": object.contentLanguage })
  }
  for (const [name, value] of Object.entries(object.metadata)) entity[`x-goog-meta-${name.toLowerCase()}`] = value
  if (range === "ignore") return send(200, entity, object.bytes)
  return send(206, { ...entity, "content-range": `bytes ${range.start}-${range.end}/${size}` }, object.bytes.subarray(range.start, range.end + 1))
}
