import { describe, expect, it } from "@effect/vitest"
import { Either, FastCheck as fc } from "effect"
import { XMLParser } from "fast-xml-parser"
import {
  AccessDenied,
  BackendAuthenticationFailed,
  BackendUnavailable,
  CatalogFailure,
  CatalogUnavailable,
  EntityTooSmall,
  InternalError,
  InvalidAccessKeyId,
  InvalidArgument,
  InvalidRange,
  InvalidRequest,
  InvalidURI,
  NoSuchBucket,
  NoSuchKey,
  NotImplemented,
  PreconditionFailed,
  type S3Error,
  UnsupportedProvider
} from "../../src/core/s3/errors.js"
import { decodeText } from "../../src/core/backends/xmlScan.js"
import { listedLastModified, type ListResult, renderListResult } from "../../src/core/s3/listResult.js"
import { escapeXml } from "../../src/core/s3/xml.js"
import { renderS3Error } from "../../src/core/s3/renderError.js"
import { invalidKey } from "../../src/core/s3/keys.js"
import { parseXml, type XmlElement } from "../../src/core/s3/strictXml.js"
import { childText, expatParse } from "../fixtures/expat.js"
import { listParams } from "../fixtures/listing.js"

const DECL = `<?xml version="1.0" encoding="UTF-8"?>\n`
const NS = `xmlns="http://s3.amazonaws.com/doc/2006-03-01/"`

