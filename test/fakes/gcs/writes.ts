/**
 * Writes, already authorised: PUT (upload, copy, part), POST (initiate, complete), DELETE (object, upload), and
 * the bucket-level `GET ?uploads` listing, which needs the same permission.
 */
import { createHash } from "node:crypto"
import { type Bucket, etagOf, type GcsObject, type NewObject, removeObject, storeObject } from "./bucket.js"
import { type AnswerHeaders, type Exchange, googHeader, headerOf } from "./exchange.js"
import { metadataOf } from "./metadata.js"
import type { MultipartUploads } from "./multipart.js"
import { etagListMatches, generationPreconditions, httpSeconds } from "./preconditions.js"
import { decodeComponent } from "./uri.js"
import { errorXml, escapeXml, XML_CONTENT, XML_DECLARATION } from "./xml.js"

/** The answer headers of a stored upload. */
const written = (object: GcsObject): AnswerHeaders => ({
  etag: etagOf(object),
  "x-goog-generation": object.generation,
  "x-goog-metageneration": object.metageneration,
  "x-goog-stored-content-length": String(object.bytes.length),
  "x-goog-stored-content-encoding": object.contentEncoding ?? "identity",
  "x-goog-hash": object.composite === undefined
    ? [`crc32c=${object.crc32c.toString("base64")}`, `md5=${object.md5.toString("base64")}`]
    : `crc32c=${object.crc32c.toString("base64")}`,
  "content-type": "text/html; charset=UTF-8"
})

/** What a write reaches beyond its own bucket: the other buckets (copy sources), the object stamp, the open uploads. */
export interface WriteContext {
  readonly buckets: ReadonlyMap<string, Bucket>
  readonly newObject: NewObject
  readonly multipart: MultipartUploads
}

/** `PUT` with `x-goog-copy-source` (or `x-amz-copy-source`) to `key`: COPY or REPLACE the metadata. */
const copy = (
  { buckets, newObject }: WriteContext,
  { req, bucket, send, fail }: Exchange,
  key: string,
  copySource: string,
  live: GcsObject | undefined
): void => {
  const goog = (name: string) => googHeader(req, name)
  const path = decodeComponent(copySource.split("?")[0]!).replace(/^\/+/, "")
  const cut = path.indexOf("/")
  const sourceBucket = buckets.get(cut < 0 ? path : path.slice(0, cut))
  const source = cut < 0 ? undefined : sourceBucket?.objects.get(path.slice(cut + 1))
  if (source === undefined) {
    return fail(404, errorXml("NoSuchKey", "The specified key does not exist.", `No such object: ${path}`))
  }
  const sourceEtag = etagOf(source)
  const modified = httpSeconds(source.updated)
  const since = (name: string) => {
    const v = goog(name)
    const t = v === undefined ? Number.NaN : Date.parse(v)
    return Number.isNaN(t) ? undefined : Math.floor(t / 1000)
  }
  const ifMatch = goog("copy-source-if-match")
  const ifNoneMatch = goog("copy-source-if-none-match")
  const unmodified = since("copy-source-if-unmodified-since")
  const modifiedSince = since("copy-source-if-modified-since")
  if (
    (ifMatch !== undefined && !etagListMatches(ifMatch, sourceEtag)) ||
    (ifNoneMatch !== undefined && etagListMatches(ifNoneMatch, sourceEtag)) ||
    (unmodified !== undefined && modified > unmodified) ||
    (modifiedSince !== undefined && modified <= modifiedSince)
  ) {
    return fail(412, errorXml("PreconditionFailed", "At least one of the pre-conditions you specified did not hold.", "Precondition failed: copy source"))
  }
  if (!generationPreconditions(req, live, fail)) return
  const replace = (goog("metadata-directive") ?? "COPY").toUpperCase() === "REPLACE"
  const given = metadataOf(req)
  const object = replace
    ? newObject(key, source.bytes, given.contentType, given.metadata, given.fixed, undefined, source.composite)
    : newObject(key, source.bytes, source.contentType, source.metadata, {
      ...(source.cacheControl === undefined ? {} : { cacheControl: source.cacheControl }),
      ...(source.contentDisposition === undefined ? {} : { contentDisposition: source.contentDisposition }),
      ...(source.contentEncoding === undefined ? {} : { contentEncoding: source.contentEncoding }),
      ...(source.contentLanguage === undefined ? {} : { contentLanguage: source.contentLanguage })
    }, undefined, source.composite)
  storeObject(bucket, object)
  send(200, { ...XML_CONTENT, "x-goog-generation": object.generation, "x-goog-metageneration": object.metageneration }, `${XML_DECLARATION}<CopyObjectResult><LastModified>${object.updated.toISOString()}</LastModified><ETag>${escapeXml(etagOf(object))}</ETag></CopyObjectResult>`)
}

