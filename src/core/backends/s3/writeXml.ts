import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { XMLParser } from "fast-xml-parser"
import type { PartsPage, UploadsPage } from "../ObjectStore.js"
import type { CompletedPart, DeleteOutcome } from "../../s3/writeXml.js"

/*
 * The small XML documents of S3's write API: the request bodies the proxy builds (Delete,
 * CompleteMultipartUpload) and the answers it reads (InitiateMultipartUploadResult, DeleteResult,
 * CopyObjectResult, CompleteMultipartUploadResult, ListPartsResult, ListMultipartUploadsResult,
 * CopyPartResult, Error). Off the read hot path, so a general parser reads
 * them; every answer is decoded by Schema at this boundary.
 */

const LISTS = new Set([
  "DeleteResult.Deleted", "DeleteResult.Error", "ListPartsResult.Part", "ListPartsResponse.Part", "ListMultipartUploadsResult.Upload"
])
const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  trimValues: false,
  ignoreDeclaration: true,
  isArray: (_name, jpath) => LISTS.has(String(jpath))
})

const parse = (xml: string): unknown => {
  const doc = Either.try(() => parser.parse(xml.trim()) as unknown)
  return Either.isRight(doc) ? doc.right : undefined
}

const NAMED: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&apos;" }

/**
 * Text for an XML element: markup characters as entities, and control characters (which a key may hold
 * but XML text may not) as character references, so whitespace such as `\r` survives the parser.
 */
export const escapeXml = (text: string): string =>
  Array.from(text, (c) => {
    const named = NAMED[c]
    if (named !== undefined) return named
    const code = c.charCodeAt(0)
    return code < 0x20 ? `&#x${code.toString(16)};` : c
  }).join("")

/** `DeleteObjects` body, verbose (Quiet false) so every key gets an answer. */
export const deleteBody = (keys: ReadonlyArray<string>): string =>
  `<?xml version="1.0" encoding="UTF-8"?><Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Quiet>false</Quiet>${
    keys.map((key) => `<Object><Key>${escapeXml(key)}</Key></Object>`).join("")
  }</Delete>`

/** An ETag quoted exactly once, as CompleteMultipartUpload expects it. */
export const quoteEtag = (etag: string): string => `"${etag.replace(/^"+|"+$/g, "")}"`

/** `CompleteMultipartUpload` body, parts in the order given (the caller's order; S3 checks it ascends). */
export const completeBody = (parts: ReadonlyArray<CompletedPart>): string =>
  `<?xml version="1.0" encoding="UTF-8"?><CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${
    parts.map((p) => `<Part><PartNumber>${p.partNumber}</PartNumber><ETag>${escapeXml(quoteEtag(p.etag))}</ETag></Part>`).join("")
  }</CompleteMultipartUpload>`

export interface BackendError {
  readonly code: string
  readonly message: string
}

const ErrorDocument = Schema.Struct({
  Error: Schema.Struct({ Code: Schema.String, Message: Schema.optional(Schema.String) })
})

const errorOf = (doc: unknown): BackendError | undefined => {
  const decoded = Schema.decodeUnknownEither(ErrorDocument)(doc)
  return Either.isRight(decoded) ? { code: decoded.right.Error.Code, message: decoded.right.Error.Message ?? "" } : undefined
}

/** The `<Error><Code>` of an S3 error body, if it is one. */
export const parseError = (xml: string): BackendError | undefined => errorOf(parse(xml))

const Initiated = Schema.Struct({
  InitiateMultipartUploadResult: Schema.Struct({ UploadId: Schema.NonEmptyString })
})

/** The UploadId of an InitiateMultipartUploadResult. */
export const parseUploadId = (xml: string): string | undefined => {
  const decoded = Schema.decodeUnknownEither(Initiated)(parse(xml))
  return Either.isRight(decoded) ? decoded.right.InitiateMultipartUploadResult.UploadId : undefined
}

const DeleteResult = Schema.Struct({
  DeleteResult: Schema.Union(
    Schema.Literal(""),
    Schema.Struct({
      Deleted: Schema.optional(Schema.Array(Schema.Struct({ Key: Schema.String }))),
      Error: Schema.optional(Schema.Array(Schema.Struct({
        Key: Schema.String,
        Code: Schema.String,
        Message: Schema.optional(Schema.String)
      })))
    })
  )
})

/** A DeleteResult as one outcome per requested key, in request order; undefined if it is not one. */
export const parseDeleteResult = (xml: string, keys: ReadonlyArray<string>): ReadonlyArray<DeleteOutcome> | undefined => {
  const decoded = Schema.decodeUnknownEither(DeleteResult)(parse(xml))
  if (Either.isLeft(decoded)) return undefined
  const result = decoded.right.DeleteResult
  const deleted = new Set(result === "" ? [] : (result.Deleted ?? []).map((d) => d.Key))
  const failed = new Map(result === "" ? [] : (result.Error ?? []).map((e) => [e.Key, { code: e.Code, message: e.Message ?? "" }] as const))
  return keys.map((key) => ({
    key,
    error: failed.get(key) ??
      (deleted.has(key) ? undefined : { code: "InternalError", message: "the backend did not report this key" })
  }))
}

const CopyResult = Schema.Struct({
  CopyObjectResult: Schema.Struct({ ETag: Schema.String, LastModified: Schema.DateFromString })
})

/** A CopyObjectResult, or the `<Error>` S3 may send inside a 200. */
export const parseCopyResult = (
  xml: string
): { readonly etag: string; readonly lastModified: Date } | { readonly error: BackendError | undefined } => {
  const doc = parse(xml)
  const decoded = Schema.decodeUnknownEither(CopyResult)(doc)
  if (Either.isRight(decoded)) {
    return { etag: quoteEtag(decoded.right.CopyObjectResult.ETag), lastModified: decoded.right.CopyObjectResult.LastModified }
  }
  return { error: errorOf(doc) }
}

