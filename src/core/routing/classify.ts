import * as Effect from "effect/Effect"
import type { S3Request } from "../http/S3Request.js"
import { InvalidArgument, InvalidRequest, InvalidURI, NoSuchBucket, NoSuchKey, NotImplemented } from "../s3/errors.js"
import { asksForListing, parseListParams } from "../s3/listParams.js"
import { invalidKey, keyProblem } from "../s3/keys.js"
import type { Operation } from "../operations/Operation.js"
import type { ObjectTarget } from "../s3/keys.js"
import { parseQuery, type Query } from "../http/query.js"

/**
 * S3 subresources this proxy does not implement. Answering 501 is the point: a client that sends
 * `?acl` or `?tagging` must never get an object read (GET) or an overwrite (PUT) instead.
 */
const UNSUPPORTED_SUBRESOURCES = [
  "accelerate", "acl", "analytics", "attributes", "cors", "encryption", "intelligent-tiering", "inventory",
  "legal-hold", "lifecycle", "logging", "metadataConfiguration", "metadataTable", "metrics", "notification",
  "object-lock", "ownershipControls", "policy", "policyStatus", "publicAccessBlock", "replication",
  "requestPayment", "restore", "retention", "select", "session", "tagging", "torrent", "versioning", "versions",
  "website", "renameObject"
]

const STS_PATHS = new Set(["/.sts", "/.sts/", "/.sts/assume-role-with-web-identity"])

export interface PathParts {
  readonly account: string | undefined
  readonly product: string | undefined
  readonly key: string | undefined
}

const decode = (segment: string): Effect.Effect<string, InvalidURI> =>
  Effect.try({
    try: () => decodeURIComponent(segment),
    catch: () => new InvalidURI({ message: "Couldn't parse the specified URI." })
  })

/**
 * `/{account}/{product}/{key…}` from the raw (still percent-encoded) path. Account and product are single
 * segments, so an encoded `/` (`%2F`) can never move a boundary; the key is decoded whole.
 */
export const splitPath: (rawPath: string) => Effect.Effect<PathParts, InvalidURI> = Effect.fnUntraced(
  function*(rawPath) {
    const [, accountRaw = "", productRaw = "", ...rest] = rawPath.split("/")
    const keyRaw = rest.join("/")
    return {
      account: accountRaw === "" ? undefined : yield* decode(accountRaw),
      product: productRaw === "" ? undefined : yield* decode(productRaw),
      key: keyRaw === "" ? undefined : yield* decode(keyRaw)
    }
  }
)

