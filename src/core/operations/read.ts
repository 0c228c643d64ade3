import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { narrowListing, readable, visibleProduct } from "../authz/enforce.js"
import type { Identity } from "../authz/Identity.js"
import { backendKey } from "../backends/keys.js"
import type { Storage } from "../backends/ObjectStore.js"
import { bypassed, objectCacheKey } from "../cache/objectCache.js"
import { readThrough } from "../cache/readThrough.js"
import { Catalog } from "../catalog/Catalog.js"
import { isPublic } from "../catalog/schema.js"
import { emptyReply, type Reply, xmlReply } from "../http/Reply.js"
import type { S3Request } from "../http/S3Request.js"
import { NoSuchKey, type S3Error } from "../s3/errors.js"
import type { ObjectTarget } from "../s3/keys.js"
import { renderListResult } from "../s3/listResult.js"
import { S3_NAMESPACE, XML_DECLARATION } from "../s3/xml.js"
import { AppConfig } from "../services/AppConfig.js"
import type { EdgeCache } from "../services/EdgeCache.js"
import { listAccount, listProductPath } from "./list.js"
import type { ReadOperation } from "./Operation.js"

type Answer = Effect.Effect<Reply, S3Error, Catalog | Storage | AppConfig | EdgeCache>

/**
 * An object's bytes or headers. A GET of a public product is answered through the chunk cache, whose answer is
 * the same for every caller (docs/caching.md#the-chunk-cache); any other read, and a GET the cache cannot
 * answer exactly, streams from the backend with the client's own headers.
 */
const readObject = (request: S3Request, target: ObjectTarget, method: "GET" | "HEAD", identity: Identity): Answer =>
  readObjectOf(request, target, method, identity).pipe(
    Effect.catchTag("NoSuchKey", () => Effect.fail(new NoSuchKey({ key: `${target.product}/${target.key}` })))
  )

const readObjectOf = Effect.fnUntraced(
  function*(request: S3Request, target: ObjectTarget, method: "GET" | "HEAD", identity: Identity) {
    const product = yield* readable(identity, target)
    const key = backendKey(product.prefix, target.key)
    const { store } = product
    const fromBackend = () => store.read({ key, method, headers: request.headers })
    if (method === "HEAD") return yield* fromBackend()
    const { chunkCache } = yield* AppConfig
    if (Option.isNone(chunkCache) || !isPublic(product.meta)) return bypassed(yield* fromBackend())
    const cached = yield* readThrough({
      ...chunkCache.value,
      key: objectCacheKey(target),
      headers: request.headers,
      head: () => store.read({ key, method: "HEAD", headers: new Headers() }),
      fetchRange: (start, end, etag) =>
        store.read({ key, method: "GET", headers: new Headers({ range: `bytes=${start}-${end}`, "if-match": etag }) })
    })
    return cached._tag === "Served" ? cached.reply : bypassed(yield* fromBackend())
  }
)

/** An account answers as long as the catalog knows it. */
const accountExists = (account: string) => Effect.flatMap(Catalog, (catalog) => catalog.products(account))

/**
 * The reads of stored data (docs/s3-compatibility.md#reads) and its listings (docs/listing.md#forms-of-a-listing).
 */
export const executeRead = (request: S3Request, op: ReadOperation, identity: Identity): Answer => {
  switch (op._tag) {
    case "ListAccount":
      return Effect.map(listAccount(op.account, op.list, identity), (result) =>
        xmlReply(renderListResult(narrowListing(identity, op.account)(result))))
    case "ListProduct":
      return Effect.map(listProductPath(op.account, op.product, op.list, identity), (result) =>
        xmlReply(renderListResult(narrowListing(identity, op.account)(result))))
    case "GetBucketLocation":
      return accountExists(op.account).pipe(Effect.as(xmlReply(`${XML_DECLARATION}<LocationConstraint xmlns="${S3_NAMESPACE}"/>`)))
    case "HeadBucket":
      return Effect.as(
        op.product === undefined ? Effect.asVoid(accountExists(op.account)) : Effect.asVoid(visibleProduct(identity, op.account, op.product)),
        emptyReply(200)
      )
    case "GetObject":
      return readObject(request, op.target, "GET", identity)
    case "HeadObject":
      return readObject(request, op.target, "HEAD", identity)
  }
}
