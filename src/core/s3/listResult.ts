import type { ListParams } from "./listParams.js"
import { uriEncode } from "./uriEncode.js"
import { element, escapeXml, S3_NAMESPACE, XML_DECLARATION } from "./xml.js"

export interface ListEntry {
  readonly key: string
  readonly size: number
  readonly lastModified: Date
  readonly etag: string
}

/** One page of a listing, already in the client's namespace (bucket = account, keys `{product}/…`). */
export interface ListResult {
  readonly bucket: string
  readonly params: ListParams
  /** The `<Prefix>` and `<Delimiter>` to echo (the account listing always reports `/`). */
  readonly prefix: string
  readonly delimiter: string
  readonly contents: ReadonlyArray<ListEntry>
  readonly commonPrefixes: ReadonlyArray<string>
  readonly isTruncated: boolean
  readonly nextContinuationToken: string | undefined
  readonly nextMarker: string | undefined
}

const optional = (name: string, text: string | undefined) => (text === undefined ? "" : element(name, text))

/**
 * A listing reports the end of the second an object was last modified in, never a time before it. S3 lists
 * whole seconds (truncated), so a file uploaded within the second it was written would list as older than
 * the file, and `aws s3 sync` (unchanged when the remote LastModified is not older than the local mtime)
 * would upload it again on every run.
 */
export const listedLastModified = (date: Date): string => new Date((Math.floor(date.getTime() / 1000) + 1) * 1000).toISOString()

/** ListObjectsV2 / ListObjects (V1) XML, element order as S3 and the Rust proxy write it. */
export const renderListResult = (result: ListResult): string => {
  const { params } = result
  const encode = params.encodingType === "url" ? uriEncode : (text: string) => text
  const header = element("Name", result.bucket) + element("Prefix", encode(result.prefix))
    + (result.delimiter === "" ? "" : element("Delimiter", encode(result.delimiter)))
    + optional("EncodingType", params.encodingType)
    + `<MaxKeys>${params.maxKeys}</MaxKeys><IsTruncated>${result.isTruncated}</IsTruncated>`
  const middle = params.version === 2
    ? `<KeyCount>${result.contents.length + result.commonPrefixes.length}</KeyCount>`
      + optional("StartAfter", params.startAfter === undefined ? undefined : encode(params.startAfter))
      + optional("ContinuationToken", params.sentContinuationToken)
      + optional("NextContinuationToken", result.nextContinuationToken)
    : element("Marker", encode(params.startAfter ?? ""))
      + optional("NextMarker", result.nextMarker === undefined ? undefined : encode(result.nextMarker))
  const contents = result.contents.map((c) =>
    "<Contents>" + element("Key", encode(c.key)) + `<LastModified>${listedLastModified(c.lastModified)}</LastModified>`
    + `<ETag>${escapeXml(c.etag)}</ETag><Size>${c.size}</Size><StorageClass>STANDARD</StorageClass></Contents>`
  ).join("")
  const prefixes = result.commonPrefixes.map((p) => `<CommonPrefixes>${element("Prefix", encode(p))}</CommonPrefixes>`)
    .join("")
  return `${XML_DECLARATION}<ListBucketResult xmlns="${S3_NAMESPACE}">${header}${middle}${contents}${prefixes}</ListBucketResult>`
}
