import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, FastCheck as fc } from "effect"
import { parseCompleteRequest, parseDeleteRequest } from "../../src/core/s3/writeXml.js"
import { parseXml } from "../../src/core/s3/strictXml.js"
import { expatParse } from "../fixtures/expat.js"

/**
 * Request XML (docs/s3-compatibility.md#request-xml): Go clients (rclone, the Go SDKs) write quotes as `&#34;`, so an ETag or a key
 * must be decoded, not kept as `&#34;…&#34;` (rclone's multipart upload then failed with InvalidPart, and a
 * DeleteObjects deleted nothing and answered success). Anything not well-formed is MalformedXML.
 */

const deleted = (xml: string) => Effect.runSync(Effect.either(parseDeleteRequest(xml)))
const completed = (xml: string) => Effect.runSync(Effect.either(parseCompleteRequest(xml)))
const keysOf = (xml: string) => Either.getOrThrow(deleted(xml)).keys

describe("request XML: references are decoded", () => {
  it("an ETag written by Go's encoder (`&#34;`) is the quoted ETag", () => {
    const xml = `<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">`
      + `<Part><PartNumber>1</PartNumber><ETag>&#34;0cc175b9c0f1b6a831c399e269772661&#34;</ETag></Part>`
      + `<Part><PartNumber>2</PartNumber><ETag>&#x22;92eb5ffee6ae2fec3ad71c777531578f&#x22;</ETag></Part>`
      + `</CompleteMultipartUpload>`
    expect(Either.getOrThrow(completed(xml))).toStrictEqual([
      { partNumber: 1, etag: "\"0cc175b9c0f1b6a831c399e269772661\"" },
      { partNumber: 2, etag: "\"92eb5ffee6ae2fec3ad71c777531578f\"" }
    ])
  })

  it("keys with Go's references (`&#39;`, `&#x9;`, `&#xA;`, `&#xD;`), named entities and CDATA", () => {
    const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">\n`
      + `  <Object><Key>p/it&#39;s &#34;quoted&#34;.txt</Key></Object>\n`
      + `  <Object><Key>p/a&#x9;b&#xA;c&#xD;d</Key></Object>\n`
      + `  <Object><Key>p/&amp;&lt;&gt;&quot;&apos;&#128512;&#x1F600;</Key></Object>\n`
      + `  <Object><Key><![CDATA[p/<raw> & ]]]></Key></Object>\n`
      + `  <!-- a comment --><Object><Key> p/spaced </Key></Object>\n`
      + `</Delete>`
    expect(keysOf(xml)).toStrictEqual([
      "p/it's \"quoted\".txt",
      "p/a\tb\nc\rd",
      "p/&<>\"'😀😀",
      "p/<raw> & ]",
      " p/spaced "
    ])
  })

  it("a namespace prefix, single-quoted attributes and a byte-order mark are accepted", () => {
    const xml = `\ufeff<s3:Delete xmlns:s3='http://s3.amazonaws.com/doc/2006-03-01/'><s3:Quiet>true</s3:Quiet>`
      + `<s3:Object><s3:Key>k</s3:Key></s3:Object></s3:Delete>`
    expect(Either.getOrThrow(deleted(xml))).toStrictEqual({ keys: ["k"], quiet: true })
  })

  it("raw CR LF and CR in text read as LF (XML line-end normalization), `&#13;` as CR", () => {
    expect(keysOf("<Delete><Object><Key>a\r\nb\rc&#13;</Key></Object></Delete>")).toStrictEqual(["a\nb\nc\r"])
  })
})

/** Documents that are not well-formed: each must be MalformedXML, never a deletion of what it seems to name. */
const NOT_WELL_FORMED: ReadonlyArray<readonly [string, string]> = [
  ["unclosed elements", "<Delete><Object><Key>x</Key>"],
  ["an unclosed root", "<Delete><Object><Key>x</Key></Object>"],
  ["a mismatched end tag", "<Delete><Object><Key>x</Kez></Object></Delete>"],
  ["text after the root", "<Delete><Object><Key>x</Key></Object></Delete>junk"],
  ["a second root", "<Delete><Object><Key>x</Key></Object></Delete><Delete/>"],
  ["an undeclared entity", "<Delete><Object><Key>a&bogus;b</Key></Object></Delete>"],
  ["a bare ampersand", "<Delete><Object><Key>a & b</Key></Object></Delete>"],
  ["a reference to NUL", "<Delete><Object><Key>a&#0;</Key></Object></Delete>"],
  ["a reference to a surrogate", "<Delete><Object><Key>a&#xD800;</Key></Object></Delete>"],
  ["a reference past U+10FFFF", "<Delete><Object><Key>a&#x110000;</Key></Object></Delete>"],
  ["a reference without digits", "<Delete><Object><Key>a&#x;</Key></Object></Delete>"],
  ["a raw control character", "<Delete><Object><Key>a\u0001</Key></Object></Delete>"],
  ["a raw `<` in text", "<Delete><Object><Key>a<b</Key></Object></Delete>"],
  ["`]]>` in text", "<Delete><Object><Key>a]]>b</Key></Object></Delete>"],
  ["an unquoted attribute", "<Delete xmlns=http://s3.amazonaws.com/><Object><Key>x</Key></Object></Delete>"],
  ["a repeated attribute", "<Delete a='1' a='2'><Object><Key>x</Key></Object></Delete>"],
  ["`--` in a comment", "<Delete><!-- a -- b --><Object><Key>x</Key></Object></Delete>"],
  ["an XML declaration not at the start", " <?xml version=\"1.0\"?><Delete><Object><Key>x</Key></Object></Delete>"],
  ["an end tag with no name", "<Delete><Object><Key>x</></Object></Delete>"],
  ["an empty body", ""],
  ["only a declaration", "<?xml version=\"1.0\"?>"],
  ["text, not XML", "Object=x"]
]