describe("renderS3Error", () => {
  const cases: ReadonlyArray<readonly [S3Error, number, string]> = [
    [new InvalidRequest({ message: "bad <thing> & \"more\"" }), 400,
      "<Error><Code>InvalidRequest</Code><Message>bad &lt;thing&gt; &amp; &quot;more&quot;</Message><Resource>/a/p</Resource><RequestId>rid</RequestId></Error>"],
    [new InvalidURI({ message: "Couldn't parse the specified URI." }), 400,
      "<Error><Code>InvalidURI</Code><Message>Couldn&apos;t parse the specified URI.</Message><Resource>/a/p</Resource><RequestId>rid</RequestId></Error>"],
    [new InvalidArgument({ message: "x" }), 400,
      "<Error><Code>InvalidArgument</Code><Message>x</Message><Resource>/a/p</Resource><RequestId>rid</RequestId></Error>"],
    [new NotImplemented({ message: "The acl subresource is not supported by this proxy" }), 501,
      "<Error><Code>NotImplemented</Code><Message>The acl subresource is not supported by this proxy</Message><Resource>/a/p</Resource><RequestId>rid</RequestId></Error>"],
    [new NoSuchBucket({ bucket: "a&b" }), 404,
      "<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message><BucketName>a&amp;b</BucketName><Resource>/a/p</Resource><RequestId>rid</RequestId></Error>"],
    [new NoSuchKey({ key: "p/<k>" }), 404,
      "<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>p/&lt;k&gt;</Key><Resource>/a/p</Resource><RequestId>rid</RequestId></Error>"],
    [new AccessDenied({ reason: "secret internal reason" }), 403,
      "<Error><Code>AccessDenied</Code><Message>Access Denied</Message><Resource>/a/p</Resource><RequestId>rid</RequestId></Error>"],
    [new InvalidAccessKeyId(), 403,
      "<Error><Code>InvalidAccessKeyId</Code><Message>The AWS Access Key Id you provided does not exist in our records.</Message><Resource>/a/p</Resource><RequestId>rid</RequestId></Error>"],
    [new PreconditionFailed(), 412,
      "<Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message><Resource>/a/p</Resource><RequestId>rid</RequestId></Error>"],
    [new InvalidRange({ size: 42 }), 416,
      "<Error><Code>InvalidRange</Code><Message>The requested range is not satisfiable</Message><ActualObjectSize>42</ActualObjectSize><Resource>/a/p</Resource><RequestId>rid</RequestId></Error>"],
    [new InternalError({ reason: "stack trace here" }), 500,
      "<Error><Code>InternalError</Code><Message>Internal server error</Message><Resource>/a/p</Resource><RequestId>rid</RequestId></Error>"],
    [new CatalogFailure({ reason: "http://api/secret: invalid JSON" }), 500,
      "<Error><Code>InternalError</Code><Message>Internal server error</Message><Resource>/a/p</Resource><RequestId>rid</RequestId></Error>"],
    [new UnsupportedProvider({ provider: "gopher" }), 500,
      "<Error><Code>InternalError</Code><Message>Internal server error</Message><Resource>/a/p</Resource><RequestId>rid</RequestId></Error>"],
    [new CatalogUnavailable({ reason: "Timeout http://api" }), 503,
      "<Error><Code>ServiceUnavailable</Code><Message>Service unavailable</Message><Resource>/a/p</Resource><RequestId>rid</RequestId></Error>"],
    [new BackendUnavailable({ reason: "Transport http://backend" }), 503,
      "<Error><Code>ServiceUnavailable</Code><Message>Service unavailable</Message><Resource>/a/p</Resource><RequestId>rid</RequestId></Error>"],
    [new EntityTooSmall(), 400,
      "<Error><Code>EntityTooSmall</Code><Message>Your proposed upload is smaller than the minimum allowed object size.</Message><Resource>/a/p</Resource><RequestId>rid</RequestId></Error>"],
    [new BackendAuthenticationFailed({ code: "UnsupportedAuthType" }), 502,
      "<Error><Code>BackendAuthenticationFailed</Code><Message>Failed to obtain backend credentials: UnsupportedAuthType</Message><Resource>/a/p</Resource><RequestId>rid</RequestId></Error>"]
  ]

  for (const [error, status, body] of cases) {
    it(`${error._tag} → ${status}`, () => {
      const reply = renderS3Error(error, "/a/p", "rid", "GET")
      expect(reply.status).toBe(status)
      expect(reply.body).toBe(DECL + body)
      expect(reply.headers.get("content-type")).toBe("application/xml")
      expect(reply.headers.get("x-amz-request-id")).toBe("rid")
    })

    it(`${error._tag} on HEAD: same status and headers, no body`, () => {
      const reply = renderS3Error(error, "/a/p", "rid", "HEAD")
      expect(reply.status).toBe(status)
      expect(reply.body).toBeNull()
      expect(reply.headers.get("x-amz-request-id")).toBe("rid")
    })
  }

  it("an empty resource is a self-closed element; the resource is escaped", () => {
    expect(renderS3Error(new InvalidAccessKeyId(), "", "r", "GET").body).toContain("<Resource/><RequestId>r</RequestId>")
    expect(renderS3Error(new InvalidAccessKeyId(), "/a/b&c'd", "r", "GET").body).toContain("<Resource>/a/b&amp;c&apos;d</Resource>")
  })

  it("control characters in the key are percent-encoded in Message, Key and Resource", () => {
    const key = "p/a\u0001b\nc\u007f\u0085"
    const body = String(renderS3Error(new NoSuchKey({ key }), `/acct/${key}`, "r", "GET").body)
    expect(body).toContain("<Key>p/a%01b%0Ac%7F%C2%85</Key><Resource>/acct/p/a%01b%0Ac%7F%C2%85</Resource>")
    const invalid = String(renderS3Error(invalidKey("a\u0000b"), "/acct/p/a\u0000b", "r", "GET").body)
    expect(invalid).toContain("<Message>invalid object key &quot;a%00b&quot;")
    expect(invalid).toContain("<Resource>/acct/p/a%00b</Resource>")
  })

  it("InvalidRange carries content-range: bytes */size", () => {
    expect(renderS3Error(new InvalidRange({ size: 42 }), "/a", "r", "GET").headers.get("content-range")).toBe("bytes */42")
  })
})

const entry = (key: string, size = 3) => ({
  key,
  size,
  lastModified: new Date("2024-01-02T03:04:05.006Z"),
  etag: "\"abc\""
})

const result = (overrides: Partial<ListResult> = {}): ListResult => ({
  bucket: "demo",
  params: listParams(),
  prefix: "",
  delimiter: "",
  contents: [],
  commonPrefixes: [],
  isTruncated: false,
  nextContinuationToken: undefined,
  nextMarker: undefined,
  ...overrides
})

const CONTENTS_A =
  "<Contents><Key>sample/a.txt</Key><LastModified>2024-01-02T03:04:06.000Z</LastModified><ETag>&quot;abc&quot;</ETag><Size>3</Size><StorageClass>STANDARD</StorageClass></Contents>"

