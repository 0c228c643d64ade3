import { Effect, Schema } from "effect"
import { XMLParser } from "fast-xml-parser"
import type { ListPage } from "../ObjectStore.js"

const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false, // keys such as "0012" or "true" stay strings
  trimValues: false, // keys may begin or end with spaces
  isArray: (name) => name === "Contents" || name === "CommonPrefixes"
})

const Text = Schema.String
const ListBucketResult = Schema.Struct({
  ListBucketResult: Schema.Struct({
    IsTruncated: Schema.optional(Text),
    NextContinuationToken: Schema.optional(Text),
    Contents: Schema.optionalWith(
      Schema.Array(Schema.Struct({
        Key: Text,
        LastModified: Text,
        ETag: Schema.optional(Text),
        Size: Schema.NumberFromString
      })),
      { default: () => [] }
    ),
    CommonPrefixes: Schema.optionalWith(Schema.Array(Schema.Struct({ Prefix: Text })), { default: () => [] })
  })
})

const decode = Schema.decodeUnknown(ListBucketResult)

/** An S3 `ListBucketResult` (V2) document from a backend, decoded at the boundary. */
export const parseListObjectsV2 = (xml: string): Effect.Effect<ListPage, string> =>
  Effect.try({ try: () => parser.parse(xml) as unknown, catch: () => "unparseable XML" }).pipe(
    Effect.flatMap((doc) => Effect.mapError(decode(doc), (e) => `unexpected list document: ${e.message}`)),
    Effect.map(({ ListBucketResult: r }) => ({
      objects: r.Contents.map((c) => ({
        key: c.Key,
        size: c.Size,
        lastModified: new Date(c.LastModified),
        etag: c.ETag ?? "\"\""
      })),
      commonPrefixes: r.CommonPrefixes.map((p) => p.Prefix),
      nextContinuationToken: r.IsTruncated === "true" ? r.NextContinuationToken : undefined
    }))
  )
