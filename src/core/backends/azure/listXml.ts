import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { blocks, decodeText } from "../xmlScan.js"
import type { ListedObject } from "../ObjectStore.js"

/**
 * A scanner for Azure's List Blobs answer (`EnumerationResults`), the one XML document read on a hot path,
 * written like the S3 one (`../s3/listXml.ts`): the service writes a flat, fixed shape whose text never
 * holds a raw `<`, so elements are found by their tags. Strings found are decoded by Schema at the
 * boundary; sizes and dates are checked one by one.
 */

/**
 * The text of the first `<name>…</name>` (attributes allowed) in `xml`; `<name/>` is the empty string.
 * `encoded` tells whether the element carried `Encoded="true"`: Azure percent-encodes names that hold
 * characters XML cannot carry.
 */
const openTags = new Map<string, RegExp>()
const openTag = (name: string): RegExp => {
  let pattern = openTags.get(name)
  if (pattern === undefined) {
    pattern = new RegExp(`<${name}(\\s[^>]*?)?(/?)>`)
    openTags.set(name, pattern)
  }
  return pattern
}

const element = (xml: string, name: string): { readonly text: string; readonly encoded: boolean } | undefined => {
  const match = openTag(name).exec(xml)
  if (match === null) return undefined
  const attributes = match[1] ?? ""
  const encoded = /\bEncoded\s*=\s*"true"/i.test(attributes)
  if (match[2] === "/") return { text: "", encoded }
  const start = match.index + match[0].length
  const end = xml.indexOf(`</${name}>`, start)
  return end < 0 ? undefined : { text: decodeText(xml.slice(start, end)), encoded }
}

const text = (xml: string, name: string): string | undefined => element(xml, name)?.text

/** A blob or prefix name, percent-decoded when Azure marked it `Encoded`; `null` when that decoding fails. */
const nameIn = (xml: string): string | null | undefined => {
  const found = element(xml, "Name")
  if (found === undefined || !found.encoded) return found?.text
  try {
    return decodeURIComponent(found.text)
  } catch {
    return null
  }
}

const Document = Schema.Struct({
  NextMarker: Schema.optional(Schema.String),
  Blobs: Schema.Array(Schema.Struct({
    Name: Schema.String,
    LastModified: Schema.String,
    Etag: Schema.optional(Schema.String),
    Size: Schema.String.pipe(Schema.pattern(/^\d+$/))
  })),
  Prefixes: Schema.Array(Schema.Struct({ Name: Schema.String }))
})
const decode = Schema.decodeUnknown(Document)

/** One backend page: blobs and rolled-up prefixes as Azure sent them, and Azure's own continuation. */
export interface AzurePage {
  readonly objects: ReadonlyArray<ListedObject>
  readonly prefixes: ReadonlyArray<string>
  /** Azure's opaque `NextMarker`; `undefined` on the last page. */
  readonly nextMarker: string | undefined
}

/** Azure's entity tags are sent bare in listings (`0x8D…`) and quoted in headers: quote them as S3 does. */
const quoted = (etag: string | undefined) =>
  etag === undefined || etag === "" ? "\"\"" : etag.startsWith("\"") ? etag : `"${etag}"`

/** A List Blobs answer, decoded at the boundary. A body cut short must not read as a shorter listing. */
export const parseEnumerationResults = (xml: string): Effect.Effect<AzurePage, string> => {
  if (!/<EnumerationResults[\s>]/.test(xml) || !xml.includes("</EnumerationResults>")) {
    return Effect.fail("not a complete EnumerationResults document")
  }
  const blobs = blocks(xml, "Blob")
  const prefixes = blocks(xml, "BlobPrefix")
  if (blobs === undefined || prefixes === undefined) return Effect.fail("an unclosed element in the listing")
  const raw = {
    // NextMarker follows the Blobs element; no entry holds one.
    NextMarker: text(xml.slice(xml.lastIndexOf("</Blobs>") + 1), "NextMarker") ?? text(xml, "NextMarker"),
    Blobs: blobs.map((block) => {
      const properties = text(block, "Properties") ?? ""
      return {
        Name: nameIn(block),
        LastModified: text(properties, "Last-Modified"),
        Etag: text(properties, "Etag"),
        Size: text(properties, "Content-Length")
      }
    }),
    Prefixes: prefixes.map((block) => ({ Name: nameIn(block) }))
  }
  return decode(raw, { exact: false }).pipe(
    Effect.mapError((e) => `unexpected list document: ${e.message}`),
    Effect.flatMap((doc) => {
      const objects: Array<ListedObject> = []
      for (const blob of doc.Blobs) {
        const lastModified = new Date(blob.LastModified)
        if (Number.isNaN(lastModified.getTime())) return Effect.fail(`unexpected Last-Modified: ${blob.LastModified}`)
        objects.push({ key: blob.Name, size: Number(blob.Size), lastModified, etag: quoted(blob.Etag) })
      }
      return Effect.succeed({
        objects,
        prefixes: doc.Prefixes.map((p) => p.Name),
        nextMarker: doc.NextMarker === undefined || doc.NextMarker === "" ? undefined : doc.NextMarker
      })
    })
  )
}