describe("request XML: anything not well-formed is MalformedXML", () => {
  for (const [name, xml] of NOT_WELL_FORMED) {
    it(`${name}: DeleteObjects and CompleteMultipartUpload`, () => {
      expect(Either.isLeft(parseXml(xml)), JSON.stringify(xml)).toBe(true)
      const del = deleted(xml)
      expect(Either.isLeft(del) && del.left._tag).toBe("MalformedXML")
      const complete = completed(xml.replaceAll("Delete", "CompleteMultipartUpload"))
      expect(Either.isLeft(complete) && complete.left._tag).toBe("MalformedXML")
    })
  }

  it("expat (a conforming parser) refuses every one of them too", () => {
    const results = expatParse(NOT_WELL_FORMED.map(([, xml]) => xml))
    results.forEach((result, i) => expect(result.ok, NOT_WELL_FORMED[i]![0]).toBe(false))
  })

  it("well-formed but not S3's shape: a repeated Quiet or Key, markup inside a Key, no Object, a `__proto__` element", () => {
    for (
      const xml of [
        "<Delete><Quiet>true</Quiet><Quiet>false</Quiet><Object><Key>k</Key></Object></Delete>",
        "<Delete><Object><Key>a</Key><Key>b</Key></Object></Delete>",
        "<Delete><Object><Key>a<b/>c</Key></Object></Delete>",
        "<Delete><Quiet>true</Quiet></Delete>",
        "<Delete><__proto__><Object><Key>k</Key></Object></__proto__></Delete>"
      ]
    ) {
      const del = deleted(xml)
      expect([xml, Either.isLeft(del) && del.left._tag]).toStrictEqual([xml, "MalformedXML"])
    }
  })

  it("a DTD, well-formed as it may be, is refused: these documents never need one, and it opens entity expansion", () => {
    const del = deleted("<!DOCTYPE Delete [<!ENTITY e \"x\">]><Delete><Object><Key>&e;</Key></Object></Delete>")
    expect(Either.isLeft(del) && del.left._tag).toBe("MalformedXML")
  })

  it("deep nesting is refused by the schema, not by a stack overflow", () => {
    const depth = 200_000
    const xml = "<Delete>" + "<Object>".repeat(depth) + "</Object>".repeat(depth) + "</Delete>"
    const del = deleted(xml)
    expect(Either.isLeft(del) && del.left._tag).toBe("MalformedXML")
  })
})

// ------------------------------------------------------------------------------------------------
// Properties: documents serialized as clients do, with every allowed way of writing each character.
// ------------------------------------------------------------------------------------------------

/** A character XML 1.0 allows in a document. */
const isXmlChar = (c: string) => !/[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]/u.test(c)

const textArb = (minLength: number) =>
  fc.array(
    fc.oneof(
      fc.constantFrom("\"", "'", "&", "<", ">", "\t", "\n", "\r", " ", "]", "é", "😀", "\u0085", "\ufffd"),
      fc.string({ unit: "binary", minLength: 1, maxLength: 1 }).filter(isXmlChar)
    ),
    { minLength, maxLength: 12 }
  ).map((chars) => chars.join(""))

const NAMED: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&apos;" }

/**
 * Writes `text` choosing, per character, among the forms XML allows: raw (not for `<`, `&`, `>` or CR),
 * a named entity, a decimal or a hexadecimal reference (Go's `&#34;`, `&#xA;`).
 */
const writeText = (text: string, choices: ReadonlyArray<number>) =>
  [...text].map((c, i) => {
    const code = c.codePointAt(0)!
    const forms = [
      ...(/[<&>\r]/.test(c) ? [] : [c]),
      ...(NAMED[c] === undefined ? [] : [NAMED[c]]),
      `&#${code};`,
      `&#x${code.toString(16)};`,
      `&#x${code.toString(16).toUpperCase().padStart(6, "0")};`
    ]
    return forms[(choices[i % choices.length] ?? 0) % forms.length]!
  }).join("")

