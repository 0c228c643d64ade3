import { Effect } from "effect"
import { backendKey, relativeKey } from "../backends/keys.js"
import { isRolledUp } from "../backends/listSorted.js"
import type { ListError, OpenError } from "../backends/ObjectStore.js"
import type { Storage } from "../backends/ObjectStore.js"
import { type Caller, Catalog, type CatalogError } from "../catalog/Catalog.js"
import { isPublic } from "../catalog/schema.js"
import { resolveProduct } from "../catalog/resolve.js"
import { compareUtf8 } from "../routing/keys.js"
import type { ListParams } from "./listParams.js"
import type { ListResult } from "./listResult.js"
import { paginate } from "./pagination.js"

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

/** The products of an account as `CommonPrefixes` (`{product}/`), paginated here, optionally narrowed by prefix. */
const listProducts = (account: string, params: ListParams): Effect.Effect<ListResult, CatalogError, Catalog> =>
  Effect.gen(function*() {
    const products = yield* (yield* Catalog).products(account)
    const names = products.filter(isPublic).map((p) => `${p.product_id}/`).filter((n) => n.startsWith(params.prefix))
    const page = paginate(names, params.continuationToken ?? params.startAfter, params.maxKeys)
    return {
      ...emptyResult(account, params, params.prefix, "/"),
      commonPrefixes: page.items,
      isTruncated: page.isTruncated,
      nextContinuationToken: params.version === 2 ? page.next : undefined,
      nextMarker: params.version === 1 ? page.next : undefined
    }
  })

/**
 * One page of a product's objects. `params` are in the client's namespace (bucket = account): the prefix
 * and `start-after`/`marker` begin with `{product}/`, and so do the keys and prefixes returned.
 */
export const listProduct = (
  account: string,
  product: string,
  params: ListParams,
  caller?: Caller
): Effect.Effect<ListResult, CatalogError | OpenError | ListError, Catalog | Storage> =>
  Effect.gen(function*() {
    const root = `${product}/`
    const empty = emptyResult(account, params, params.prefix, params.delimiter)
    const resolved = yield* resolveProduct(account, product, caller)
    if (params.maxKeys === 0) return empty

    let startAfter: string | undefined
    if (params.startAfter !== undefined && params.continuationToken === undefined) {
      if (params.startAfter.startsWith(root)) {
        const relative = params.startAfter.slice(root.length)
        // A V1 marker that is a rolled-up prefix means "after everything under it", as S3 reads it.
        const pastPrefix = params.version === 1 && isRolledUp(relative, params.prefix.slice(root.length), params.delimiter)
        startAfter = backendKey(resolved.prefix, relative) + (pastPrefix ? PAST_PREFIX : "")
      } else if (compareUtf8(params.startAfter, root) > 0) {
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
    const toClient = (key: string) => root + relativeKey(resolved.prefix, key)
    // Zero-byte "directory marker" objects are not data and cannot be read through the proxy (key rules).
    const contents = page.objects.filter((o) => !(o.size === 0 && o.key.endsWith("/")))
      .map((o) => ({ ...o, key: toClient(o.key) }))
    const commonPrefixes = page.commonPrefixes.map(toClient)
    const isTruncated = page.nextContinuationToken !== undefined
    // The V1 marker is the last name the backend returned, hidden directory markers included, so a page
    // that held only a marker still tells the client where to continue.
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
  })

/**
 * A listing addressed to the account (`GET /{account}?…`), which is how S3 clients see us: an empty
 * prefix lists products; `{product}/…` lists inside that product (DuckDB's and aws-cli's form).
 */
export const listAccount = (
  account: string,
  params: ListParams,
  caller?: Caller
): Effect.Effect<ListResult, CatalogError | OpenError | ListError, Catalog | Storage> => {
  const slash = params.prefix.indexOf("/")
  if (params.prefix === "" || (slash < 0 && params.delimiter === "/")) return listProducts(account, params)
  const product = slash < 0 ? params.prefix : params.prefix.slice(0, slash)
  const prefix = slash < 0 ? `${product}/` : params.prefix
  return listProduct(account, product, { ...params, prefix }, caller).pipe(
    Effect.map((result) => ({ ...result, prefix: params.prefix }))
  )
}
