/**
 * An in-memory stand-in for Google Cloud Storage's XML API (storage.googleapis.com), path style:
 * `GET|HEAD /{bucket}/{object}` and `GET /{bucket}?…` listings, answered the way GCS answers them
 * (documents, headers and error XML as GCS writes them), with SigV4 HMAC verification for private buckets.
 *
 * Fidelity notes (what GCS does and this does too):
 * - Listings default to V1 (`marker`, `NextMarker` = last name returned, present whenever truncated), in
 *   the namespace `http://doc.s3.amazonaws.com/2006-03-01`, single-quoted XML declaration, with
 *   `Generation`/`MetaGeneration` in each `Contents`, no `StorageClass`/`Owner`; `list-type=2` is also served.
 *   Keys sort in UTF-8 byte order; at most 1000 entries a page.
 * - Objects: `ETag` = quoted MD5 hex, `x-goog-generation`, `x-goog-metageneration`,
 *   `x-goog-stored-content-length`, `x-goog-stored-content-encoding`, `x-goog-hash` (crc32c and md5, two
 *   header lines), `x-goog-storage-class`, `x-goog-meta-*`, `x-guploader-uploadid`, `Server: UploadServer`,
 *   `Alt-Svc`, `Cache-Control` (public buckets: `public, max-age=3600`, else `private, max-age=0`).
 * - One `Range` (closed, open, suffix) → 206 + `Content-Range`; unparseable or multiple ranges → the whole
 *   object; unsatisfiable → 416 `InvalidRange` (with `Content-Range: bytes *\/size`).
 * - `If-Match`/`If-Unmodified-Since` → 412 `PreconditionFailed`; `If-None-Match`/`If-Modified-Since` → 304,
 *   RFC 9110 precedence (a present If-Match wins over If-Unmodified-Since, If-None-Match over
 *   If-Modified-Since).
 * - Auth: a request with an `Authorization: AWS4-HMAC-SHA256 …` header is verified (canonical request
 *   recomputed with the key's secret; scope service `s3` or `storage`, region `auto` or the bucket's
 *   location; `x-amz-date` within 15 minutes); unknown key → 403 `InvalidAccessKeyId`, wrong signature →
 *   403 `SignatureDoesNotMatch`. Anonymous requests on a bucket that is not public → 403 `AccessDenied`.
 * - Writes (HMAC-signed only; a key listed in `readOnlyHmacKeys` has objectViewer, not objectAdmin → 403):
 *   `PUT /{bucket}/{object}` stores the body (Content-Length or `Transfer-Encoding: chunked`; a body the client
 *   abandons is never stored), with `Content-Type`, `Cache-Control`, `Content-Disposition`, `Content-Encoding`,
 *   `Content-Language` and `x-goog-meta-*` (or its interoperable `x-amz-meta-*`) as the object's metadata;
 *   `Content-MD5` is checked (400 `BadDigest`). Answer: 200, empty, `ETag`, `x-goog-generation`, `x-goog-hash`.
 *   Preconditions are GCS's own: `x-goog-if-generation-match` (`0` = only if absent) and
 *   `x-goog-if-metageneration-match` → 412; `If-Match` / `If-None-Match` are read-only headers in the XML API:
 *   on a write they are ignored, as GCS ignores them.
 * - Copy: `PUT` with `x-goog-copy-source` or `x-amz-copy-source` (`/bucket/object`, URL-encoded);
 *   `x-goog-metadata-directive` / `x-amz-metadata-directive` COPY (default) or REPLACE; the
 *   `x-goog-copy-source-if-(none-)match` / `-if-(un)modified-since` preconditions (x-amz- spellings too) → 412;
 *   answer `<CopyObjectResult>` with `LastModified` and `ETag`; a missing source → 404 `NoSuchKey`.
 * - `DELETE /{bucket}/{object}` → 204, absent → 404 `NoSuchKey`. There is no multi-object delete
 *   (`POST /{bucket}?delete` → 501 `NotImplemented`).
 * - XML API multipart: `POST ?uploads` → `InitiateMultipartUploadResult`; `PUT ?partNumber=N&uploadId=U`
 *   (1…10000) → 200 + part `ETag` (MD5); `POST ?uploadId=U` with `CompleteMultipartUpload` (parts ascending,
 *   each named part uploaded with that ETag, every part but the last ≥ 5 MiB) → `CompleteMultipartUploadResult`;
 *   `DELETE ?uploadId=U` → 204. Unknown or finished uploads → 404 `NoSuchUpload`; wrong ETag or an absent part →
 *   400 `InvalidPart`; out of order → 400 `InvalidPartOrder`; small part → 400 `EntityTooSmall`. The object is
 *   composite: ETag `"{md5 of the part MD5s}-{N}"`, `x-goog-hash` has crc32c only, `x-goog-component-count`.
 *   `GET /{object}?uploadId=U` lists parts (`max-parts`, `part-number-marker`), `GET /{bucket}?uploads` lists open
 *   uploads (`prefix`, `key-marker`, `upload-id-marker`, `max-uploads`; by key, then initiation). A part with
 *   `x-goog-copy-source` / `x-amz-copy-source` (S3's UploadPartCopy) → 501 `NotImplemented`: the XML API's
 *   multipart takes parts as bodies only.
 * Not modelled: versions (`generation=` reads), compose, ACL writes, resumable uploads, transcoding, V2 signing.
 */
