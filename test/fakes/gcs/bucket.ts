/** The in-memory model: buckets, their objects, and how an object is stamped when written. */
import { createHash } from "node:crypto"
import { crc32c } from "./crc32c.js"

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

/** The fixed-key metadata a write may set besides Content-Type. */
export interface FixedMetadata {
  readonly cacheControl?: string
  readonly contentDisposition?: string
  readonly contentEncoding?: string
  readonly contentLanguage?: string
}

export interface Bucket {
  readonly options: GcsBucketOptions
  readonly objects: Map<string, GcsObject>
  /** The bucket's names in byte order, rebuilt by the next listing after a change. */
  sorted: Array<string> | undefined
}

export const byteOrder = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b))

export const etagOf = (object: GcsObject) => object.composite?.etag ?? `"${object.md5.toString("hex")}"`

export const storeObject = (bucket: Bucket, object: GcsObject): void => {
  bucket.objects.set(object.key, object)
  bucket.sorted = undefined
}

export const removeObject = (bucket: Bucket, key: string): void => {
  bucket.objects.delete(key)
  bucket.sorted = undefined
}

export type NewObject = (
  key: string,
  data: Buffer,
  contentType: string | undefined,
  metadata: Readonly<Record<string, string>>,
  fixed: FixedMetadata,
  updated?: Date,
  composite?: GcsObject["composite"]
) => GcsObject

/** Objects stamped from one generation clock (microseconds, strictly increasing), as GCS numbers generations. */
export const objectFactory = (): NewObject => {
  let generationClock = Date.now() * 1000
  return (key, data, contentType, metadata, fixed, updated = new Date(), composite) => {
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
}
