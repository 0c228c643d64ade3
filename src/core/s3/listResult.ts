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

const DAY_SECONDS = 86_400
const TWO_DIGITS = Array.from({ length: 60 }, (_, n) => String(n).padStart(2, "0"))
/** The days of years 0000–9999 (beyond them `toISOString` writes six-digit years). */
const FIRST_DAY = Date.parse("0000-01-01T00:00:00Z") / 86_400_000
const LAST_DAY = Date.parse("9999-12-31T00:00:00Z") / 86_400_000

/**
 * `YYYY-MM-DDT` of a day since the epoch, remembered: a page's entries share few days, and `toISOString` per
 * entry was a fifth of rendering a 1000-key page (bench/). Bounded, cleared when full.
 */
const dayPrefixes = new Map<number, string>()
const dayPrefix = (day: number): string | undefined => {
  if (!(day >= FIRST_DAY && day <= LAST_DAY)) return undefined
  let prefix = dayPrefixes.get(day)
  if (prefix === undefined) {
    prefix = new Date(day * DAY_SECONDS * 1000).toISOString().slice(0, 11)
    if (dayPrefixes.size >= 4096) dayPrefixes.clear()
    dayPrefixes.set(day, prefix)
  }
  return prefix
}

/**
 * A listing reports the end of the second an object was last modified in, never a time before it. S3 lists
 * whole seconds (truncated), so a file uploaded within the second it was written would list as older than
 * the file, and `aws s3 sync` (unchanged when the remote LastModified is not older than the local mtime)
 * would upload it again on every run.
 */
export const listedLastModified = (date: Date): string => {
  const second = Math.floor(date.getTime() / 1000) + 1
  const day = Math.floor(second / DAY_SECONDS)
  const prefix = dayPrefix(day)
  if (prefix === undefined) return new Date(second * 1000).toISOString()
  const time = second - day * DAY_SECONDS
  return `${prefix}${TWO_DIGITS[Math.floor(time / 3600)]}:${TWO_DIGITS[Math.floor(time / 60) % 60]}:${TWO_DIGITS[time % 60]}.000Z`
}

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