const layoutArb = fc.record({
  declaration: fc.boolean(),
  prefix: fc.constantFrom("", "s3:"),
  spaces: fc.array(fc.constantFrom("", " ", "\n", "\r\n", "\t", "<!-- c -->", "<?pi x?>"), { minLength: 1, maxLength: 8 }),
  choices: fc.array(fc.nat(), { minLength: 1, maxLength: 16 })
})

type Layout = typeof layoutArb extends fc.Arbitrary<infer L> ? L : never

/** Elements and documents laid out as `layout` says: declaration, namespace prefix, gaps, character forms. */
const writer = (layout: Layout) => {
  const p = layout.prefix
  const gap = (i: number) => layout.spaces[i % layout.spaces.length]!
  const xmlns = p === "" ? ` xmlns="http://s3.amazonaws.com/doc/2006-03-01/"` : ` xmlns:s3="http://s3.amazonaws.com/doc/2006-03-01/"`
  const join = (items: ReadonlyArray<string>) => items.map((item, i) => gap(i) + item).join("")
  return {
    text: (name: string, text: string) => `<${p}${name}>${writeText(text, layout.choices)}</${p}${name}>`,
    parent: (name: string, items: ReadonlyArray<string>) => `<${p}${name}>${join(items)}</${p}${name}>`,
    document: (root: string, items: ReadonlyArray<string>) =>
      `${layout.declaration ? "<?xml version=\"1.0\" encoding=\"UTF-8\"?>" : ""}${gap(1)}<${p}${root}${xmlns}>${join(items)}${gap(2)}</${p}${root}>`
  }
}

const deleteDocument = (layout: Layout, keys: ReadonlyArray<string>, quiet = false) => {
  const w = writer(layout)
  return w.document("Delete", [...(quiet ? [w.text("Quiet", "true")] : []), ...keys.map((key) => w.parent("Object", [w.text("Key", key)]))])
}

/** CR is normalized only when written raw; the serializer never writes it raw, so text comes back whole. */
const keysArb = fc.array(textArb(1), { minLength: 1, maxLength: 6 })

const etagArb = fc.oneof(
  fc.stringMatching(/^[0-9a-f]{32}(-[1-9][0-9]{0,3})?$/).map((hex) => `"${hex}"`),
  textArb(1).filter((t) => t.trim() === t && t !== "")
)

describe("request XML: properties", () => {
  it.prop("DeleteObjects: keys written with any mix of references and entities read back exactly", [keysArb, fc.boolean(), layoutArb], ([keys, quiet, layout]) => {
    expect(Either.getOrThrow(deleted(deleteDocument(layout, keys, quiet)))).toStrictEqual({ keys, quiet })
  }, { fastCheck: { numRuns: 500 } })

  it.prop(
    "CompleteMultipartUpload: part numbers and ETags read back exactly",
    [fc.uniqueArray(fc.integer({ min: 1, max: 10000 }), { minLength: 1, maxLength: 6 }), fc.array(etagArb, { minLength: 6, maxLength: 6 }), layoutArb],
    ([numbers, etags, layout]) => {
      const parts = [...numbers].sort((a, b) => a - b).map((n, i) => ({ partNumber: n, etag: etags[i]! }))
      const w = writer(layout)
      const xml = w.document("CompleteMultipartUpload", parts.map((p) => w.parent("Part", [w.text("PartNumber", String(p.partNumber)), w.text("ETag", p.etag)])))
      expect(Either.getOrThrow(completed(xml))).toStrictEqual(parts)
    },
    { fastCheck: { numRuns: 500 } }
  )

  it.prop("every truncation of a valid document is MalformedXML", [keysArb, layoutArb], ([keys, layout]) => {
    const xml = deleteDocument(layout, keys)
    expect(Either.isRight(deleted(xml))).toBe(true)
    for (let end = 0; end < xml.length; end++) {
      const cut = deleted(xml.slice(0, end))
      expect(Either.isLeft(cut) && cut.left._tag, JSON.stringify(xml.slice(0, end))).toBe("MalformedXML")
    }
  }, { fastCheck: { numRuns: 200 } })

  it("expat agrees: sampled documents parse to the same keys, their truncations are refused", () => {
    const samples = fc.sample(fc.tuple(keysArb, layoutArb), { numRuns: 60, seed: 9 })
    const documents = samples.map(([keys, layout]) => deleteDocument(layout, keys))
    const truncated = documents.flatMap((xml) => [0, 1, Math.floor(xml.length / 2), xml.length - 1].map((end) => xml.slice(0, end)))
    const results = expatParse([...documents, ...truncated])
    documents.forEach((xml, i) => {
      const result = results[i]!
      expect(result.ok, xml).toBe(true)
      if (result.ok) expect(result.tree.children.map((o) => o.children[0]!.text)).toStrictEqual(keysOf(xml))
    })
    truncated.forEach((xml, i) => expect(results[documents.length + i]!.ok, JSON.stringify(xml)).toBe(false))
  })
})
