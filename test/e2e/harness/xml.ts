import { XMLParser } from "fast-xml-parser"

const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  trimValues: false,
  isArray: (name) => name === "Contents" || name === "CommonPrefixes"
})

export interface S3ErrorBody {
  readonly Code: string
  readonly Message?: string
  readonly Resource?: string
  readonly RequestId?: string
  readonly Key?: string
  readonly BucketName?: string
}

/** The `<Error>` document of an S3 error response. */
export const parseError = (xml: string): S3ErrorBody => {
  const doc = parser.parse(xml) as { Error?: S3ErrorBody }
  if (doc.Error === undefined) throw new Error(`not an S3 error document: ${xml}`)
  return doc.Error
}

export interface ListBucketResult {
  readonly Name: string
  readonly Prefix: string
  readonly Delimiter?: string
  readonly EncodingType?: string
  readonly MaxKeys: string
  readonly IsTruncated: string
  readonly KeyCount?: string
  readonly NextContinuationToken?: string
  readonly Contents: ReadonlyArray<{ Key: string; Size: string; ETag: string; LastModified: string }>
  readonly CommonPrefixes: ReadonlyArray<{ Prefix: string }>
}

/** A `ListBucketResult` document, with empty arrays for missing Contents/CommonPrefixes. */
export const parseList = (xml: string): ListBucketResult => {
  const doc = parser.parse(xml) as { ListBucketResult?: Record<string, unknown> }
  const r = doc.ListBucketResult
  if (r === undefined) throw new Error(`not a ListBucketResult: ${xml}`)
  return {
    ...r,
    Prefix: typeof r.Prefix === "string" ? r.Prefix : "",
    Contents: (r.Contents as ListBucketResult["Contents"] | undefined) ?? [],
    CommonPrefixes: (r.CommonPrefixes as ListBucketResult["CommonPrefixes"] | undefined) ?? []
  } as ListBucketResult
}