/** `x-amz-copy-source`: `[/]{account}/{product}/{key}[?versionId=…]`, key percent-encoded. */
const parseCopySource = (header: string): Effect.Effect<ObjectTarget, InvalidRequest> => {
  const malformed = new InvalidRequest({ message: "x-amz-copy-source must be /{account}/{product}/{key}" })
  const [path = ""] = header.replace(/^\//, "").split("?versionId=")
  const [accountRaw = "", productRaw = "", ...rest] = path.split("/")
  const keyRaw = rest.join("/")
  if (accountRaw === "" || productRaw === "" || keyRaw === "") return Effect.fail(malformed)
  return Effect.try({
    try: () => ({
      account: decodeURIComponent(accountRaw),
      product: decodeURIComponent(productRaw),
      key: decodeURIComponent(keyRaw)
    }),
    catch: () => malformed
  }).pipe(Effect.filterOrFail((t) => !keyProblem(t.key), (t) => new InvalidRequest({ message: invalidKey(t.key).message })))
}

const missingKey = (method: string) =>
  new InvalidRequest({
    message: `Missing object key: a ${method} must address an object at /{account}/{product}/{key}, not the product root.`
  })

const hasEmptyBody = (request: S3Request): boolean => {
  const length = request.headers.get("content-length")
  const chunked = request.headers.get("transfer-encoding") !== null
  return request.body === null || (!chunked && (length === null || length.trim() === "0"))
}

const partNumberOf = (query: Query): Effect.Effect<number, InvalidRequest> => {
  const raw = query.get("partNumber") ?? ""
  const n = Number(raw)
  return /^\d+$/.test(raw) && n >= 1 && n <= 10000
    ? Effect.succeed(n)
    : Effect.fail(new InvalidRequest({ message: "partNumber must be an integer between 1 and 10000" }))
}

type BucketLevelError = InvalidRequest | InvalidArgument | NoSuchKey

/**
 * Requests that name no object key. `GET`/`HEAD /{account}/{product}` without a trailing slash or a listing
 * parameter is a client asking for the object `{product}` of the bucket `{account}` (`aws s3 cp
 * s3://acct/product x`, rclone's first probe): no such object can exist, as every key of an account lies
 * under a product, so it is NoSuchKey at once, never a listing saved as a file and never a read of the
 * product's root (docs/s3-compatibility.md#client-rules: HeadBucket is `HEAD /{account}/{product}/`).
 */
const bucketLevel = (
  request: S3Request,
  query: Query,
  account: string,
  product: string | undefined
): Effect.Effect<Operation, BucketLevelError> => {
  const keyOfAccount = request.url.pathname.endsWith("/") || asksForListing(query) ? undefined : product
  switch (request.method) {
    case "GET":
      if (query.has("uploads")) return Effect.succeed({ _tag: "ListMultipartUploads", account, product })
      if (product === undefined && query.has("location")) return Effect.succeed({ _tag: "GetBucketLocation", account })
      if (keyOfAccount !== undefined) return Effect.fail(new NoSuchKey({ key: keyOfAccount }))
      return Effect.map(parseListParams(query), (list): Operation =>
        product === undefined ? { _tag: "ListAccount", account, list } : { _tag: "ListProduct", account, product, list })
    case "HEAD":
      return keyOfAccount !== undefined
        ? Effect.fail(new NoSuchKey({ key: keyOfAccount }))
        : Effect.succeed({ _tag: "HeadBucket", account, product })
    case "PUT":
      return hasEmptyBody(request)
        ? Effect.succeed({ _tag: "CreateBucket", account, product })
        : Effect.fail(missingKey("PUT"))
    case "DELETE":
      return Effect.fail(missingKey("DELETE"))
    case "POST":
      return query.has("delete")
        ? Effect.succeed({ _tag: "DeleteObjects", account, product })
        : Effect.fail(new InvalidRequest({ message: "unsupported POST operation" }))
    default:
      return Effect.fail(new InvalidRequest({ message: `unsupported method: ${request.method}` }))
  }
}

const objectLevel = (
  request: S3Request,
  query: Query,
  target: ObjectTarget
): Effect.Effect<Operation, InvalidRequest> => {
  const uploadId = query.get("uploadId")
  const copySource = request.headers.get("x-amz-copy-source")
  switch (request.method) {
    case "GET":
      return Effect.succeed(uploadId === undefined ? { _tag: "GetObject", target } : { _tag: "ListParts", target, uploadId })
    case "HEAD":
      return Effect.succeed({ _tag: "HeadObject", target })
    case "PUT":
      if (uploadId !== undefined) {
        return Effect.flatMap(partNumberOf(query), (partNumber): Effect.Effect<Operation, InvalidRequest> =>
          copySource === null
            ? Effect.succeed({ _tag: "UploadPart", target, uploadId, partNumber })
            : Effect.map(parseCopySource(copySource), (source) =>
              ({ _tag: "UploadPartCopy", target, source, uploadId, partNumber })))
      }
      return copySource === null
        ? Effect.succeed({ _tag: "PutObject", target })
        : Effect.map(parseCopySource(copySource), (source) => ({ _tag: "CopyObject", target, source }) as const)
    case "POST":
      if (query.has("uploads")) return Effect.succeed({ _tag: "CreateMultipartUpload", target })
      if (uploadId !== undefined) return Effect.succeed({ _tag: "CompleteMultipartUpload", target, uploadId })
      return Effect.fail(new InvalidRequest({ message: "unsupported POST operation" }))
    case "DELETE":
      return Effect.succeed(
        uploadId === undefined ? { _tag: "DeleteObject", target } : { _tag: "AbortMultipartUpload", target, uploadId }
      )
    default:
      return Effect.fail(new InvalidRequest({ message: `unsupported method: ${request.method}` }))
  }
}

/** Decide the operation from method, path and query. Pure: no identity, no I/O. */
export const classify: (
  request: S3Request
) => Effect.Effect<Operation, BucketLevelError | InvalidURI | NoSuchBucket | NotImplemented> = Effect.fnUntraced(
  function*(request) {
    const path = request.url.pathname
    const method = request.method
    if (STS_PATHS.has(path)) return { _tag: "AssumeRoleWithWebIdentity" } as const
    if (method === "GET" && path === "/.well-known/openid-configuration") return { _tag: "OidcDiscovery" } as const
    if (method === "GET" && path === "/.well-known/jwks.json") return { _tag: "Jwks" } as const

    const query = parseQuery(request.url.search)
    const { account, product, key } = yield* splitPath(path)
    if (account === undefined) {
      if (product !== undefined || key !== undefined) return yield* new NoSuchBucket({ bucket: "" })
      switch (method) {
        case "GET":
          return { _tag: "Index" } as const
        case "PUT":
        case "DELETE":
          return yield* missingKey(method)
        default:
          return yield* new InvalidRequest({ message: "unsupported operation on /" })
      }
    }
    const unsupported = query.names.find((name) => UNSUPPORTED_SUBRESOURCES.includes(name))
    if (unsupported !== undefined) {
      return yield* new NotImplemented({ message: `The ${unsupported} subresource is not supported by this proxy` })
    }
    if (product === undefined) {
      if (key !== undefined) return yield* new NoSuchBucket({ bucket: `${account}/` })
      return yield* bucketLevel(request, query, account, undefined)
    }
    if (key === undefined) return yield* bucketLevel(request, query, account, product)
    if (keyProblem(key)) return yield* invalidKey(key)
    return yield* objectLevel(request, query, { account, product, key })
  }
)