describe("renderListResult", () => {
  it("LastModified is the end of the object's second: never before the write, so aws s3 sync sees no change", () => {
    expect(listedLastModified(new Date("2024-01-02T03:04:05.000Z"))).toBe("2024-01-02T03:04:06.000Z") // S3 truncates
    expect(listedLastModified(new Date("2024-01-02T03:04:05.999Z"))).toBe("2024-01-02T03:04:06.000Z")
    // A file written at .037 and uploaded in the same second: the listing is not older than the file.
    const written = new Date("2024-01-02T03:04:05.037Z")
    expect(new Date(listedLastModified(new Date("2024-01-02T03:04:05.000Z"))).getTime()).toBeGreaterThanOrEqual(written.getTime())
  })

  it("LastModified is written as toISOString writes the next whole second, for any date (the day prefixes are remembered)", () => {
    const reference = (date: Date) => new Date((Math.floor(date.getTime() / 1000) + 1) * 1000).toISOString()
    // Years 0000–9999 and the six-digit years beyond, second and day boundaries included.
    const edges = ["1969-12-31T23:59:59.999Z", "1970-01-01T00:00:00.000Z", "2024-02-28T23:59:59.500Z", "2024-12-31T23:59:59.000Z",
      "9999-12-31T23:59:59.000Z", "0000-01-01T00:00:00.000Z", "-000001-12-31T23:59:59.000Z"]
    for (const edge of edges) expect(listedLastModified(new Date(edge))).toBe(reference(new Date(edge)))
    fc.assert(fc.property(fc.date({ min: new Date("-010000-01-01T00:00:00Z"), max: new Date("+020000-01-01T00:00:00Z"), noInvalidDate: true }),
      (date) => listedLastModified(date) === reference(date)), { numRuns: 5000 })
    // Many entries of few days, as a page has them: the remembered prefix is the day's.
    fc.assert(fc.property(fc.integer({ min: 0, max: 86_399_999 }), fc.integer({ min: 19_000, max: 19_010 }),
      (within, day) => listedLastModified(new Date(day * 86_400_000 + within)) === reference(new Date(day * 86_400_000 + within))))
  })

  it("V2, every optional element, in S3's order", () => {
    const xml = renderListResult(result({
      params: listParams({ prefix: "sample/", delimiter: "/", maxKeys: 2, startAfter: "sample/0", continuationToken: "tok-1" }),
      prefix: "sample/",
      delimiter: "/",
      contents: [entry("sample/a.txt")],
      commonPrefixes: ["sample/dir/"],
      isTruncated: true,
      nextContinuationToken: "tok-2"
    }))
    expect(xml).toBe(
      `${DECL}<ListBucketResult ${NS}><Name>demo</Name><Prefix>sample/</Prefix><Delimiter>/</Delimiter>`
        + "<MaxKeys>2</MaxKeys><IsTruncated>true</IsTruncated><KeyCount>2</KeyCount><StartAfter>sample/0</StartAfter>"
        + "<ContinuationToken>tok-1</ContinuationToken><NextContinuationToken>tok-2</NextContinuationToken>"
        + CONTENTS_A + "<CommonPrefixes><Prefix>sample/dir/</Prefix></CommonPrefixes></ListBucketResult>"
    )
  })

  it("V2, minimal: <Prefix/> when empty, no Delimiter, no tokens", () => {
    expect(renderListResult(result())).toBe(
      `${DECL}<ListBucketResult ${NS}><Name>demo</Name><Prefix/><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>`
        + "<KeyCount>0</KeyCount></ListBucketResult>"
    )
  })

  it("V1: Marker always (<Marker/> when none), NextMarker when given, no KeyCount", () => {
    expect(renderListResult(result({ params: listParams({ version: 1 }), contents: [entry("sample/a.txt")] }))).toBe(
      `${DECL}<ListBucketResult ${NS}><Name>demo</Name><Prefix/><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>`
        + `<Marker/>${CONTENTS_A}</ListBucketResult>`
    )
    expect(renderListResult(result({
      params: listParams({ version: 1, startAfter: "sample/0", maxKeys: 1 }),
      prefix: "sample/",
      delimiter: "/",
      contents: [entry("sample/a.txt")],
      isTruncated: true,
      nextMarker: "sample/a.txt"
    }))).toBe(
      `${DECL}<ListBucketResult ${NS}><Name>demo</Name><Prefix>sample/</Prefix><Delimiter>/</Delimiter><MaxKeys>1</MaxKeys>`
        + `<IsTruncated>true</IsTruncated><Marker>sample/0</Marker><NextMarker>sample/a.txt</NextMarker>${CONTENTS_A}</ListBucketResult>`
    )
  })

  it("encoding-type=url encodes Key, Prefix, Delimiter, StartAfter and CommonPrefixes, keeps `/`, not the tokens", () => {
    const xml = renderListResult(result({
      params: listParams({ prefix: "p q/", delimiter: "/", encodingType: "url", startAfter: "p q/a+b", continuationToken: "t+/=" }),
      prefix: "p q/",
      delimiter: "/",
      contents: [entry("p q/a+b c=ü.txt")],
      commonPrefixes: ["p q/d&e/"],
      nextContinuationToken: "n+/="
    }))
    expect(xml).toContain("<Prefix>p%20q/</Prefix><Delimiter>/</Delimiter><EncodingType>url</EncodingType>")
    expect(xml).toContain("<StartAfter>p%20q/a%2Bb</StartAfter><ContinuationToken>t+/=</ContinuationToken>")
    expect(xml).toContain("<NextContinuationToken>n+/=</NextContinuationToken>")
    expect(xml).toContain("<Key>p%20q/a%2Bb%20c%3D%C3%BC.txt</Key>")
    expect(xml).toContain("<CommonPrefixes><Prefix>p%20q/d%26e/</Prefix></CommonPrefixes>")
  })

  it("encoding-type=url encodes V1 Marker and NextMarker", () => {
    const xml = renderListResult(result({
      params: listParams({ version: 1, encodingType: "url", startAfter: "a b" }),
      isTruncated: true,
      nextMarker: "c+d"
    }))
    expect(xml).toContain("<Marker>a%20b</Marker><NextMarker>c%2Bd</NextMarker>")
  })

  it("without encoding, special characters are XML-escaped", () => {
    const xml = renderListResult(result({ contents: [entry("a&b<c>\"'.txt")] }))
    expect(xml).toContain("<Key>a&amp;b&lt;c&gt;&quot;&apos;.txt</Key>")
  })

  const key = fc.string({ unit: "grapheme", minLength: 1, maxLength: 12 })
  // eslint-disable-next-line no-control-regex
  const printableKey = key.filter((k) => !/[\u0000-\u001f\u007f-\u009f\ufffe\uffff]/.test(k))

  it.prop("with encoding-type=url, decodeURIComponent of each Key is the key", [fc.array(key, { minLength: 1, maxLength: 5 })], ([keys]) => {
    const xml = renderListResult(result({ params: listParams({ encodingType: "url" }), contents: keys.map((k) => entry(k)) }))
    const rendered = [...xml.matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => decodeURIComponent(m[1]!))
    expect(rendered).toStrictEqual(keys)
  })

  const parser = new XMLParser({ parseTagValue: false, trimValues: false, isArray: (name) => name === "Contents" })

  it.prop("without encoding, an XML parser reads back every key", [fc.array(printableKey, { minLength: 1, maxLength: 5 })], ([keys]) => {
    const xml = renderListResult(result({ contents: keys.map((k) => entry(k)) }))
    const doc = parser.parse(xml) as { ListBucketResult: { Contents: Array<{ Key: string }> } }
    expect(doc.ListBucketResult.Contents.map((c) => String(c.Key))).toStrictEqual(keys)
  })
})