import { randomBytes } from "node:crypto"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { hmacSecret, isReadRequest, refusal } from "./access.js"
import { type Bucket, type GcsBucketOptions, type GcsObject, objectFactory, storeObject } from "./bucket.js"
import type { AnswerHeaders, Exchange, Fail, Send } from "./exchange.js"
import { listObjects } from "./listing.js"
import { multipartUploads } from "./multipart.js"
import { readObject } from "./reads.js"
import { verifySigV4 } from "./signature.js"
import { decodeComponent, queryPairs } from "./uri.js"
import { write } from "./writes.js"
import { errorXml } from "./xml.js"

export type { GcsBucketOptions, GcsObject } from "./bucket.js"

export interface GcsLoggedRequest {
  readonly method: string
  readonly bucket: string
  /** The object name, decoded; `undefined` for bucket-level requests. */
  readonly key: string | undefined
  /** The path and query exactly as received. */
  readonly rawUrl: string
  readonly query: Readonly<Record<string, string>>
  readonly headers: IncomingMessage["headers"]
  readonly status: number
  /** `anonymous`, `hmac:<access key id>` (signature verified), or the refusal code. */
  readonly auth: string
}

export interface RunningGcs {
  /** `http://127.0.0.1:PORT`, for `details.endpoint`. */
  readonly url: string
  readonly requests: ReadonlyArray<GcsLoggedRequest>
  createBucket(name: string, options?: GcsBucketOptions): void
  put(
    bucket: string,
    key: string,
    bytes: Uint8Array | string,
    options?: { readonly contentType?: string; readonly metadata?: Readonly<Record<string, string>>; readonly updated?: Date }
  ): GcsObject
  get(bucket: string, key: string): GcsObject | undefined
  /** Forget the request log. */
  clearLog(): void
  stop(): Promise<void>
}

