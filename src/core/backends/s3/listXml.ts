import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { blocks, decodeText } from "../xmlScan.js"
import type { ListedObject, ListPage } from "../ObjectStore.js"

/*
 * S3's `ListBucketResult`, read with the scanner of ../xmlScan.ts (a general XML parser cost ~16 ms per
 * 1000-key page, bench/). The page's own fields are decoded by Schema, each entry is checked by hand.
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

/** One `<Contents>` block: Key, LastModified and Size are required, ETag may be missing (GCS folders). */
const entryOf = (block: string): ListedObject | string => {
  const key = field(block, "Key")
  const modified = field(block, "LastModified")
  const size = field(block, "Size")
  if (key === undefined) return "a Contents entry without a Key"
  if (modified === undefined) return `no LastModified for ${key}`
  if (size === undefined || !SIZE.test(size)) return `unexpected Size for ${key}: ${size ?? "none"}`
  const lastModified = new Date(modified)
  if (Number.isNaN(lastModified.getTime())) return `unexpected LastModified: ${modified}`
  return { key, size: Number(size), lastModified, etag: field(block, "ETag") ?? "\"\"" }
}

/**
 * An S3 ListObjects answer (V2, or V1 as GCS's XML API sends it) from a backend, decoded at the boundary.
 * The page's continuation is V2's token, else V1's NextMarker, else (V1 without a delimiter) the last key.
 */
export const parseListObjects = (xml: string): Effect.Effect<ListPage, string> => {
  // A body cut short must not read as a shorter listing.
  if (!/<ListBucketResult[\s>]/.test(xml) || !xml.includes("</ListBucketResult>")) {
    return Effect.fail("not a complete ListBucketResult document")
  }
  const entries = blocks(xml, "Contents")
  const prefixes = blocks(xml, "CommonPrefixes")
  if (entries === undefined || prefixes === undefined) return Effect.fail("an unclosed element in the listing")
  const objects: Array<ListedObject> = []
  for (const block of entries) {
    const entry = entryOf(block)
    if (typeof entry === "string") return Effect.fail(`unexpected list document: ${entry}`)
    objects.push(entry)
  }
  const names: Array<string> = []
  for (const block of prefixes) {
    const name = field(block, "Prefix")
    if (name === undefined) return Effect.fail("unexpected list document: a CommonPrefixes entry without a Prefix")
    names.push(name)
  }
  // No listed entry holds these elements, and escaped text never holds a raw tag.
  const page = decodePage({
    IsTruncated: field(xml, "IsTruncated"),
    NextContinuationToken: field(xml, "NextContinuationToken"),
    NextMarker: field(xml, "NextMarker")
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
