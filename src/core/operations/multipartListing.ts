import * as Effect from "effect/Effect"
import { writable } from "../authz/enforce.js"
import type { Identity } from "../authz/Identity.js"
import { backendKey, clientKeys } from "../backends/keys.js"
import type { Storage } from "../backends/ObjectStore.js"
import type { Catalog } from "../catalog/Catalog.js"
import { parseQuery, type Query } from "../http/query.js"
import { type Reply, xmlReply } from "../http/Reply.js"
import type { S3Request } from "../http/S3Request.js"
import { InvalidArgument, NotImplemented, type S3Error } from "../s3/errors.js"
import type { ObjectTarget } from "../s3/keys.js"
import { uriEncode } from "../s3/uriEncode.js"
import { listPartsXml, listUploadsXml, type ListUploadsView } from "../s3/writeXml.js"
import { compareUtf8 } from "../shared/utf8.js"
import { lacking } from "./multipart.js"

/*
 * The multipart listings: ListParts and ListMultipartUploads. They count as writes (authorized as a write on
 * the target). Each needs an optional `ObjectWriter` member; a writer without it answers 501 NotImplemented.
 */

/** A non-negative integer query parameter (absent: `fallback`; above `max`: `max`, as S3 caps it). */
const countParam = (query: Query, name: string, fallback: number, max: number): Effect.Effect<number, InvalidArgument> => {
  const raw = query.get(name)
  if (raw === undefined || raw === "") return Effect.succeed(fallback)
  return /^\d+$/.test(raw.trim())
    ? Effect.succeed(Math.min(Number(raw.trim()), max))
    : Effect.fail(new InvalidArgument({ message: `${name} must be a non-negative integer` }))
}

const nonEmpty = (value: string | undefined) => (value === undefined || value === "" ? undefined : value)

/** ListParts (`GET /{account}/{product}/{key}?uploadId=`): the upload's parts, keys in the client's namespace. */
export const listParts: (
  identity: Identity,
  request: S3Request,
  target: ObjectTarget,
  uploadId: string
) => Effect.Effect<Reply, S3Error, Catalog | Storage> = Effect.fnUntraced(
  function*(identity: Identity, request: S3Request, target: ObjectTarget, uploadId: string) {
    const query = parseQuery(request.url.search)
    const maxParts = yield* countParam(query, "max-parts", 1000, 1000)
    const partNumberMarker = yield* countParam(query, "part-number-marker", 0, 10_000)
    const { writer, key } = yield* writable(identity, target)
    if (writer.listParts === undefined) return yield* lacking("ListParts")
    const page = yield* writer.listParts({ key, uploadId, maxParts, partNumberMarker })
    return xmlReply(listPartsXml({
      bucket: target.account,
      key: `${target.product}/${target.key}`,
      uploadId,
      partNumberMarker,
      nextPartNumberMarker: page.nextPartNumberMarker,
      maxParts,
      isTruncated: page.isTruncated,
      parts: page.parts
    }))
  }
)

/**
 * ListMultipartUploads. The client's namespace is the account's (keys `{product}/{key}`):
 * - `GET /{account}/{product}?uploads&prefix=p`: `p` is within the product, as ListObjects at that level;
 * - `GET /{account}?uploads&prefix={product}/…`: the product is the prefix's first segment, as listings
 *   resolve it; an empty prefix answers an empty result (uploads are never listed across products).
 * Keys, prefix and markers in the answer are in the client's namespace (`{product}/…`).
 */
export const listUploads: (
  identity: Identity,
  request: S3Request,
  account: string,
  product: string | undefined
) => Effect.Effect<Reply, S3Error, Catalog | Storage> = Effect.fnUntraced(
  function*(identity: Identity, request: S3Request, account: string, product: string | undefined) {
    const query = parseQuery(request.url.search)
    const maxUploads = yield* countParam(query, "max-uploads", 1000, 1000)
    if ((query.get("delimiter") ?? "") !== "") {
      return yield* new NotImplemented({ message: "ListMultipartUploads with a delimiter is not supported by this proxy" })
    }
    const clientPrefix = query.get("prefix") ?? ""
    const keyMarker = nonEmpty(query.get("key-marker"))
    const uploadIdMarker = keyMarker === undefined ? undefined : nonEmpty(query.get("upload-id-marker"))
    const encodingType = query.get("encoding-type")
    const encode = encodingType === "url" ? uriEncode : (text: string) => text

    // The product, and the prefix in the client's namespace (`{product}/…`).
    const slash = clientPrefix.indexOf("/")
    const productId = product ?? (slash < 0 ? clientPrefix : clientPrefix.slice(0, slash))
    const fullPrefix = product !== undefined ? `${product}/${clientPrefix}` : slash < 0 ? `${productId}/` : clientPrefix
    const view: ListUploadsView = {
      bucket: account,
      keyMarker: keyMarker ?? "",
      uploadIdMarker: uploadIdMarker ?? "",
      nextKeyMarker: undefined,
      nextUploadIdMarker: undefined,
      prefix: product !== undefined ? fullPrefix : clientPrefix,
      maxUploads,
      isTruncated: false,
      encodingType,
      uploads: []
    }
    const empty = xmlReply(listUploadsXml(view, encode))
    if (productId === "") return empty

    const root = `${productId}/`
    const within = fullPrefix.slice(root.length)
    const { resolved, writer } = yield* writable(identity, { account, product: productId, key: within })
    if (writer.listUploads === undefined) return yield* lacking("ListMultipartUploads")
    if (maxUploads === 0) return empty

    // A marker is a client key (`{product}/…`): before the product it is no bound, after it nothing is left.
    let backendMarker: string | undefined
    if (keyMarker !== undefined) {
      if (keyMarker.startsWith(root)) backendMarker = backendKey(resolved.prefix, keyMarker.slice(root.length))
      else if (compareUtf8(keyMarker, root) > 0) return empty
    }
    const storePrefix = backendKey(resolved.prefix, within)
    const page = yield* writer.listUploads({
      prefix: storePrefix,
      keyMarker: backendMarker,
      uploadIdMarker: backendMarker === undefined ? undefined : uploadIdMarker,
      maxUploads
    })
    const toClient = clientKeys(root, resolved.prefix)
    return xmlReply(listUploadsXml({
      ...view,
      nextKeyMarker: page.nextKeyMarker === undefined ? undefined : toClient(page.nextKeyMarker),
      nextUploadIdMarker: page.nextUploadIdMarker,
      isTruncated: page.isTruncated,
      uploads: page.uploads.filter((u) => u.key.startsWith(storePrefix)).map((u) => ({ ...u, key: toClient(u.key) }))
    }, encode))
  }
)

