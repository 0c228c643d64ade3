import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { MalformedXML } from "./errors.js"
import { parseXml, type XmlElement } from "./strictXml.js"
import { element, S3_NAMESPACE, XML_DECLARATION } from "./xml.js"

/** A part named in CompleteMultipartUpload, and a key's outcome in DeleteObjects: what the XML carries. */
export interface CompletedPart {
  readonly partNumber: number
  /** Quoted or not, as the client sent it. */
  readonly etag: string
}

export interface DeleteOutcome {
  readonly key: string
  /** Undefined when deleted (or already absent, as S3 answers); else S3's code and message. */
  readonly error: { readonly code: string; readonly message: string } | undefined
}

/** Elements that may repeat: always arrays, so one entry reads like many. */
const REPEATED = new Set(["Object", "Part"])

/**
 * An element as the Schemas below read it: a leaf is its text (untrimmed: keys may begin or end with
 * spaces; never a number: "0012" stays a string), anything else an object of its children. Only `depth`
 * levels are opened (the Schemas need three), so no nesting can exhaust the call stack.
 */
const valueOf = (e: XmlElement, depth: number): unknown => {
  if (e.children.length === 0) return e.text
  const fields = new Map<string, Array<unknown>>()
  for (const child of depth === 0 ? [] : e.children) {
    const values = fields.get(child.name) ?? []
    values.push(valueOf(child, depth - 1))
    fields.set(child.name, values)
  }
  // A repeated element that may not repeat stays an array, which its Schema refuses. fromEntries defines
  // own properties: a `__proto__` element is a field like any other.
  return Object.fromEntries([...fields].map(([name, values]) => [name, REPEATED.has(name) || values.length > 1 ? values : values[0]]))
}

const parse = (text: string) =>
  Either.match(parseXml(text), {
    onLeft: () => Either.left(new MalformedXML({ message: "The XML you provided was not well-formed" })),
    onRight: (root) => Either.right({ [root.name]: valueOf(root, 3) })
  })

const DeleteRequest = Schema.Struct({
  Delete: Schema.Struct({
    Quiet: Schema.optional(Schema.String),
    Object: Schema.Array(Schema.Struct({ Key: Schema.String }))
  })
})

/** A DeleteObjects body: 1 to 1000 keys (S3's limits), and whether the answer is quiet. */
export const parseDeleteRequest = (text: string) =>
  Effect.flatMap(parse(text), (doc) =>
    Either.match(Schema.decodeUnknownEither(DeleteRequest)(doc, { onExcessProperty: "ignore" }), {
      onLeft: () => Effect.fail(new MalformedXML({ message: "The XML you provided did not validate against the schema" })),
      onRight: ({ Delete }) =>
        Delete.Object.length === 0 || Delete.Object.length > 1000
          ? Effect.fail(new MalformedXML({ message: "A Delete request holds 1 to 1000 keys" }))
          : Effect.succeed({ keys: Delete.Object.map((o) => o.Key), quiet: Delete.Quiet?.trim().toLowerCase() === "true" })
    }))

const CompleteRequest = Schema.Struct({
  CompleteMultipartUpload: Schema.Struct({
    Part: Schema.Array(Schema.Struct({ PartNumber: Schema.NumberFromString, ETag: Schema.String }))
  })
})

/** A CompleteMultipartUpload body: the parts, which must be in ascending order. */
export const parseCompleteRequest = (text: string) =>
  Effect.flatMap(parse(text), (doc) =>
    Either.match(Schema.decodeUnknownEither(CompleteRequest)(doc, { onExcessProperty: "ignore" }), {
      onLeft: () => Effect.fail(new MalformedXML({ message: "The XML you provided did not validate against the schema" })),
      onRight: ({ CompleteMultipartUpload }): Effect.Effect<ReadonlyArray<CompletedPart>, MalformedXML> => {
        const parts = CompleteMultipartUpload.Part.map((p) => ({ partNumber: p.PartNumber, etag: p.ETag.trim() }))
        const ascending = parts.every((p, i) => Number.isInteger(p.partNumber) && (i === 0 || p.partNumber > parts[i - 1]!.partNumber))
        return parts.length > 0 && ascending
          ? Effect.succeed(parts)
          : Effect.fail(new MalformedXML({ message: "Parts must be listed in ascending order of part number" }))
      }
    }))

const document = (root: string, inner: string) => `${XML_DECLARATION}<${root} xmlns="${S3_NAMESPACE}">${inner}</${root}>`

