import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { isoTimestamp } from "../isoTime.js"
import { childReader, decodeText, eachElement } from "../xmlScan.js"
import type { ListedObject, ListPage } from "../ObjectStore.js"

/*
 * S3's `ListBucketResult`, read without a general XML parser (one cost ~16 ms per 1000-key page, bench/): an entry
 * in the shape S3 and GCS write is matched whole by one pattern, any other is read by the forward searches of
 * ../xmlScan.ts, so the document is scanned about once per tag. The page's own fields are decoded by Schema,
 * each entry is checked by hand.
 */

/** The text of the first `<name>…</name>` in `xml`; `<name/>` is the empty string. */
const field = (xml: string, name: string): string | undefined => {
  const open = xml.indexOf(`<${name}>`)
  if (open < 0) return xml.includes(`<${name}/>`) ? "" : undefined
  const start = open + name.length + 2
  const end = xml.indexOf(`</${name}>`, start)
  return end < 0 ? undefined : decodeText(xml.slice(start, end))
}

/** The page's own fields; its entries are checked one by one below (a Schema per entry cost ~1 ms a page, bench/). */
const Page = Schema.Struct({
  IsTruncated: Schema.optional(Schema.Literal("true", "false")),
  NextContinuationToken: Schema.optional(Schema.String),
  NextMarker: Schema.optional(Schema.String)
})
const decodePage = Schema.decodeUnknownEither(Page)

const SIZE = /^\d+$/

const CONTINUATIONS = ["NextContinuationToken", "NextMarker"] as const
const GT = ">".charCodeAt(0)

/**
 * The page's continuation elements (or their empty forms), each found by a search for its whole opening tag:
 * JSC searches a short pattern slowly, and one scan of a 1000-key page for the shared `<Next` took ~130 µs
 * against ~15 µs for each whole name (bench/). No listed entry holds these tags (escaped text holds no raw `<`).
 */
const continuationOf = (xml: string): Record<string, string> => {
  const found: Record<string, string> = {}
  for (const name of CONTINUATIONS) {
    const open = `<${name}`
    for (let at = xml.indexOf(open); at >= 0; at = xml.indexOf(open, at + 1)) {
      const after = at + open.length
      if (xml.startsWith("/>", after)) {
        found[name] = ""
        break
      }
      if (xml.charCodeAt(after) !== GT) continue // a longer name
      const end = xml.indexOf(`</${name}>`, after + 1)
      if (end >= 0) found[name] = decodeText(xml.slice(after + 1, end))
      break
    }
  }
  return found
}

const TEXT = "([^<]*)"
const skipped = (name: string) => `<${name}>[^<]*<\\/${name}>`
const OWNER = `(?:<Owner>${skipped("ID")}(?:${skipped("DisplayName")})?<\\/Owner>)?`
const CONTENTS_OPEN = "<Contents>"
const CONTENTS_CLOSE = "</Contents>"

/**
 * A `<Contents>` entry's children in the order and forms S3 and GCS write them (GCS's generations, S3's checksums
 * and storage class, an owner), matched from just past `<Contents>` through its close in one native pass: a page
 * read by tag searches alone took 1.6 times as long (bench/). Every element it passes over is named, and text
 * holds no `<`, so the close it ends at is the entry's own and each field it captures is the only one of its name
 * in the entry. An entry it does not fit (other elements, whitespace, `<ETag/>`, a reference in a Size) is read by
 * the searches: the pattern only decides the speed.
 */
const ENTRY = new RegExp(
  `<Key>${TEXT}<\\/Key>(?:${skipped("Generation")}${skipped("MetaGeneration")})?<LastModified>${TEXT}<\\/LastModified>`
    + `(?:<ETag>${TEXT}<\\/ETag>)?(?:${skipped("ChecksumAlgorithm")})*(?:${skipped("ChecksumType")})?<Size>([0-9]+)<\\/Size>`
    + `${OWNER}(?:${skipped("StorageClass")})?${OWNER}<\\/Contents>`,
  "y"
)