export const startGcs = async (): Promise<RunningGcs> => {
  const buckets = new Map<string, Bucket>()
  const requests: Array<GcsLoggedRequest> = []
  const newObject = objectFactory()
  const context = { buckets, newObject, multipart: multipartUploads(newObject) }

  const handle = (req: IncomingMessage, res: ServerResponse, body: Buffer | undefined) => {
    const rawUrl = req.url ?? "/"
    const q = rawUrl.indexOf("?")
    const rawPath = q < 0 ? rawUrl : rawUrl.slice(0, q)
    const rawQuery = q < 0 ? "" : rawUrl.slice(q + 1)
    const query = Object.fromEntries(queryPairs(rawQuery))
    const slash = rawPath.indexOf("/", 1)
    const bucketName = decodeComponent(slash < 0 ? rawPath.slice(1) : rawPath.slice(1, slash))
    const key = slash < 0 || slash === rawPath.length - 1 ? undefined : decodeComponent(rawPath.slice(slash + 1))
    const method = req.method ?? "GET"
    let auth = "anonymous"

    const common: Record<string, string> = {
      "x-guploader-uploadid": `ABPtcPo${randomBytes(24).toString("base64url")}`,
      server: "UploadServer",
      date: new Date().toUTCString(),
      "alt-svc": "h3=\":443\"; ma=2592000,h3-29=\":443\"; ma=2592000"
    }
    const send: Send = (status, headers, body) => {
      requests.push({ method, bucket: bucketName, key, rawUrl, query, headers: req.headers, status, auth })
      const payload = body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(body) ? body : Buffer.from(body)
      const all: AnswerHeaders = { ...common, ...headers }
      if (all["content-length"] === undefined) all["content-length"] = String(payload.length)
      res.writeHead(status, all)
      res.end(method === "HEAD" ? undefined : payload)
    }
    const fail: Fail = (status, xml) =>
      send(status, { "content-type": "application/xml; charset=UTF-8", "cache-control": "private, max-age=0", expires: new Date().toUTCString() }, xml)

    const isRead = isReadRequest(method, query)
    if (!isRead && method !== "GET" && method !== "PUT" && method !== "POST" && method !== "DELETE") {
      return fail(405, errorXml("MethodNotAllowed", "The specified method is not allowed against this resource."))
    }
    const bucket = buckets.get(bucketName)

    if (req.headers.authorization !== undefined) {
      const regions = ["auto", ...(bucket?.options.location === undefined ? [] : [bucket.options.location.toLowerCase()])]
      const verdict = verifySigV4(req, rawPath, rawQuery, (id) => hmacSecret(buckets, id), regions, Date.now())
      auth = verdict.ok ? `hmac:${verdict.accessKeyId}` : verdict.code
      if (!verdict.ok) return fail(verdict.status, verdict.body ?? "")
    }
    if (bucketName === "" || bucket === undefined) {
      return fail(404, errorXml("NoSuchBucket", "The specified bucket does not exist."))
    }
    const keyId = auth.startsWith("hmac:") ? auth.slice(5) : undefined
    const denied = refusal(bucket, keyId, { method, key, query })
    if (denied !== undefined) return fail(403, errorXml("AccessDenied", "Access denied.", denied))

    const exchange: Exchange = { req, method, bucketName, bucket, key, query, send, fail }
    if (!isRead) return write(context, exchange, body ?? Buffer.alloc(0))
    if (key === undefined) {
      if (method === "HEAD") return send(200, { "content-type": "application/xml; charset=UTF-8" })
      return listObjects(exchange)
    }
    return readObject(exchange, key)
  }

  const run = (req: IncomingMessage, res: ServerResponse, body: Buffer | undefined) => {
    try {
      handle(req, res, body)
    } catch (error) {
      res.writeHead(500, { "content-type": "application/xml; charset=UTF-8" })
      res.end(errorXml("InternalError", `We encountered an internal error: ${String(error)}`))
    }
  }
  const server = createServer((req, res) => {
    if (req.method !== "PUT" && req.method !== "POST") {
      req.resume()
      return run(req, res, undefined)
    }
    // A write is acted on only once its whole body has arrived: an abandoned upload stores nothing.
    const chunks: Array<Buffer> = []
    let broken = false
    req.on("data", (chunk: Buffer) => chunks.push(chunk))
    req.on("aborted", () => void (broken = true))
    req.on("error", () => void (broken = true))
    req.on("end", () => {
      if (!broken && !req.destroyed) run(req, res, Buffer.concat(chunks))
    })
  })
  server.keepAliveTimeout = 30_000
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, "127.0.0.1", resolve)
  })
  const { port } = server.address() as AddressInfo

  const bucketOf = (name: string) => {
    const bucket = buckets.get(name)
    if (bucket === undefined) throw new Error(`no bucket ${name}: createBucket first`)
    return bucket
  }

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    createBucket: (name, bucketOptions = {}) => {
      if (!buckets.has(name)) buckets.set(name, { options: bucketOptions, objects: new Map(), sorted: undefined })
    },
    put: (bucketName, key, bytes, putOptions = {}) => {
      const data = typeof bytes === "string" ? Buffer.from(bytes, "utf8") : Buffer.from(bytes)
      const object = newObject(key, data, putOptions.contentType, putOptions.metadata ?? {}, {}, putOptions.updated)
      storeObject(bucketOf(bucketName), object)
      return object
    },
    get: (bucketName, key) => buckets.get(bucketName)?.objects.get(key),
    clearLog: () => void requests.splice(0),
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}
