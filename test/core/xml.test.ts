import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import { XMLParser } from "fast-xml-parser"
import {
  AccessDenied,
  BackendAuthenticationFailed,
  BackendUnavailable,
  CatalogFailure,
  CatalogUnavailable,
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
import { type ListResult, renderListResult } from "../../src/core/s3/listResult.js"
import { renderS3Error } from "../../src/core/s3/renderError.js"
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
  "<Contents><Key>sample/a.txt</Key><LastModified>2024-01-02T03:04:05.006Z</LastModified><ETag>&quot;abc&quot;</ETag><Size>3</Size><StorageClass>STANDARD</StorageClass></Contents>"

describe("renderListResult", () => {
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
