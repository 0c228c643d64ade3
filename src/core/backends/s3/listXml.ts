import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { childReader, decodeText, eachElement } from "../xmlScan.js"
import type { ListedObject, ListPage } from "../ObjectStore.js"

/*
 * S3's `ListBucketResult`, read with the scanner of ../xmlScan.ts (a general XML parser cost ~16 ms per
 * 1000-key page, bench/): entries are visited by range and their fields read by forward searches, so the
 * document is scanned about once per tag. The page's own fields are decoded by Schema, each entry is checked
 * by hand.
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

/**
 * An S3 ListObjects answer (V2, or V1 as GCS's XML API sends it) from a backend, decoded at the boundary.
 * The page's continuation is V2's token, else V1's NextMarker, else (V1 without a delimiter) the last key.
 */
export const parseListObjects = (xml: string): Effect.Effect<ListPage, string> => {
  // A body cut short must not read as a shorter listing.
  if (!/<ListBucketResult[\s>]/.test(xml) || xml.lastIndexOf("</ListBucketResult>") < 0) {
    return Effect.fail("not a complete ListBucketResult document")
  }
  const key = childReader(xml, "Key")
  const modified = childReader(xml, "LastModified")
  const size = childReader(xml, "Size")
  const etag = childReader(xml, "ETag")
  const prefix = childReader(xml, "Prefix")
  const objects: Array<ListedObject> = []
  // One `<Contents>` entry: Key, LastModified and Size are required, ETag may be missing (GCS folders).
  const badEntry = eachElement(xml, "Contents", (start, end) => {
    const name = key(start, end)
    const time = modified(start, end)
    const bytes = size(start, end)
    if (name === undefined) return "a Contents entry without a Key"
    if (time === undefined) return `no LastModified for ${name}`
    if (bytes === undefined || !SIZE.test(bytes)) return `unexpected Size for ${name}: ${bytes ?? "none"}`
    const lastModified = new Date(time)
    if (Number.isNaN(lastModified.getTime())) return `unexpected LastModified: ${time}`
    objects.push({ key: name, size: Number(bytes), lastModified, etag: etag(start, end) ?? "\"\"" })
    return undefined
  })
  if (badEntry !== undefined) return Effect.fail(`unexpected list document: ${badEntry}`)
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
