import { createHash, createHmac, randomBytes } from "node:crypto"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"

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

export interface GcsObject {
  readonly key: string
  readonly bytes: Buffer
  readonly contentType: string
  readonly metadata: Readonly<Record<string, string>>
  readonly generation: string
  readonly metageneration: string
  readonly updated: Date
  readonly md5: Buffer
  readonly crc32c: Buffer
  /** Fixed-key metadata besides Content-Type, as set by a write. */
  readonly cacheControl?: string
  readonly contentDisposition?: string
  readonly contentEncoding?: string
  readonly contentLanguage?: string
  /** A composite object (XML multipart): its ETag and component count; `md5` is not reported for it. */
  readonly composite?: { readonly etag: string; readonly componentCount: number }
}

export interface GcsBucketOptions {
  /** Anonymous callers may read and list (allUsers has storage.objectViewer). */
  readonly public?: boolean
  /** HMAC keys that may read this bucket: access key id → secret. */
  readonly hmacKeys?: Readonly<Record<string, string>>
  /** Of `hmacKeys`, those whose service account may only read (objectViewer): writes → 403 AccessDenied. */
  readonly readOnlyHmacKeys?: ReadonlyArray<string>
  /** The bucket's location (a signing region GCS accepts besides `auto`). */
  readonly location?: string
  /**
   * When a truncated V1 page carries `NextMarker`: `always` (GCS, the default) or `with-delimiter` (S3's
   * V1 rule, to exercise a client's fallback to the last key).
   */
  readonly nextMarker?: "always" | "with-delimiter"
}

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

const NAMESPACE = "http://doc.s3.amazonaws.com/2006-03-01"
const XML_DECLARATION = "<?xml version='1.0' encoding='UTF-8'?>"
const MAX_KEYS = 1000
const SKEW_MS = 15 * 60 * 1000

const escapeXml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&apos;" })[c]!)

const byteOrder = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b))

/** CRC32C (Castagnoli), big-endian, as GCS reports it (base64 in `x-goog-hash`). */
const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1
    table[n] = c >>> 0
  }
  return table
})()
const crc32c = (data: Buffer): Buffer => {
  let crc = 0xffffffff
  for (const byte of data) crc = CRC32C_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8)
  const out = Buffer.alloc(4)
  out.writeUInt32BE((crc ^ 0xffffffff) >>> 0)
  return out
}

const errorXml = (code: string, message: string, details?: string, extra = ""): string =>
  `${XML_DECLARATION}<Error><Code>${code}</Code><Message>${escapeXml(message)}</Message>${
    details === undefined ? "" : `<Details>${escapeXml(details)}</Details>`
  }${extra}</Error>`

/** RFC 3986 strict encoding as SigV4 canonicalises names and values (`/` kept in paths only). */
const uriEncode = (text: string, keepSlash: boolean): string =>
  Array.from(Buffer.from(text, "utf8")).map((b) => {
    const c = String.fromCharCode(b)
    return /[A-Za-z0-9\-._~]/.test(c) || (keepSlash && c === "/") ? c : `%${b.toString(16).toUpperCase().padStart(2, "0")}`
  }).join("")

const decodeComponent = (text: string): string => {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}

/** Query pairs as received: `+` is a space as in form encoding (what GCS and S3 accept). */
const queryPairs = (rawQuery: string): Array<[string, string]> =>
  rawQuery === ""
    ? []
    : rawQuery.split("&").filter((p) => p !== "").map((pair) => {
      const eq = pair.indexOf("=")
      const name = eq < 0 ? pair : pair.slice(0, eq)
      const value = eq < 0 ? "" : pair.slice(eq + 1)
      return [decodeComponent(name.replace(/\+/g, " ")), decodeComponent(value.replace(/\+/g, " "))]
    })

const sha256Hex = (data: string | Buffer) => createHash("sha256").update(data).digest("hex")
const hmac = (key: string | Buffer, data: string) => createHmac("sha256", key).update(data).digest()

interface Verdict {
  readonly ok: boolean
  readonly status: number
  readonly code: string
  readonly body?: string
}