/** An entry of decoded fields, or what is wrong with it. Key, LastModified and Size are required, ETag may be missing (GCS folders). */
const listed = (key: string, time: string, size: string, etag: string | undefined): ListedObject | string => {
  const lastModified = isoTimestamp(time)
  if (Number.isNaN(lastModified.getTime())) return `unexpected LastModified: ${time}`
  return { key, size: Number(size), lastModified, etag: etag ?? "\"\"" }
}

/** Every `<Contents>` entry of the page, in order, or what is wrong with the first bad one. */
const entriesOf = (xml: string): Array<ListedObject> | string => {
  const key = childReader(xml, "Key")
  const modified = childReader(xml, "LastModified")
  const size = childReader(xml, "Size")
  const etag = childReader(xml, "ETag")
  const byRange = (start: number, end: number): ListedObject | string => {
    const name = key(start, end)
    const time = modified(start, end)
    const bytes = size(start, end)
    if (name === undefined) return "a Contents entry without a Key"
    if (time === undefined) return `no LastModified for ${name}`
    if (bytes === undefined || !SIZE.test(bytes)) return `unexpected Size for ${name}: ${bytes ?? "none"}`
    return listed(name, time, bytes, etag(start, end))
  }
  const objects: Array<ListedObject> = []
  for (let at = xml.indexOf(CONTENTS_OPEN); at >= 0; at = xml.indexOf(CONTENTS_OPEN, at)) {
    const start = at + CONTENTS_OPEN.length
    ENTRY.lastIndex = start
    const fields = ENTRY.exec(xml)
    let entry: ListedObject | string
    if (fields !== null) {
      const [, name = "", time = "", tag, bytes = ""] = fields
      entry = listed(decodeText(name), decodeText(time), bytes, tag === undefined ? undefined : decodeText(tag))
      at = ENTRY.lastIndex
    } else {
      // Not closed: a body cut short must not read as a shorter listing.
      const end = xml.indexOf(CONTENTS_CLOSE, start)
      if (end < 0) return "an unclosed Contents element"
      entry = byRange(start, end)
      at = end + CONTENTS_CLOSE.length
    }
    if (typeof entry === "string") return entry
    objects.push(entry)
  }
  return objects
}

/**
 * An S3 ListObjects answer (V2, or V1 as GCS's XML API sends it) from a backend, decoded at the boundary.
 * The page's continuation is V2's token, else V1's NextMarker, else (V1 without a delimiter) the last key.
 */
export const parseListObjects = (xml: string): Effect.Effect<ListPage, string> => {
  // A body cut short must not read as a shorter listing.
  if (!/<ListBucketResult[\s>]/.test(xml) || xml.lastIndexOf("</ListBucketResult>") < 0) {
    return Effect.fail("not a complete ListBucketResult document")
  }
  const objects = entriesOf(xml)
  if (typeof objects === "string") return Effect.fail(`unexpected list document: ${objects}`)
  const prefix = childReader(xml, "Prefix")
  const names: Array<string> = []
  const badPrefix = eachElement(xml, "CommonPrefixes", (start, end) => {
    const name = prefix(start, end)
    if (name === undefined) return "a CommonPrefixes entry without a Prefix"
    names.push(name)
    return undefined
  })
  if (badPrefix !== undefined) return Effect.fail(`unexpected list document: ${badPrefix}`)
  // No listed entry holds these elements, and escaped text never holds a raw tag.
  const continuation = continuationOf(xml)
  const page = decodePage({
    IsTruncated: field(xml, "IsTruncated"),
    NextContinuationToken: continuation["NextContinuationToken"],
    NextMarker: continuation["NextMarker"]
  })
  if (Either.isLeft(page)) return Effect.fail(`unexpected list document: ${page.left.message}`)
  const { IsTruncated, NextContinuationToken, NextMarker } = page.right
  const last = [objects.at(-1)?.key, names.at(-1)].filter((k): k is string => k !== undefined).sort().at(-1)
  return Effect.succeed({
    objects,
    commonPrefixes: names,
    nextContinuationToken: IsTruncated === "true" ? NextContinuationToken ?? NextMarker ?? last : undefined
  })
}