/** Any text: control characters, lone surrogates, U+FFFE/U+FFFF and markup characters weighted in. */
const anyText = fc.array(
  fc.oneof(
    fc.constantFrom("\u0000", "\u0001", "\t", "\n", "\r", "\u001f", "\u007f", "\u0085", "\ud800", "\udfff", "\ufffe", "\uffff", "&", "<", "]]>", "\"", "😀"),
    fc.string({ unit: "binary", minLength: 1, maxLength: 3 })
  ),
  { maxLength: 10 }
).map((parts) => parts.join(""))

/** What a client reads back: control characters percent-encoded, what UTF-8 or XML cannot carry as U+FFFD. */
const shown = (text: string) =>
  // eslint-disable-next-line no-control-regex
  text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => encodeURIComponent(c)).replace(/[\ufffe\uffff]|\p{Cs}/gu, "\ufffd")

const textOf = (root: XmlElement, name: string) => root.children.find((c) => c.name === name)?.text

describe("error XML is well-formed whatever the key held", () => {
  const render = (key: string) => ({
    missing: String(renderS3Error(new NoSuchKey({ key: `p/${key}` }), `/acct/p/${key}`, "r", "GET").body),
    invalid: String(renderS3Error(invalidKey(key), `/acct/p/${key}`, "r", "GET").body)
  })

  it.prop("a strict XML parser reads Code, Key, Message and Resource back", [anyText], ([key]) => {
    const { missing, invalid } = render(key)
    const root = Either.getOrThrow(parseXml(missing))
    expect(textOf(root, "Code")).toBe("NoSuchKey")
    expect(textOf(root, "Key")).toBe(shown(`p/${key}`))
    expect(textOf(root, "Resource")).toBe(shown(`/acct/p/${key}`))
    const other = Either.getOrThrow(parseXml(invalid))
    expect(textOf(other, "Code")).toBe("InvalidRequest")
    expect(textOf(other, "Message")).toBe(shown(invalidKey(key).message))
  }, { fastCheck: { numRuns: 1000 } })

  it("expat reads every sampled error document, with the same texts", () => {
    const keys = fc.sample(anyText, { numRuns: 300, seed: 42 })
    const documents = keys.flatMap((key) => {
      const { missing, invalid } = render(key)
      return [missing, invalid]
    })
    const results = expatParse(documents)
    keys.forEach((key, i) => {
      const [missing, invalid] = [results[2 * i]!, results[2 * i + 1]!]
      expect(missing.ok && invalid.ok, JSON.stringify(key)).toBe(true)
      if (!missing.ok || !invalid.ok) return
      expect(childText(missing.tree, "Resource")).toBe(shown(`/acct/p/${key}`))
      expect(childText(missing.tree, "Key")).toBe(shown(`p/${key}`))
      expect(childText(invalid.tree, "Message")).toBe(shown(invalidKey(key).message))
    })
  })

  it.prop("a listing stays well-formed whatever keys the backend holds (what XML cannot carry reads as U+FFFD)", [fc.array(anyText.filter((k) => k !== ""), { minLength: 1, maxLength: 4 })], ([keys]) => {
    const root = Either.getOrThrow(parseXml(renderListResult(result({ contents: keys.map((k) => entry(k)) }))))
    const listed = root.children.filter((c) => c.name === "Contents").map((c) => textOf(c, "Key"))
    expect(listed).toStrictEqual(keys.map((k) => k.replace(/[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]/gu, "\ufffd")))
  })
})

