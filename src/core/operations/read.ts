import * as Effect from "effect/Effect"
import { narrowListing, readable, visibleProduct } from "../authz/enforce.js"
import type { Identity } from "../authz/Identity.js"
import { backendKey } from "../backends/keys.js"
import type { Storage } from "../backends/ObjectStore.js"
import { Catalog } from "../catalog/Catalog.js"
import { emptyReply, type Reply, xmlReply } from "../http/Reply.js"
import type { S3Request } from "../http/S3Request.js"
import { NoSuchKey, type S3Error } from "../s3/errors.js"
import type { ObjectTarget } from "../s3/keys.js"
import { renderListResult } from "../s3/listResult.js"
import { S3_NAMESPACE, XML_DECLARATION } from "../s3/xml.js"
import { listAccount, listProductPath } from "./list.js"
import type { ReadOperation } from "./Operation.js"

type Answer = Effect.Effect<Reply, S3Error, Catalog | Storage>

const readObject = (request: S3Request, target: ObjectTarget, method: "GET" | "HEAD", identity: Identity): Answer =>
  Effect.gen(function*() {
    const product = yield* readable(identity, target)
    return yield* product.store.read({ key: backendKey(product.prefix, target.key), method, headers: request.headers })
  }).pipe(Effect.catchTag("NoSuchKey", () => Effect.fail(new NoSuchKey({ key: `${target.product}/${target.key}` }))))

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
