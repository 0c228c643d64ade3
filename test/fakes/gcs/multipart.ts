/**
 * XML API multipart uploads: initiate, upload a part, complete (a composite object), abort, and the two
 * listings (one upload's parts, a bucket's open uploads). Routing and authorisation are the caller's.
 */
import { createHash, randomBytes } from "node:crypto"
import { byteOrder, type FixedMetadata, type GcsObject, type NewObject, storeObject } from "./bucket.js"
import type { Exchange, Fail } from "./exchange.js"
import { metadataOf } from "./metadata.js"
import { generationPreconditions } from "./preconditions.js"
import { uriEncode } from "./uri.js"
import { errorXml, escapeXml, NAMESPACE, XML_CONTENT, XML_DECLARATION, xmlTexts } from "./xml.js"

const MIN_PART = 5 * 1024 * 1024
const MAX_PART_NUMBER = 10_000

export interface Upload {
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

export interface MultipartUploads {
  readonly get: (uploadId: string) => Upload | undefined
  readonly initiate: (x: Exchange, key: string) => void
  readonly uploadPart: (x: Exchange, upload: Upload, body: Buffer) => void
  readonly complete: (x: Exchange, key: string, uploadId: string, upload: Upload, body: Buffer, live: GcsObject | undefined) => void
  readonly abort: (x: Exchange, uploadId: string) => void
  readonly listParts: (x: Exchange, key: string, uploadId: string, upload: Upload) => void
  readonly listUploads: (x: Exchange) => void
}

const maxOf = (raw: string | undefined, fallback: number, fail: Fail, name: string): number | undefined => {
  if (raw === undefined) return fallback
  if (!/^\d+$/.test(raw)) {
    fail(400, errorXml("InvalidArgument", "Invalid argument.", `Invalid ${name}: ${raw}`))
    return undefined
  }
  return Math.min(Number(raw), 1000)
}

/** The uploads open on one server, across its buckets; completed objects are stamped by `newObject`. */
export const multipartUploads = (newObject: NewObject): MultipartUploads => {
  const uploads = new Map<string, Upload>()
  let uploadSequence = 0

  return {
    get: (uploadId) => uploads.get(uploadId),

    initiate: ({ req, bucketName, send }, key) => {
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
      send(200, XML_CONTENT, `${XML_DECLARATION}<InitiateMultipartUploadResult xmlns='${NAMESPACE}'><Bucket>${escapeXml(bucketName)}</Bucket><Key>${escapeXml(key)}</Key><UploadId>${id}</UploadId></InitiateMultipartUploadResult>`)
    },

    uploadPart: ({ query, send, fail }, upload, body) => {
      const partNumber = Number(query.partNumber)
      if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > MAX_PART_NUMBER) {
        return fail(400, errorXml("InvalidArgument", "Invalid argument.", `Invalid partNumber: ${query.partNumber}`))
      }
      const part: Part = { bytes: body, md5: createHash("md5").update(body).digest(), lastModified: new Date() }
      upload.parts.set(partNumber, part)
      send(200, { etag: `"${part.md5.toString("hex")}"`, "x-goog-hash": `md5=${part.md5.toString("base64")}`, "content-type": "text/html; charset=UTF-8" })
    },

    complete: ({ req, bucketName, bucket, send, fail }, key, uploadId, upload, body, live) => {
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
      const object = newObject(key, Buffer.concat(chosen.map((p) => p.bytes)), upload.contentType, upload.metadata, upload.fixed, undefined, { etag, componentCount: chosen.length })
      uploads.delete(uploadId)
      storeObject(bucket, object)
      send(200, { ...XML_CONTENT, "x-goog-generation": object.generation, "x-goog-metageneration": object.metageneration }, `${XML_DECLARATION}<CompleteMultipartUploadResult xmlns='${NAMESPACE}'><Location>http://storage.googleapis.com/${escapeXml(bucketName)}/${escapeXml(uriEncode(key, true))}</Location><Bucket>${escapeXml(bucketName)}</Bucket><Key>${escapeXml(key)}</Key><ETag>${escapeXml(etag)}</ETag></CompleteMultipartUploadResult>`)
    },

    abort: ({ send }, uploadId) => {
      uploads.delete(uploadId)
      send(204, {})
    },

    /** `GET /{bucket}/{object}?uploadId=U`: the parts ascending, `max-parts` (≤ 1000) after `part-number-marker`. */
    listParts: ({ bucketName, query, send, fail }, key, uploadId, upload) => {
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
      send(200, XML_CONTENT, `${XML_DECLARATION}<ListPartsResult xmlns='${NAMESPACE}'><Bucket>${escapeXml(bucketName)}</Bucket><Key>${
        escapeXml(key)
      }</Key><UploadId>${escapeXml(uploadId)}</UploadId><StorageClass>STANDARD</StorageClass><PartNumberMarker>${marker}</PartNumberMarker>${
        truncated ? `<NextPartNumberMarker>${page.at(-1)}</NextPartNumberMarker>` : ""
      }<MaxParts>${maxParts}</MaxParts><IsTruncated>${truncated}</IsTruncated>${parts.join("")}</ListPartsResult>`)
    },

    /**
     * `GET /{bucket}?uploads`: open uploads under `prefix`, by key (byte order) then initiation, `max-uploads`
     * (≤ 1000) after `key-marker` (and, for that key, after `upload-id-marker`).
     */
    listUploads: ({ bucketName, query, send, fail }) => {
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
      send(200, XML_CONTENT, `${XML_DECLARATION}<ListMultipartUploadsResult xmlns='${NAMESPACE}'><Bucket>${escapeXml(bucketName)}</Bucket><KeyMarker>${
        escapeXml(keyMarker ?? "")
      }</KeyMarker><UploadIdMarker>${escapeXml(uploadIdMarker ?? "")}</UploadIdMarker>${
        truncated && last !== undefined ? `<NextKeyMarker>${escapeXml(last[1].key)}</NextKeyMarker><NextUploadIdMarker>${escapeXml(last[0])}</NextUploadIdMarker>` : ""
      }<Prefix>${escapeXml(prefix)}</Prefix><MaxUploads>${maxUploads}</MaxUploads><IsTruncated>${truncated}</IsTruncated>${entries.join("")}</ListMultipartUploadsResult>`)
    }
  }
}