/** Verifies an `AWS4-HMAC-SHA256` Authorization header against the known HMAC keys (any bucket's). */
const verifySigV4 = (
  req: IncomingMessage,
  rawPath: string,
  rawQuery: string,
  secretOf: (accessKeyId: string) => string | undefined,
  allowedRegions: ReadonlyArray<string>,
  now: number
): Verdict & { readonly accessKeyId?: string } => {
  const header = req.headers.authorization ?? ""
  const match = /^AWS4-HMAC-SHA256 Credential=([^/\s,]+)\/(\d{8})\/([^/\s,]+)\/([^/\s,]+)\/aws4_request,\s*SignedHeaders=([a-z0-9\-;]+),\s*Signature=([0-9a-f]{64})$/
    .exec(header)
  if (match === null) {
    return { ok: false, status: 400, code: "MalformedSecurityHeader", body: errorXml("MalformedSecurityHeader", "Your request has a malformed header.", header) }
  }
  const [, accessKeyId, date, region, service, signedHeaderList, signature] = match as unknown as [string, string, string, string, string, string, string]
  const secret = secretOf(accessKeyId)
  if (secret === undefined) {
    return {
      ok: false,
      status: 403,
      code: "InvalidAccessKeyId",
      body: errorXml("InvalidAccessKeyId", "The Google Cloud Storage access key Id you provided does not exist in our records.")
    }
  }
  const amzDate = String(req.headers["x-amz-date"] ?? req.headers["x-goog-date"] ?? "")
  const parsed = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate)
  if (parsed === null || !amzDate.startsWith(date)) {
    return { ok: false, status: 400, code: "AuthorizationHeaderMalformed", body: errorXml("AuthorizationHeaderMalformed", "The authorization header is malformed; the date in the credential scope does not match the request date.") }
  }
  const at = Date.UTC(+parsed[1]!, +parsed[2]! - 1, +parsed[3]!, +parsed[4]!, +parsed[5]!, +parsed[6]!)
  if (Math.abs(now - at) > SKEW_MS) {
    return { ok: false, status: 403, code: "RequestTimeTooSkewed", body: errorXml("RequestTimeTooSkewed", "The difference between the request time and the server's time is too large.") }
  }
  if (!allowedRegions.includes(region) || (service !== "s3" && service !== "storage")) {
    return { ok: false, status: 400, code: "AuthorizationHeaderMalformed", body: errorXml("AuthorizationHeaderMalformed", `The authorization header is malformed; the region '${region}' or service '${service}' is wrong.`) }
  }
  const signedHeaders = signedHeaderList.split(";")
  if (!signedHeaders.includes("host")) {
    return { ok: false, status: 400, code: "AuthorizationHeaderMalformed", body: errorXml("AuthorizationHeaderMalformed", "Host must be a signed header.") }
  }
  const canonicalHeaders = signedHeaders.map((name) => {
    const value = req.headers[name]
    const text = Array.isArray(value) ? value.join(",") : value ?? ""
    return `${name}:${text.trim().replace(/\s+/g, " ")}\n`
  }).join("")
  const canonicalQuery = queryPairs(rawQuery)
    .map(([n, v]) => [uriEncode(n, false), uriEncode(v, false)] as const)
    .sort(([an, av], [bn, bv]) => (an < bn ? -1 : an > bn ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([n, v]) => `${n}=${v}`)
    .join("&")
  const canonicalUri = uriEncode(decodeComponent(rawPath), true)
  const payloadHash = String(req.headers["x-amz-content-sha256"] ?? req.headers["x-goog-content-sha256"] ?? "UNSIGNED-PAYLOAD")
  const canonicalRequest = [req.method ?? "GET", canonicalUri, canonicalQuery, canonicalHeaders, signedHeaderList, payloadHash].join("\n")
  const scope = `${date}/${region}/${service}/aws4_request`
  const stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256Hex(canonicalRequest)].join("\n")
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), "aws4_request")
  const expected = createHmac("sha256", key).update(stringToSign).digest("hex")
  if (expected !== signature) {
    return {
      ok: false,
      status: 403,
      code: "SignatureDoesNotMatch",
      body: errorXml(
        "SignatureDoesNotMatch",
        "Access denied.",
        undefined,
        `<StringToSign>${escapeXml(stringToSign)}</StringToSign><CanonicalRequest>${escapeXml(canonicalRequest)}</CanonicalRequest>`
      )
    }
  }
  return { ok: true, status: 200, code: "ok", accessKeyId }
}

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

const etagOf = (object: GcsObject) => object.composite?.etag ?? `"${object.md5.toString("hex")}"`

const MIN_PART = 5 * 1024 * 1024
const MAX_PART_NUMBER = 10_000