describe("escapeXml and decodeText: the one-pass scans say what the regular expressions say", () => {
  const XML_ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&apos;", "\r": "&#13;" }
  const escapeByRegex = (text: string) =>
    text.replace(/[&<>"'\r]|[^\t\n\u0020-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]/gu, (c) => XML_ESCAPES[c] ?? "\ufffd")
  const ENTITIES: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: "\"", apos: "'" }
  const decodeByRegex = (raw: string) =>
    raw.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|lt|gt|amp|quot|apos);/g, (whole, name: string) =>
      name.startsWith("#x")
        ? String.fromCodePoint(parseInt(name.slice(2), 16))
        : name.startsWith("#")
        ? String.fromCodePoint(Number(name.slice(1)))
        : ENTITIES[name] ?? whole)
  const references = fc.array(
    fc.oneof(
      fc.constantFrom("&", ";", "amp", "lt", "#", "x", "4", "1", "F", "quot", "&amp;", "&#x41;", "&#65;", "&#x;", "&#;", "&constructor;", "&toString;"),
      fc.string({ maxLength: 2 })
    ),
    { maxLength: 10 }
  ).map((parts) => parts.join(""))

  // The shapes the fast paths take (a quoted token, a plain name), and the same with anything inside.
  const quotedText = anyText.map((text) => `"${text}"`)
  const quotedReferences = references.map((raw) => `&quot;${raw}&quot;`)

  it.prop("escapeXml of any text", [fc.oneof(anyText, quotedText, fc.string({ unit: "binary-ascii" }))], ([text]) => {
    expect(escapeXml(text)).toBe(escapeByRegex(text))
  })
  it.prop("decodeText of text full of (half) references", [fc.oneof(references, quotedReferences)], ([raw]) => {
    expect(decodeText(raw)).toBe(decodeByRegex(raw))
  })
  it("an ASCII text with nothing to escape is returned as is; an ETag's quotes are escaped", () => {
    expect(escapeXml("data/k/00001.bin")).toBe("data/k/00001.bin")
    expect(escapeXml("\"0a1b\"")).toBe("&quot;0a1b&quot;")
    expect(decodeText("&quot;0a1b&quot;")).toBe("\"0a1b\"")
  })
})
