import * as Effect from "effect/Effect"
import { backendKey, relativeKey } from "../backends/keys.js"
import type { ObjectWriter, Storage } from "../backends/ObjectStore.js"
import type { Catalog } from "../catalog/Catalog.js"
import type { ResolvedProduct } from "../catalog/resolve.js"
import type { Reply } from "../http/Reply.js"
import type { S3Request } from "../http/S3Request.js"
import { compareUtf8 } from "../routing/keys.js"
import type { ObjectTarget } from "../routing/Operation.js"
import { parseQuery, type Query } from "../routing/query.js"
import { InvalidArgument, NoSuchKey, NotImplemented, type S3Error } from "./errors.js"
import { parseCopySourceRange } from "./range.js"
import { uriEncode } from "./uriEncode.js"
import { copyPartXml, listPartsXml, listUploadsXml, type ListUploadsView } from "./writeXml.js"

/*
 * The multipart bookkeeping of TARGET §7: ListParts, ListMultipartUploads and UploadPartCopy. They count as
 * writes (authorized as a write on the target; UploadPartCopy's source as a read, as CopyObject's). Each
 * needs an optional `ObjectWriter` member; a writer without it answers 501 NotImplemented.
 */

/** What `writes.ts` resolves for a request: passed in, so this module does not import it back. */
export interface Authorizer {
  /** The product and writer of a target the caller may write (403 otherwise). */
  readonly writable: (target: ObjectTarget) => Effect.Effect<
    { readonly resolved: ResolvedProduct; readonly writer: ObjectWriter; readonly key: string },
    S3Error,
    Catalog | Storage
  >
  /** The product of a source the caller may read. */
  readonly readable: (target: ObjectTarget) => Effect.Effect<ResolvedProduct, S3Error, Catalog | Storage>
}

const xmlReply = (body: string): Reply => ({ status: 200, headers: new Headers({ "content-type": "application/xml" }), body })

const lacking = (operation: string) =>
  new NotImplemented({ message: `${operation} is not supported for this product's storage` })

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
export const listParts = (auth: Authorizer, request: S3Request, target: ObjectTarget, uploadId: string) =>
  Effect.gen(function*() {
    const query = parseQuery(request.url.search)
    const maxParts = yield* countParam(query, "max-parts", 1000, 1000)
    const partNumberMarker = yield* countParam(query, "part-number-marker", 0, 10_000)
    const { writer, key } = yield* auth.writable(target)
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
  })

/**
 * ListMultipartUploads. The client's namespace is the account's (keys `{product}/{key}`):
 * - `GET /{account}/{product}?uploads&prefix=p`: `p` is within the product, as ListObjects at that level;
 * - `GET /{account}?uploads&prefix={product}/…`: the product is the prefix's first segment, as listings
 *   resolve it; an empty prefix answers an empty result (uploads are never listed across products).
 * Keys, prefix and markers in the answer are in the client's namespace (`{product}/…`).
 */
export const listUploads = (auth: Authorizer, request: S3Request, account: string, product: string | undefined) =>
  Effect.gen(function*() {
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
    const { resolved, writer } = yield* auth.writable({ account, product: productId, key: within })
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
    const toClient = (key: string) => root + relativeKey(resolved.prefix, key)
    return xmlReply(listUploadsXml({
      ...view,
      nextKeyMarker: page.nextKeyMarker === undefined ? undefined : toClient(page.nextKeyMarker),
      nextUploadIdMarker: page.nextUploadIdMarker,
      isTruncated: page.isTruncated,
      uploads: page.uploads.filter((u) => u.key.startsWith(storePrefix)).map((u) => ({ ...u, key: toClient(u.key) }))
    }, encode))
  })

const COPY_SOURCE_CONDITIONS = [
  "x-amz-copy-source-if-match", "x-amz-copy-source-if-none-match",
  "x-amz-copy-source-if-modified-since", "x-amz-copy-source-if-unmodified-since"
]

/**
 * UploadPartCopy: a part from an object of the proxy's namespace (whole or `x-amz-copy-source-range`), the
 * source authorized for read and the upload's target for write; both on one storage connection.
 */
export const uploadPartCopy = (
  auth: Authorizer,
  request: S3Request,
  op: { readonly target: ObjectTarget; readonly source: ObjectTarget; readonly uploadId: string; readonly partNumber: number }
) =>
  Effect.gen(function*() {
    const rangeHeader = request.headers.get("x-amz-copy-source-range") ?? undefined
    if (rangeHeader !== undefined && parseCopySourceRange(rangeHeader) === undefined) {
      return yield* new InvalidArgument({ message: "The x-amz-copy-source-range value must be of the form bytes=first-last" })
    }
    const from = yield* auth.readable(op.source)
    const to = yield* auth.writable(op.target)
    if (from.connection.data_connection_id !== to.resolved.connection.data_connection_id) {
      return yield* new NotImplemented({
        message: "Copying between products on different storage connections is not supported: download and upload instead"
      })
    }
    if (to.writer.uploadPartCopy === undefined) return yield* lacking("UploadPartCopy")
    const headers = new Headers()
    for (const name of COPY_SOURCE_CONDITIONS) {
      const value = request.headers.get(name)
      if (value !== null) headers.set(name, value)
    }
    const copied = yield* to.writer.uploadPartCopy({
      sourceKey: backendKey(from.prefix, op.source.key),
      key: to.key,
      uploadId: op.uploadId,
      partNumber: op.partNumber,
      range: rangeHeader?.trim(),
      headers
    }).pipe(Effect.catchTag("NoSuchKey", () => Effect.fail(new NoSuchKey({ key: `${op.source.product}/${op.source.key}` }))))
    return xmlReply(copyPartXml(copied.etag, copied.lastModified))
  })
