import * as Effect from "effect/Effect"
import { backendKey, clientKeys, impossiblePosition } from "../backends/keys.js"
import { isRolledUp } from "../backends/listSorted.js"
import type { ListError, OpenError } from "../backends/ObjectStore.js"
import type { Storage } from "../backends/ObjectStore.js"
import { Catalog, type CatalogError } from "../catalog/Catalog.js"
import { visibleProduct, visibleProducts } from "../authz/enforce.js"
import { anonymous, type Identity } from "../authz/Identity.js"
import { compareUtf8 } from "../shared/utf8.js"
import { listAccountKeys } from "./accountListing.js"
import type { InvalidArgument } from "../s3/errors.js"
import type { ListParams } from "../s3/listParams.js"
import type { ListResult } from "../s3/listResult.js"
import { paginate } from "../s3/pagination.js"

/** Sorts after every key that begins with the same text (U+10FFFF is the largest code point). */
const PAST_PREFIX = "\u{10FFFF}"

const emptyResult = (account: string, params: ListParams, prefix: string, delimiter: string): ListResult => ({
  bucket: account,
  params,
  prefix,
  delimiter,
  contents: [],
  commonPrefixes: [],
  isTruncated: false,
  nextContinuationToken: undefined,
  nextMarker: undefined
})

/**
 * The products of an account the caller may list, as `CommonPrefixes` (`{product}/`), paginated here,
 * optionally narrowed by prefix. The product list is anonymous, so a session also gets each restricted
 * product the catalog shows its principal (docs/listing.md#the-products-of-an-account).
 */
const listProducts: (
  account: string,
  params: ListParams,
  identity: Identity
) => Effect.Effect<ListResult, CatalogError, Catalog> = Effect.fnUntraced(
  function*(account: string, params: ListParams, identity: Identity) {
    const products = yield* (yield* Catalog).products(account)
    const visible = yield* visibleProducts(identity, account, products)
    const names = visible.map((p) => `${p.product_id}/`).filter((n) => n.startsWith(params.prefix))
    const page = paginate(names, params.continuationToken ?? params.startAfter, params.maxKeys)
    return {
      ...emptyResult(account, params, params.prefix, "/"),
      commonPrefixes: page.items,
      isTruncated: page.isTruncated,
      nextContinuationToken: params.version === 2 ? page.next : undefined,
      nextMarker: params.version === 1 ? page.next : undefined
    }
  }
)

/**
 * One page of a product's objects. `params` are in the client's namespace (bucket = account): the prefix
 * and `start-after`/`marker` begin with `{product}/`, and so do the keys and prefixes returned.
 */
export const listProduct: (
  account: string,
  product: string,
  params: ListParams,
  identity?: Identity
) => Effect.Effect<ListResult, CatalogError | OpenError | ListError, Catalog | Storage> = Effect.fnUntraced(
  function*(account: string, product: string, params: ListParams, identity: Identity = anonymous) {
    const root = `${product}/`
    const empty = emptyResult(account, params, params.prefix, params.delimiter)
    const resolved = yield* visibleProduct(identity, account, product)
    if (params.maxKeys === 0) return empty
    // A prefix, start-after or marker with an empty, `.` or `..` complete segment names no key (and, as a path,
    // would leave the product): an empty, final page, whatever the backend. A start-after is only a position,
    // but no key the proxy can read has such a segment, so it is answered alike rather than passed on.
    // Continuation tokens are the store's own and opaque here (S3's are base64 and may hold `//`): a store whose
    // tokens are names checks the name (listSorted).
    const startAfterUsed = params.continuationToken === undefined ? params.startAfter : undefined
    if (impossiblePosition(params.prefix) || (startAfterUsed !== undefined && impossiblePosition(startAfterUsed))) return empty

    let startAfter: string | undefined
    if (startAfterUsed !== undefined) {
      if (startAfterUsed.startsWith(root)) {
        const relative = startAfterUsed.slice(root.length)
        // A V1 marker that is a rolled-up prefix means "after everything under it", as S3 reads it.
        const pastPrefix = params.version === 1 && isRolledUp(relative, params.prefix.slice(root.length), params.delimiter)
        startAfter = backendKey(resolved.prefix, relative) + (pastPrefix ? PAST_PREFIX : "")
      } else if (compareUtf8(startAfterUsed, root) > 0) {
        return empty // after every key of this product
      }
    }

    const page = yield* resolved.store.list({
      prefix: backendKey(resolved.prefix, params.prefix.slice(root.length)),
      delimiter: params.delimiter,
      maxKeys: params.maxKeys,
      continuationToken: params.continuationToken,
      startAfter
    })
    const toClient = clientKeys(root, resolved.prefix)
    // Folder markers (`dir/`) are listed like any key, as S3 lists them (docs/listing.md#folder-markers): GDAL
    // finds a folder by its marker, and aws-cli and rclone know them for what they are.
    const contents = page.objects.map((o) => ({ ...o, key: toClient(o.key) }))
    const commonPrefixes = page.commonPrefixes.map(toClient)
    const isTruncated = page.nextContinuationToken !== undefined
    // The V1 marker is the last name the backend returned, key or common prefix.
    const last = [page.objects.at(-1)?.key, page.commonPrefixes.at(-1)].filter((k): k is string => k !== undefined)
      .sort(compareUtf8).map(toClient).at(-1)
    return {
      ...empty,
      contents,
      commonPrefixes,
      isTruncated,
      nextContinuationToken: params.version === 2 ? page.nextContinuationToken : undefined,
      nextMarker: params.version === 1 && isTruncated ? last : undefined
    }
  }
)

/**
 * The path form `GET /{account}/{product}?…` (docs/listing.md#path-form-product-listing): the prefix and
 * start-after/marker are relative to the product, as the Rust proxy maps them. Keys and the Prefix come back
 * account-relative like every listing's; StartAfter and Marker are echoed as sent, and NextMarker is relative like
 * the marker it becomes, so a V1 client that feeds it back pages on.
 */
export const listProductPath = (
  account: string,
  product: string,
  params: ListParams,
  identity: Identity = anonymous
): Effect.Effect<ListResult, CatalogError | OpenError | ListError, Catalog | Storage> => {
  const root = `${product}/`
  const within = {
    ...params,
    prefix: root + params.prefix,
    startAfter: params.startAfter === undefined ? undefined : root + params.startAfter
  }
  return Effect.map(listProduct(account, product, within, identity), (result) => ({
    ...result,
    params,
    nextMarker: result.nextMarker?.slice(root.length)
  }))
}

/**
 * A listing addressed to the account (`GET /{account}?…`), which is how S3 clients see us
 * (docs/listing.md#forms-of-a-listing): a prefix `{product}/…` lists inside that product (DuckDB's and aws-cli's
 * form); otherwise `delimiter=/` lists the products as prefixes, and no delimiter lists the keys of every product
 * the caller may list.
 */
export const listAccount = (
  account: string,
  params: ListParams,
  identity: Identity = anonymous
): Effect.Effect<ListResult, CatalogError | OpenError | ListError | InvalidArgument, Catalog | Storage> => {
  const slash = params.prefix.indexOf("/")
  if (slash >= 0) return listProduct(account, params.prefix.slice(0, slash), params, identity)
  if (params.delimiter === "/") return listProducts(account, params, identity)
  return listAccountKeys(account, params, identity, (product, within) => listProduct(account, product, within, identity))
}