export const write = (context: WriteContext, x: Exchange, body: Buffer): void => {
  const { newObject, multipart } = context
  const { req, method, bucketName, bucket, key, query, send, fail } = x
  if (key === undefined && method === "GET") return multipart.listUploads(x)
  if (key === undefined) {
    if (method === "POST" && "delete" in query) {
      return fail(501, errorXml("NotImplemented", "A header or query you provided requested a function that is not implemented.", "POST ?delete is not supported."))
    }
    return fail(405, errorXml("MethodNotAllowed", "The specified method is not allowed against this resource."))
  }
  const live = bucket.objects.get(key)
  const uploadId = query.uploadId
  const upload = uploadId === undefined ? undefined : multipart.get(uploadId)
  if (uploadId !== undefined && (upload === undefined || upload.bucket !== bucketName || upload.key !== key)) {
    return fail(404, errorXml("NoSuchUpload", "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.", `No such upload: ${uploadId}`))
  }

  if (method === "GET") {
    if (upload === undefined) return fail(400, errorXml("InvalidArgument", "Invalid argument.", "GET object with a query expects ?uploadId."))
    return multipart.listParts(x, key, uploadId!, upload)
  }

  if (method === "DELETE") {
    if (upload !== undefined) return multipart.abort(x, uploadId!)
    if (!generationPreconditions(req, live, fail)) return
    if (live === undefined) return fail(404, errorXml("NoSuchKey", "The specified key does not exist.", `No such object: ${bucketName}/${key}`))
    removeObject(bucket, key)
    return send(204, {})
  }

  if (method === "POST" && "uploads" in query) return multipart.initiate(x, key)
  if (method === "POST" && upload !== undefined) return multipart.complete(x, key, uploadId!, upload, body, live)
  if (method === "POST") return fail(400, errorXml("InvalidArgument", "Invalid argument.", "POST object expects ?uploads or ?uploadId."))

  // PUT
  const md5 = headerOf(req, "content-md5")
  if (md5 !== undefined && createHash("md5").update(body).digest("base64") !== md5.trim()) {
    return fail(400, errorXml("BadDigest", "The MD5 you specified did not match what we received."))
  }
  const copySource = googHeader(req, "copy-source")
  if (upload !== undefined) {
    if (copySource !== undefined) {
      // The XML API's multipart uploads take parts as bodies only: no UploadPartCopy.
      return fail(501, errorXml("NotImplemented", "A header or query you provided requested a function that is not implemented.", "UploadPartCopy (x-goog-copy-source on a part) is not supported."))
    }
    return multipart.uploadPart(x, upload, body)
  }
  if (copySource !== undefined) return copy(context, x, key, copySource, live)

  if (!generationPreconditions(req, live, fail)) return
  const { metadata, fixed, contentType } = metadataOf(req)
  const object = newObject(key, body, contentType, metadata, fixed)
  storeObject(bucket, object)
  send(200, written(object))
}
