import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { blocks, decodeText } from "../xmlScan.js"
import type { ListedObject, ListPage } from "../ObjectStore.js"

/*
 * S3's `ListBucketResult`, read with the scanner of ../xmlScan.ts (a general XML parser cost ~16 ms per
 * 1000-key page, bench/). The strings found are decoded by Schema; sizes and dates are checked one by one.
 */

/** The text of the first `<name>…</name>` in `xml`; `<name/>` is the empty string. */
const field = (xml: string, name: string): string | undefined => {
  const open = xml.indexOf(`<${name}>`)
  if (open < 0) return xml.includes(`<${name}/>`) ? "" : undefined
  const start = open + name.length + 2
  const end = xml.indexOf(`</${name}>`, start)
  return end < 0 ? undefined : decodeText(xml.slice(start, end))
}

const Document = Schema.Struct({
  IsTruncated: Schema.optional(Schema.Literal("true", "false")),
  NextContinuationToken: Schema.optional(Schema.String),
  NextMarker: Schema.optional(Schema.String),
  Contents: Schema.Array(Schema.Struct({
    Key: Schema.String,
    LastModified: Schema.String,
    ETag: Schema.optional(Schema.String),
    Size: Schema.String.pipe(Schema.pattern(/^\d+$/))
  })),
  CommonPrefixes: Schema.Array(Schema.Struct({ Prefix: Schema.String }))
})
const decode = Schema.decodeUnknown(Document)

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
  const contents = entries.map((block) => ({
    Key: field(block, "Key"),
    LastModified: field(block, "LastModified"),
    ETag: field(block, "ETag"),
    Size: field(block, "Size")
  }))
  const commonPrefixes = prefixes.map((block) => ({ Prefix: field(block, "Prefix") }))
  // No listed entry holds these elements, and escaped text never holds a raw tag.
  return decode({
    IsTruncated: field(xml, "IsTruncated"),
    NextContinuationToken: field(xml, "NextContinuationToken"),
    NextMarker: field(xml, "NextMarker"),
    Contents: contents,
    CommonPrefixes: commonPrefixes
  }, { exact: false }).pipe(
    Effect.mapError((e) => `unexpected list document: ${e.message}`),
    Effect.flatMap((doc) => {
      const objects: Array<ListedObject> = []
      for (const c of doc.Contents) {
        const lastModified = new Date(c.LastModified)
        if (Number.isNaN(lastModified.getTime())) return Effect.fail(`unexpected LastModified: ${c.LastModified}`)
        objects.push({ key: c.Key, size: Number(c.Size), lastModified, etag: c.ETag ?? "\"\"" })
      }
      const names = doc.CommonPrefixes.map((p) => p.Prefix)
      const last = [objects.at(-1)?.key, names.at(-1)].filter((k): k is string => k !== undefined).sort().at(-1)
      return Effect.succeed({
        objects,
        commonPrefixes: names,
        nextContinuationToken: doc.IsTruncated === "true" ? doc.NextContinuationToken ?? doc.NextMarker ?? last : undefined
      })
    })
  )
}