const Completed = Schema.Struct({ ETag: Schema.String })
/** `CompleteMultipartUploadResult` as S3 names it; moto (and some S3-compatible servers) say `…Response`. */
const CompleteResult = Schema.Union(
  Schema.Struct({ CompleteMultipartUploadResult: Completed }),
  Schema.Struct({ CompleteMultipartUploadResponse: Completed })
)

/** A CompleteMultipartUploadResult's ETag, or the `<Error>` S3 may send inside a 200. */
export const parseCompleteResult = (
  xml: string
): { readonly etag: string } | { readonly error: BackendError | undefined } => {
  const doc = parse(xml)
  const decoded = Schema.decodeUnknownEither(CompleteResult)(doc)
  if (Either.isRight(decoded)) {
    const result = "CompleteMultipartUploadResult" in decoded.right
      ? decoded.right.CompleteMultipartUploadResult
      : decoded.right.CompleteMultipartUploadResponse
    return { etag: quoteEtag(result.ETag) }
  }
  return { error: errorOf(doc) }
}

/** `true`/`false` as S3 writes it; anything else (absent) is false. */
const Flag = Schema.transform(Schema.String, Schema.Boolean, {
  strict: true,
  decode: (text) => text.trim().toLowerCase() === "true",
  encode: (flag) => String(flag)
})
/** An element that may be absent or empty (`<NextKeyMarker/>`): undefined then. */
const OptionalText = Schema.optional(Schema.String)
const present = (text: string | undefined) => (text === undefined || text === "" ? undefined : text)

const Parts = Schema.Union(
  Schema.Literal(""),
  Schema.Struct({
    IsTruncated: Schema.optional(Flag),
    NextPartNumberMarker: OptionalText,
    Part: Schema.optional(Schema.Array(Schema.Struct({
      PartNumber: Schema.NumberFromString,
      ETag: Schema.String,
      Size: Schema.NumberFromString,
      LastModified: Schema.DateFromString
    })))
  })
)
/** `ListPartsResult` as S3 names it; moto says `ListPartsResponse`. */
const ListPartsResult = Schema.Union(Schema.Struct({ ListPartsResult: Parts }), Schema.Struct({ ListPartsResponse: Parts }))

/** A ListPartsResult as a page of parts; undefined if it is not one. */
export const parseListParts = (xml: string): PartsPage | undefined => {
  const decoded = Schema.decodeUnknownEither(ListPartsResult)(parse(xml), { onExcessProperty: "ignore" })
  if (Either.isLeft(decoded)) return undefined
  const result = "ListPartsResult" in decoded.right ? decoded.right.ListPartsResult : decoded.right.ListPartsResponse
  if (result === "") return { parts: [], isTruncated: false, nextPartNumberMarker: undefined }
  const isTruncated = result.IsTruncated ?? false
  const next = present(result.NextPartNumberMarker)
  return {
    parts: (result.Part ?? []).map((p) => ({ partNumber: p.PartNumber, etag: quoteEtag(p.ETag), size: p.Size, lastModified: p.LastModified })),
    isTruncated,
    nextPartNumberMarker: isTruncated && next !== undefined && /^\d+$/.test(next) ? Number(next) : undefined
  }
}

const ListUploadsResult = Schema.Struct({
  ListMultipartUploadsResult: Schema.Union(
    Schema.Literal(""),
    Schema.Struct({
      IsTruncated: Schema.optional(Flag),
      NextKeyMarker: OptionalText,
      NextUploadIdMarker: OptionalText,
      Upload: Schema.optional(Schema.Array(Schema.Struct({
        Key: Schema.String,
        UploadId: Schema.String,
        Initiated: Schema.DateFromString
      })))
    })
  )
})

/** A ListMultipartUploadsResult as a page of uploads (keys as the backend has them); undefined if it is not one. */
export const parseListUploads = (xml: string): UploadsPage | undefined => {
  const decoded = Schema.decodeUnknownEither(ListUploadsResult)(parse(xml), { onExcessProperty: "ignore" })
  if (Either.isLeft(decoded)) return undefined
  const result = decoded.right.ListMultipartUploadsResult
  if (result === "") return { uploads: [], isTruncated: false, nextKeyMarker: undefined, nextUploadIdMarker: undefined }
  const isTruncated = result.IsTruncated ?? false
  return {
    uploads: (result.Upload ?? []).map((u) => ({ key: u.Key, uploadId: u.UploadId, initiated: u.Initiated })),
    isTruncated,
    nextKeyMarker: isTruncated ? present(result.NextKeyMarker) : undefined,
    nextUploadIdMarker: isTruncated ? present(result.NextUploadIdMarker) : undefined
  }
}

const CopyPartResult = Schema.Struct({
  CopyPartResult: Schema.Struct({ ETag: Schema.String, LastModified: Schema.DateFromString })
})

/** A CopyPartResult, or the `<Error>` S3 may send inside a 200. */
export const parseCopyPartResult = (
  xml: string
): { readonly etag: string; readonly lastModified: Date } | { readonly error: BackendError | undefined } => {
  const doc = parse(xml)
  const decoded = Schema.decodeUnknownEither(CopyPartResult)(doc, { onExcessProperty: "ignore" })
  if (Either.isRight(decoded)) {
    return { etag: quoteEtag(decoded.right.CopyPartResult.ETag), lastModified: decoded.right.CopyPartResult.LastModified }
  }
  return { error: errorOf(doc) }
}