interface Upload {
  readonly bucket: string
  readonly key: string
  readonly contentType: string
  readonly metadata: Readonly<Record<string, string>>
  readonly fixed: FixedMetadata
  readonly initiated: Date
  /** Initiation order, the order of one key's uploads in a listing. */
  readonly sequence: number
  readonly parts: Map<number, Part>
}

interface Part {
  readonly bytes: Buffer
  readonly md5: Buffer
  readonly lastModified: Date
}

interface FixedMetadata {
  readonly cacheControl?: string
  readonly contentDisposition?: string
  readonly contentEncoding?: string
  readonly contentLanguage?: string
}

/** The first `<Tag>…</Tag>` texts of a small request document (entities decoded). */
const xmlTexts = (xml: string, tag: string): Array<string> =>
  Array.from(xml.matchAll(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, "g")), (m) =>
    m[1]!.replace(/&quot;/g, "\"").replace(/&apos;/g, "'").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&"))

const etagListMatches = (header: string, etag: string): boolean =>
  header.split(",").map((t) => t.trim().replace(/^W\//, "")).some((t) => t === "*" || t === etag)

/** Seconds precision, as HTTP dates carry. */
const httpSeconds = (date: Date) => Math.floor(date.getTime() / 1000)

export const startGcs = async (): Promise<RunningGcs> => {
  /** `sorted`: the bucket's names in byte order, rebuilt after a put. */
  const buckets = new Map<string, { readonly options: GcsBucketOptions; readonly objects: Map<string, GcsObject>; sorted: Array<string> | undefined }>()
  const requests: Array<GcsLoggedRequest> = []
  let generationClock = Date.now() * 1000

  const secretOf = (accessKeyId: string): string | undefined => {
    for (const bucket of buckets.values()) {
      const secret = bucket.options.hmacKeys?.[accessKeyId]
      if (secret !== undefined) return secret
    }
    return undefined
  }

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
    const send = (status: number, headers: Record<string, string | Array<string>>, body?: string | Buffer) => {
      requests.push({ method, bucket: bucketName, key, rawUrl, query, headers: req.headers, status, auth })
      const payload = body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(body) ? body : Buffer.from(body)
      const all: Record<string, string | Array<string>> = { ...common, ...headers }
      if (all["content-length"] === undefined) all["content-length"] = String(payload.length)
      res.writeHead(status, all)
      res.end(method === "HEAD" ? undefined : payload)
    }
    const fail = (status: number, xml: string) =>
      send(status, { "content-type": "application/xml; charset=UTF-8", "cache-control": "private, max-age=0", expires: new Date().toUTCString() }, xml)

    // Listing uploads or parts is multipart bookkeeping (storage.multipartUploads.list*): objectAdmin, not objectViewer.
    const isRead = (method === "GET" || method === "HEAD") && query.uploadId === undefined && !("uploads" in query)
    if (!isRead && method !== "GET" && method !== "PUT" && method !== "POST" && method !== "DELETE") {
      return fail(405, errorXml("MethodNotAllowed", "The specified method is not allowed against this resource."))
    }
    const bucket = buckets.get(bucketName)

    if (req.headers.authorization !== undefined) {
      const verdict = verifySigV4(req, rawPath, rawQuery, secretOf, ["auto", ...(bucket?.options.location === undefined ? [] : [bucket.options.location.toLowerCase()])], Date.now())
      auth = verdict.ok ? `hmac:${verdict.accessKeyId}` : verdict.code
      if (!verdict.ok) return fail(verdict.status, verdict.body ?? "")
    }
    if (bucketName === "" || bucket === undefined) {
      return fail(404, errorXml("NoSuchBucket", "The specified bucket does not exist."))
    }
    const keyId = auth.startsWith("hmac:") ? auth.slice(5) : undefined
    const hasKey = keyId !== undefined && bucket.options.hmacKeys?.[keyId] !== undefined
    const mayRead = bucket.options.public === true || hasKey
    // allUsers gets objectViewer at most: writes need an HMAC key whose service account is objectAdmin.
    const mayWrite = hasKey && !(bucket.options.readOnlyHmacKeys ?? []).includes(keyId)
    if (!(isRead ? mayRead : mayWrite)) {
      const who = keyId ?? "Anonymous caller"
      const permission = isRead
        ? key === undefined ? "storage.objects.list" : "storage.objects.get"
        : method === "GET"
        ? key === undefined ? "storage.multipartUploads.list" : "storage.multipartUploads.listParts"
        : method === "DELETE" && query.uploadId === undefined ? "storage.objects.delete" : "storage.objects.create"
      return fail(
        403,
        errorXml("AccessDenied", "Access denied.", `${who} does not have ${permission} access to the Google Cloud Storage ${key === undefined ? "bucket" : "object"}. Permission '${permission}' denied on resource (or it may not exist).`)
      )
    }
    if (!isRead) return write(bucketName, bucket.objects, key, method, query, req, body ?? Buffer.alloc(0), send, fail, () => (bucket.sorted = undefined))

    if (key === undefined) {
      if (method === "HEAD") return send(200, { "content-type": "application/xml; charset=UTF-8" })
      bucket.sorted ??= [...bucket.objects.keys()].sort(byteOrder)
      return listing(bucketName, bucket.objects, bucket.sorted, bucket.options.nextMarker ?? "always", query, send, fail)
    }

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
    const header = (name: string) => {
      const v = req.headers[name]
      return Array.isArray(v) ? v.join(",") : v
    }
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
    const entity: Record<string, string | Array<string>> = {
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

  type Send = (status: number, headers: Record<string, string | Array<string>>, body?: string | Buffer) => void

  const makeObject = (
    key: string,
    data: Buffer,
    contentType: string | undefined,
    metadata: Readonly<Record<string, string>>,
    fixed: FixedMetadata,
    updated = new Date(),
    composite?: GcsObject["composite"]
  ): GcsObject => {
    generationClock = Math.max(generationClock + 1, Date.now() * 1000)
    return {
      key,
      bytes: data,
      contentType: contentType ?? "application/octet-stream",
      metadata,
      generation: String(generationClock),
      metageneration: "1",
      updated: new Date(Math.floor(updated.getTime())),
      md5: createHash("md5").update(data).digest(),
      crc32c: crc32c(data),
      ...fixed,
      ...(composite === undefined ? {} : { composite })
    }
  }

  const uploads = new Map<string, Upload>()
  let uploadSequence = 0

  const maxOf = (raw: string | undefined, fallback: number, fail: Fail, name: string): number | undefined => {
    if (raw === undefined) return fallback
    if (!/^\d+$/.test(raw)) {
      fail(400, errorXml("InvalidArgument", "Invalid argument.", `Invalid ${name}: ${raw}`))
      return undefined
    }
    return Math.min(Number(raw), 1000)
  }

  /** `GET /{bucket}/{object}?uploadId=U`: the parts ascending, `max-parts` (≤ 1000) after `part-number-marker`. */
  const listParts = (bucketName: string, key: string, uploadId: string, upload: Upload, query: Record<string, string>, send: Send, fail: Fail) => {
    const maxParts = maxOf(query["max-parts"], 1000, fail, "max-parts")
    if (maxParts === undefined) return
    const marker = Number(query["part-number-marker"] ?? 0) || 0
    const numbers = [...upload.parts.keys()].filter((n) => n > marker).sort((a, b) => a - b)
    const page = numbers.slice(0, maxParts)
    const truncated = numbers.length > page.length
    const parts = page.map((n) => {
      const part = upload.parts.get(n)!
      return `<Part><PartNumber>${n}</PartNumber><LastModified>${part.lastModified.toISOString()}</LastModified><ETag>${
        escapeXml(`"${part.md5.toString("hex")}"`)
      }</ETag><Size>${part.bytes.length}</Size></Part>`
    })
    send(200, { "content-type": "application/xml; charset=UTF-8" }, `${XML_DECLARATION}<ListPartsResult xmlns='${NAMESPACE}'><Bucket>${escapeXml(bucketName)}</Bucket><Key>${
      escapeXml(key)
    }</Key><UploadId>${escapeXml(uploadId)}</UploadId><StorageClass>STANDARD</StorageClass><PartNumberMarker>${marker}</PartNumberMarker>${
      truncated ? `<NextPartNumberMarker>${page.at(-1)}</NextPartNumberMarker>` : ""
    }<MaxParts>${maxParts}</MaxParts><IsTruncated>${truncated}</IsTruncated>${parts.join("")}</ListPartsResult>`)
  }

  /**
   * `GET /{bucket}?uploads`: open uploads under `prefix`, by key (byte order) then initiation, `max-uploads`
   * (≤ 1000) after `key-marker` (and, for that key, after `upload-id-marker`).
   */
  const listUploads = (bucketName: string, query: Record<string, string>, send: Send, fail: Fail) => {
    const maxUploads = maxOf(query["max-uploads"], 1000, fail, "max-uploads")
    if (maxUploads === undefined) return
    const prefix = query.prefix ?? ""
    const keyMarker = query["key-marker"]
    const uploadIdMarker = query["upload-id-marker"]
    const all = [...uploads.entries()]
      .filter(([, u]) => u.bucket === bucketName && u.key.startsWith(prefix))
      .sort(([, a], [, b]) => byteOrder(a.key, b.key) || a.sequence - b.sequence)
    let from = 0
    if (keyMarker !== undefined) {
      const markerUpload = uploadIdMarker === undefined ? undefined : uploads.get(uploadIdMarker)
      from = all.findIndex(([, u]) => {
        const c = byteOrder(u.key, keyMarker)
        return c > 0 || (c === 0 && markerUpload !== undefined && markerUpload.key === keyMarker && u.sequence > markerUpload.sequence)
      })
      if (from < 0) from = all.length
    }
    const page = all.slice(from, from + maxUploads)
    const truncated = from + page.length < all.length
    const last = page.at(-1)
    const entries = page.map(([id, u]) =>
      `<Upload><Key>${escapeXml(u.key)}</Key><UploadId>${escapeXml(id)}</UploadId><StorageClass>STANDARD</StorageClass><Initiated>${u.initiated.toISOString()}</Initiated></Upload>`
    )
    send(200, { "content-type": "application/xml; charset=UTF-8" }, `${XML_DECLARATION}<ListMultipartUploadsResult xmlns='${NAMESPACE}'><Bucket>${escapeXml(bucketName)}</Bucket><KeyMarker>${
      escapeXml(keyMarker ?? "")
    }</KeyMarker><UploadIdMarker>${escapeXml(uploadIdMarker ?? "")}</UploadIdMarker>${
      truncated && last !== undefined ? `<NextKeyMarker>${escapeXml(last[1].key)}</NextKeyMarker><NextUploadIdMarker>${escapeXml(last[0])}</NextUploadIdMarker>` : ""
    }<Prefix>${escapeXml(prefix)}</Prefix><MaxUploads>${maxUploads}</MaxUploads><IsTruncated>${truncated}</IsTruncated>${entries.join("")}</ListMultipartUploadsResult>`)
  }

  type Fail = (status: number, xml: string) => void

  /** The object's metadata from a write's headers: `x-goog-meta-*` or its interoperable `x-amz-meta-*`. */
  const metadataOf = (req: IncomingMessage) => {
    const metadata: Record<string, string> = {}
    for (const [name, value] of Object.entries(req.headers)) {
      const m = /^x-(?:goog|amz)-meta-(.+)$/.exec(name)
      if (m !== null && value !== undefined) metadata[m[1]!] = Array.isArray(value) ? value.join(",") : value
    }
    const one = (name: string) => {
      const v = req.headers[name]
      return Array.isArray(v) ? v.join(",") : v
    }
    const fixed: FixedMetadata = {
      ...(one("cache-control") === undefined ? {} : { cacheControl: one("cache-control")! }),
      ...(one("content-disposition") === undefined ? {} : { contentDisposition: one("content-disposition")! }),
      ...(one("content-encoding") === undefined ? {} : { contentEncoding: one("content-encoding")! }),
      ...(one("content-language") === undefined ? {} : { contentLanguage: one("content-language")! })
    }
    return { metadata, fixed, contentType: one("content-type") }
  }

  /** `x-goog-if-generation-match` / `x-goog-if-metageneration-match` against the live object: a failure answer, or undefined. */
  const generationPreconditions = (req: IncomingMessage, live: GcsObject | undefined, fail: Fail): boolean => {
    for (const [header, field] of [["x-goog-if-generation-match", "generation"], ["x-goog-if-metageneration-match", "metageneration"]] as const) {
      const raw = req.headers[header]
      if (raw === undefined) continue
      const wanted = String(raw).trim()
      if (!/^\d+$/.test(wanted)) {
        fail(400, errorXml("InvalidArgument", "Invalid argument.", `Invalid value for ${header}: ${wanted}`))
        return false
      }
      const holds = wanted === "0" && field === "generation" ? live === undefined : live !== undefined && live[field] === wanted
      if (!holds) {
        fail(412, errorXml("PreconditionFailed", "At least one of the pre-conditions you specified did not hold.", `Precondition failed: ${header}`))
        return false
      }
    }
    return true
  }

  const written = (object: GcsObject): Record<string, string | Array<string>> => ({
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

  const XML = { "content-type": "application/xml; charset=UTF-8" }

  /** PUT (upload, copy, part), POST (initiate, complete), DELETE (object, upload), already authorised. */
  const write = (
    bucketName: string,
    objects: Map<string, GcsObject>,
    key: string | undefined,
    method: string,
    query: Record<string, string>,
    req: IncomingMessage,
    body: Buffer,
    send: Send,
    fail: Fail,
    changed: () => void
  ): void => {
    const header = (name: string) => {
      const v = req.headers[name]
      return Array.isArray(v) ? v.join(",") : v
    }
    /** A GCS header, or its x-amz- spelling (HMAC interoperability). */
    const goog = (name: string) => header(`x-goog-${name}`) ?? header(`x-amz-${name}`)
    if (key === undefined && method === "GET") return listUploads(bucketName, query, send, fail)
    if (key === undefined) {
      if (method === "POST" && "delete" in query) {
        return fail(501, errorXml("NotImplemented", "A header or query you provided requested a function that is not implemented.", "POST ?delete is not supported."))
      }
      return fail(405, errorXml("MethodNotAllowed", "The specified method is not allowed against this resource."))
    }
    const live = objects.get(key)
    const uploadId = query.uploadId
    const upload = uploadId === undefined ? undefined : uploads.get(uploadId)
    const noSuchUpload = () =>
      fail(404, errorXml("NoSuchUpload", "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.", `No such upload: ${uploadId}`))
    if (uploadId !== undefined && (upload === undefined || upload.bucket !== bucketName || upload.key !== key)) return noSuchUpload()

    if (method === "GET") {
      if (upload === undefined) return fail(400, errorXml("InvalidArgument", "Invalid argument.", "GET object with a query expects ?uploadId."))
      return listParts(bucketName, key, uploadId!, upload, query, send, fail)
    }

    if (method === "DELETE") {
      if (upload !== undefined) {
        uploads.delete(uploadId!)
        return send(204, {})
      }
      if (!generationPreconditions(req, live, fail)) return
      if (live === undefined) return fail(404, errorXml("NoSuchKey", "The specified key does not exist.", `No such object: ${bucketName}/${key}`))
      objects.delete(key)
      changed()
      return send(204, {})
    }

    if (method === "POST" && "uploads" in query) {
      const { metadata, fixed, contentType } = metadataOf(req)
      const id = `ABPnzm${randomBytes(36).toString("base64url")}`
      uploads.set(id, {
        bucket: bucketName,
        key,
        contentType: contentType ?? "application/octet-stream",
        metadata,
        fixed,
        initiated: new Date(),
        sequence: uploadSequence++,
        parts: new Map()
      })
      return send(200, XML, `${XML_DECLARATION}<InitiateMultipartUploadResult xmlns='${NAMESPACE}'><Bucket>${escapeXml(bucketName)}</Bucket><Key>${escapeXml(key)}</Key><UploadId>${id}</UploadId></InitiateMultipartUploadResult>`)
    }

    if (method === "POST" && upload !== undefined) {
      const numbers = xmlTexts(body.toString("utf8"), "PartNumber").map(Number)
      const etags = xmlTexts(body.toString("utf8"), "ETag").map((e) => e.trim().replace(/^"+|"+$/g, ""))
      if (numbers.length === 0 || numbers.length !== etags.length) {
        return fail(400, errorXml("MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema."))
      }
      const chosen: Array<Part> = []
      for (const [i, n] of numbers.entries()) {
        if (i > 0 && n <= numbers[i - 1]!) {
          return fail(400, errorXml("InvalidPartOrder", "The list of parts was not in ascending order. The parts list must be specified in order by part number."))
        }
        const part = upload.parts.get(n)
        if (part === undefined || part.md5.toString("hex") !== etags[i]) {
          return fail(400, errorXml("InvalidPart", "One or more of the specified parts could not be found. The part might not have been uploaded, or the specified entity tag might not have matched the part's entity tag."))
        }
        chosen.push(part)
      }
      if (chosen.slice(0, -1).some((p) => p.bytes.length < MIN_PART)) {
        return fail(400, errorXml("EntityTooSmall", "Your proposed upload is smaller than the minimum allowed object size."))
      }
      if (!generationPreconditions(req, live, fail)) return
      const etag = `"${createHash("md5").update(Buffer.concat(chosen.map((p) => p.md5))).digest("hex")}-${chosen.length}"`
      const object = makeObject(key, Buffer.concat(chosen.map((p) => p.bytes)), upload.contentType, upload.metadata, upload.fixed, undefined, { etag, componentCount: chosen.length })
      uploads.delete(uploadId!)
      objects.set(key, object)
      changed()
      return send(200, { ...XML, "x-goog-generation": object.generation, "x-goog-metageneration": object.metageneration }, `${XML_DECLARATION}<CompleteMultipartUploadResult xmlns='${NAMESPACE}'><Location>http://storage.googleapis.com/${escapeXml(bucketName)}/${escapeXml(uriEncode(key, true))}</Location><Bucket>${escapeXml(bucketName)}</Bucket><Key>${escapeXml(key)}</Key><ETag>${escapeXml(etag)}</ETag></CompleteMultipartUploadResult>`)
    }

    if (method === "POST") return fail(400, errorXml("InvalidArgument", "Invalid argument.", "POST object expects ?uploads or ?uploadId."))

    // PUT
    const md5 = header("content-md5")
    if (md5 !== undefined && createHash("md5").update(body).digest("base64") !== md5.trim()) {
      return fail(400, errorXml("BadDigest", "The MD5 you specified did not match what we received."))
    }
    if (upload !== undefined) {
      if (goog("copy-source") !== undefined) {
        // The XML API's multipart uploads take parts as bodies only: no UploadPartCopy.
        return fail(501, errorXml("NotImplemented", "A header or query you provided requested a function that is not implemented.", "UploadPartCopy (x-goog-copy-source on a part) is not supported."))
      }
      const partNumber = Number(query.partNumber)
      if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > MAX_PART_NUMBER) {
        return fail(400, errorXml("InvalidArgument", "Invalid argument.", `Invalid partNumber: ${query.partNumber}`))
      }
      const part: Part = { bytes: body, md5: createHash("md5").update(body).digest(), lastModified: new Date() }
      upload.parts.set(partNumber, part)
      return send(200, { etag: `"${part.md5.toString("hex")}"`, "x-goog-hash": `md5=${part.md5.toString("base64")}`, "content-type": "text/html; charset=UTF-8" })
    }

    const copySource = goog("copy-source")
    if (copySource !== undefined) {
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
        ? makeObject(key, source.bytes, given.contentType, given.metadata, given.fixed, undefined, source.composite)
        : makeObject(key, source.bytes, source.contentType, source.metadata, {
          ...(source.cacheControl === undefined ? {} : { cacheControl: source.cacheControl }),
          ...(source.contentDisposition === undefined ? {} : { contentDisposition: source.contentDisposition }),
          ...(source.contentEncoding === undefined ? {} : { contentEncoding: source.contentEncoding }),
          ...(source.contentLanguage === undefined ? {} : { contentLanguage: source.contentLanguage })
        }, undefined, source.composite)
      objects.set(key, object)
      changed()
      return send(200, { ...XML, "x-goog-generation": object.generation, "x-goog-metageneration": object.metageneration }, `${XML_DECLARATION}<CopyObjectResult><LastModified>${object.updated.toISOString()}</LastModified><ETag>${escapeXml(etagOf(object))}</ETag></CopyObjectResult>`)
    }

    if (!generationPreconditions(req, live, fail)) return
    const { metadata, fixed, contentType } = metadataOf(req)
    const object = makeObject(key, body, contentType, metadata, fixed)
    objects.set(key, object)
    changed()
    return send(200, written(object))
  }

  const listing = (
    bucketName: string,
    objects: Map<string, GcsObject>,
    sorted: ReadonlyArray<string>,
    nextMarkerMode: "always" | "with-delimiter",
    query: Record<string, string>,
    send: Send,
    fail: (status: number, xml: string) => void
  ) => {
    const v2 = query["list-type"] === "2"
    if (query["list-type"] !== undefined && query["list-type"] !== "1" && !v2) {
      return fail(400, errorXml("InvalidArgument", "Invalid argument.", `Invalid list-type: ${query["list-type"]}`))
    }
    const prefix = query.prefix ?? ""
    const delimiter = query.delimiter ?? ""
    const maxKeysRaw = query["max-keys"]
    if (maxKeysRaw !== undefined && !/^\d+$/.test(maxKeysRaw)) {
      return fail(400, errorXml("InvalidArgument", "Invalid argument.", `Invalid max-keys: ${maxKeysRaw}`))
    }
    const maxKeys = Math.min(maxKeysRaw === undefined ? MAX_KEYS : Number(maxKeysRaw), MAX_KEYS)
    const urlEncoded = query["encoding-type"] === "url"
    const enc = (text: string) => escapeXml(urlEncoded ? uriEncode(text, true) : text)
    let after: string | undefined
    if (v2) {
      const token = query["continuation-token"]
      if (token !== undefined) {
        const decoded = Buffer.from(token, "base64url").toString("utf8")
        if (!decoded.startsWith("gcs1:")) return fail(400, errorXml("InvalidArgument", "Invalid argument.", "Invalid continuation token"))
        after = decoded.slice(5)
      } else {
        after = query["start-after"]
      }
    } else {
      after = query.marker
    }

    // The first name after the marker (binary search), then names while they have the prefix.
    let lo = 0
    let hi = sorted.length
    const from = after !== undefined && byteOrder(after, prefix) > 0 ? after : prefix
    const inclusive = from === prefix && (after === undefined || byteOrder(after, prefix) < 0)
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      const c = byteOrder(sorted[mid]!, from)
      if (c < 0 || (c === 0 && !inclusive)) lo = mid + 1
      else hi = mid
    }
    const keys: Array<string> = []
    for (let i = lo; i < sorted.length && sorted[i]!.startsWith(prefix); i++) keys.push(sorted[i]!)
    const contents: Array<GcsObject> = []
    const prefixes: Array<string> = []
    let last: string | undefined
    let truncated = false
    for (const k of keys) {
      const cut = delimiter === "" ? -1 : k.indexOf(delimiter, prefix.length)
      const rolled = cut < 0 ? undefined : k.slice(0, cut + delimiter.length)
      if (rolled !== undefined && (rolled === prefixes.at(-1) || rolled === after)) continue
      if (contents.length + prefixes.length >= maxKeys) {
        truncated = true
        break
      }
      if (rolled !== undefined) {
        prefixes.push(rolled)
        last = rolled
      } else {
        contents.push(objects.get(k)!)
        last = k
      }
    }

    const parts: Array<string> = [XML_DECLARATION, `<ListBucketResult xmlns='${NAMESPACE}'>`, `<Name>${escapeXml(bucketName)}</Name>`]
    parts.push(`<Prefix>${enc(prefix)}</Prefix>`)
    if (v2) {
      if (query["continuation-token"] !== undefined) parts.push(`<ContinuationToken>${escapeXml(query["continuation-token"])}</ContinuationToken>`)
      if (query["start-after"] !== undefined) parts.push(`<StartAfter>${enc(query["start-after"])}</StartAfter>`)
      parts.push(`<KeyCount>${contents.length + prefixes.length}</KeyCount>`)
    } else {
      parts.push(`<Marker>${enc(query.marker ?? "")}</Marker>`)
    }
    if (truncated && last !== undefined) {
      if (v2) {
        parts.push(`<NextContinuationToken>${Buffer.from(`gcs1:${last}`).toString("base64url")}</NextContinuationToken>`)
      } else if (nextMarkerMode === "always" || delimiter !== "") {
        parts.push(`<NextMarker>${enc(last)}</NextMarker>`)
      }
    }
    if (delimiter !== "") parts.push(`<Delimiter>${enc(delimiter)}</Delimiter>`)
    if (urlEncoded) parts.push("<EncodingType>url</EncodingType>")
    parts.push(`<IsTruncated>${truncated}</IsTruncated>`)
    for (const o of contents) {
      parts.push(
        `<Contents><Key>${enc(o.key)}</Key><Generation>${o.generation}</Generation><MetaGeneration>${o.metageneration}</MetaGeneration><LastModified>${o.updated.toISOString()}</LastModified><ETag>${
          escapeXml(etagOf(o))
        }</ETag><Size>${o.bytes.length}</Size></Contents>`
      )
    }
    for (const p of prefixes) parts.push(`<CommonPrefixes><Prefix>${enc(p)}</Prefix></CommonPrefixes>`)
    parts.push("</ListBucketResult>")
    send(200, { "content-type": "application/xml; charset=UTF-8", "cache-control": "private, max-age=0" }, parts.join(""))
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
      const object = makeObject(key, data, putOptions.contentType, putOptions.metadata ?? {}, {}, putOptions.updated)
      const bucket = bucketOf(bucketName)
      bucket.objects.set(key, object)
      bucket.sorted = undefined
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