export const initiateMultipartXml = (bucket: string, key: string, uploadId: string) =>
  document("InitiateMultipartUploadResult", element("Bucket", bucket) + element("Key", key) + element("UploadId", uploadId))

export const completeMultipartXml = (location: string, bucket: string, key: string, etag: string) =>
  document(
    "CompleteMultipartUploadResult",
    element("Location", location) + element("Bucket", bucket) + element("Key", key) + element("ETag", etag)
  )

export const copyObjectXml = (etag: string, lastModified: Date) =>
  document("CopyObjectResult", element("LastModified", lastModified.toISOString()) + element("ETag", etag))

/** DeleteResult: Deleted entries (left out when quiet), then Error entries (always reported). */
export const deleteResultXml = (outcomes: ReadonlyArray<DeleteOutcome>, quiet: boolean) =>
  document(
    "DeleteResult",
    outcomes.filter((o) => o.error === undefined && !quiet).map((o) => `<Deleted>${element("Key", o.key)}</Deleted>`).join("")
      + outcomes.flatMap((o) =>
        o.error === undefined
          ? []
          : [`<Error>${element("Key", o.key)}${element("Code", o.error.code)}${element("Message", o.error.message)}</Error>`]
      ).join("")
  )

/** An element only when there is a value. */
const optional = (name: string, text: string | undefined) => (text === undefined ? "" : element(name, text))

export interface ListPartsView {
  readonly bucket: string
  /** In the client's namespace (`{product}/{key}`). */
  readonly key: string
  readonly uploadId: string
  readonly partNumberMarker: number
  readonly nextPartNumberMarker: number | undefined
  readonly maxParts: number
  readonly isTruncated: boolean
  readonly parts: ReadonlyArray<{ readonly partNumber: number; readonly lastModified: Date; readonly etag: string; readonly size: number }>
}

/** ListPartsResult, element order as S3 writes it. */
export const listPartsXml = (view: ListPartsView) =>
  document(
    "ListPartsResult",
    element("Bucket", view.bucket) + element("Key", view.key) + element("UploadId", view.uploadId)
      + `<StorageClass>STANDARD</StorageClass>`
      + `<PartNumberMarker>${view.partNumberMarker}</PartNumberMarker>`
      + optional("NextPartNumberMarker", view.nextPartNumberMarker === undefined ? undefined : String(view.nextPartNumberMarker))
      + `<MaxParts>${view.maxParts}</MaxParts><IsTruncated>${view.isTruncated}</IsTruncated>`
      + view.parts.map((p) =>
        `<Part><PartNumber>${p.partNumber}</PartNumber><LastModified>${p.lastModified.toISOString()}</LastModified>`
        + `${element("ETag", p.etag)}<Size>${p.size}</Size></Part>`
      ).join("")
  )

export interface ListUploadsView {
  readonly bucket: string
  /** Everything below in the client's namespace; `encode` applied (encoding-type=url) when asked. */
  readonly keyMarker: string
  readonly uploadIdMarker: string
  readonly nextKeyMarker: string | undefined
  readonly nextUploadIdMarker: string | undefined
  readonly prefix: string
  readonly maxUploads: number
  readonly isTruncated: boolean
  readonly encodingType: string | undefined
  readonly uploads: ReadonlyArray<{ readonly key: string; readonly uploadId: string; readonly initiated: Date }>
}

/** ListMultipartUploadsResult, element order as S3 writes it; keys, prefix and markers URL-encoded for `encoding-type=url`. */
export const listUploadsXml = (view: ListUploadsView, encode: (text: string) => string) =>
  document(
    "ListMultipartUploadsResult",
    element("Bucket", view.bucket) + element("KeyMarker", encode(view.keyMarker)) + element("UploadIdMarker", view.uploadIdMarker)
      + optional("NextKeyMarker", view.nextKeyMarker === undefined ? undefined : encode(view.nextKeyMarker))
      + optional("NextUploadIdMarker", view.nextUploadIdMarker)
      + optional("EncodingType", view.encodingType)
      + element("Prefix", encode(view.prefix))
      + `<MaxUploads>${view.maxUploads}</MaxUploads><IsTruncated>${view.isTruncated}</IsTruncated>`
      + view.uploads.map((u) =>
        `<Upload>${element("Key", encode(u.key))}${element("UploadId", u.uploadId)}`
        + `<StorageClass>STANDARD</StorageClass><Initiated>${u.initiated.toISOString()}</Initiated></Upload>`
      ).join("")
  )

export const copyPartXml = (etag: string, lastModified: Date) =>
  document("CopyPartResult", element("LastModified", lastModified.toISOString()) + element("ETag", etag))
