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
 * Not modelled: versions (`generation=` reads), writes over HTTP, composite objects, transcoding, V2 signing.
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
}

export interface GcsBucketOptions {
  /** Anonymous callers may read and list (allUsers has storage.objectViewer). */
  readonly public?: boolean
  /** HMAC keys that may read this bucket: access key id → secret. */
  readonly hmacKeys?: Readonly<Record<string, string>>
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

const etagOf = (object: GcsObject) => `"${object.md5.toString("hex")}"`

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

  const handle = (req: IncomingMessage, res: ServerResponse) => {
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

    if (method !== "GET" && method !== "HEAD") {
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
    const mayRead = bucket.options.public === true ||
      (auth.startsWith("hmac:") && bucket.options.hmacKeys?.[auth.slice(5)] !== undefined)
    if (!mayRead) {
      const who = auth.startsWith("hmac:") ? `${auth.slice(5)}` : "Anonymous caller"
      const permission = key === undefined ? "storage.objects.list" : "storage.objects.get"
      return fail(
        403,
        errorXml("AccessDenied", "Access denied.", `${who} does not have ${permission} access to the Google Cloud Storage ${key === undefined ? "bucket" : "object"}. Permission '${permission}' denied on resource (or it may not exist).`)
      )
    }

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
      "cache-control": bucket.options.public === true ? "public, max-age=3600" : "private, max-age=0",
      expires: new Date(Date.now() + (bucket.options.public === true ? 3600_000 : 0)).toUTCString(),
      "x-goog-stored-content-encoding": "identity",
      "x-goog-stored-content-length": String(size),
      "x-goog-hash": [`crc32c=${object.crc32c.toString("base64")}`, `md5=${object.md5.toString("base64")}`],
      "x-goog-storage-class": "STANDARD"
    }
    for (const [name, value] of Object.entries(object.metadata)) entity[`x-goog-meta-${name.toLowerCase()}`] = value
    if (range === "ignore") return send(200, entity, object.bytes)
    return send(206, { ...entity, "content-range": `bytes ${range.start}-${range.end}/${size}` }, object.bytes.subarray(range.start, range.end + 1))
  }

  type Send = (status: number, headers: Record<string, string | Array<string>>, body?: string | Buffer) => void

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

  const server = createServer((req, res) => {
    req.resume()
    try {
      handle(req, res)
    } catch (error) {
      res.writeHead(500, { "content-type": "application/xml; charset=UTF-8" })
      res.end(errorXml("InternalError", `We encountered an internal error: ${String(error)}`))
    }
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
      generationClock = Math.max(generationClock + 1, Date.now() * 1000)
      const updated = putOptions.updated ?? new Date()
      const object: GcsObject = {
        key,
        bytes: data,
        contentType: putOptions.contentType ?? "application/octet-stream",
        metadata: putOptions.metadata ?? {},
        generation: String(generationClock),
        metageneration: "1",
        updated: new Date(Math.floor(updated.getTime())),
        md5: createHash("md5").update(data).digest(),
        crc32c: crc32c(data)
      }
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
