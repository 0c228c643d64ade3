import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import type { ListError, OpenError, Storage } from "../backends/ObjectStore.js"
import { listingCandidates } from "../authz/enforce.js"
import type { Identity } from "../authz/Identity.js"
import { Catalog, type CatalogError } from "../catalog/Catalog.js"
import type { Product } from "../catalog/schema.js"
import { compareUtf8 } from "../shared/utf8.js"
import { InvalidArgument } from "../s3/errors.js"
import type { ListParams } from "../s3/listParams.js"
import type { ListEntry, ListResult } from "../s3/listResult.js"

/**
 * Products one page may visit, so a page costs a bounded number of backend and catalog calls (Workers caps
 * subrequests per request) however many empty or hidden products an account has; the page then ends
 * truncated and the token resumes at the next product.
 */
export const PRODUCTS_PER_PAGE = 20

/** Where the next page starts: in product `p`, with that product's own continuation token `t` (if any). */
const Position = Schema.Struct({ p: Schema.String, t: Schema.optional(Schema.String) })
type Position = typeof Position.Type
const Token = Schema.compose(Schema.StringFromBase64Url, Schema.parseJson(Position))
const TOKEN_PREFIX = "sdp1."

const encodeToken = (position: Position): string => TOKEN_PREFIX + Schema.encodeSync(Token)(position)

const decodeToken = (token: string): Effect.Effect<Position, InvalidArgument> => {
  const decoded = token.startsWith(TOKEN_PREFIX)
    ? Schema.decodeUnknownEither(Token)(token.slice(TOKEN_PREFIX.length))
    : Either.left(undefined)
  return Either.isRight(decoded)
    ? Effect.succeed(decoded.right)
    : Effect.fail(new InvalidArgument({ message: "The continuation token provided is incorrect" }))
}

/** The products whose keys may match `prefix` (which has no `/`), in the key order of their `{id}/` roots. */
const candidates = (products: ReadonlyArray<Product>, prefix: string): ReadonlyArray<string> =>
  [...new Set(products.map((p) => `${p.product_id}/`))].filter((root) => root.startsWith(prefix)).sort(compareUtf8)

/**
 * An account listing without a `/` delimiter (docs/listing.md#account-listing-without-a-delimiter: `aws s3 ls
 * --recursive s3://acct/`, `aws s3 sync s3://acct/ dir`, `rclone lsf -R remote:acct`): every key of every product
 * the caller may list, in key order (products' keys never interleave: each product's keys share its `{id}/` root),
 * paged across products by an opaque continuation token. A product the caller may not list is left out, as the
 * product listing leaves it out; any other failure fails the page, so a sync never mistakes an unreachable product
 * for an empty one.
 */
type ListOne = (product: string, params: ListParams) => Effect.Effect<ListResult, CatalogError | OpenError | ListError, Catalog | Storage>

export const listAccountKeys: (
  account: string,
  params: ListParams,
  identity: Identity,
  listOne: ListOne
) => Effect.Effect<ListResult, CatalogError | OpenError | ListError | InvalidArgument, Catalog | Storage> = Effect.fnUntraced(
  function*(account: string, params: ListParams, identity: Identity, listOne: ListOne) {
    const products = yield* (yield* Catalog).products(account)
    const roots = candidates(listingCandidates(identity, products), params.prefix)
    const result: ListResult = {
      bucket: account,
      params,
      prefix: params.prefix,
      delimiter: params.delimiter,
      contents: [],
      commonPrefixes: [],
      isTruncated: false,
      nextContinuationToken: undefined,
      nextMarker: undefined
    }
    if (params.maxKeys === 0) return result

    // Resume: a V2 token names the product and its own token; a start-after or V1 marker is a key.
    const position = params.continuationToken === undefined ? undefined : yield* decodeToken(params.continuationToken)
    const after = position === undefined ? params.startAfter : undefined
    const first = roots.findIndex((root) =>
      position !== undefined ? compareUtf8(root, `${position.p}/`) >= 0
        : after === undefined || compareUtf8(root, after) > 0 || after.startsWith(root))

    const contents: Array<ListEntry> = []
    const commonPrefixes: Array<string> = []
    let visited = 0
    for (let i = first; i >= 0 && i < roots.length; i++) {
      const root = roots[i]!
      const product = root.slice(0, -1)
      const remaining = params.maxKeys - contents.length - commonPrefixes.length
      const budgetSpent = visited >= PRODUCTS_PER_PAGE && (params.version === 2 || contents.length > 0)
      if (remaining <= 0 || budgetSpent) {
        // More may follow in `root` and after it: V2 resumes there, V1 after the last key returned.
        return params.version === 2
          ? { ...result, contents, commonPrefixes, isTruncated: true, nextContinuationToken: encodeToken({ p: product }) }
          : { ...result, contents, commonPrefixes, isTruncated: true, nextMarker: contents.at(-1)?.key ?? commonPrefixes.at(-1) }
      }
      visited++
      const resumeHere = position !== undefined && position.p === product
      const page = yield* listOne(product, {
        ...params,
        prefix: root,
        maxKeys: remaining,
        continuationToken: resumeHere ? position.t : undefined,
        startAfter: after !== undefined && after.startsWith(root) ? after : undefined
      }).pipe(
        // Not listable by this caller (restricted, disabled, gone since the product list): not part of the listing.
        Effect.catchTags({ AccessDenied: () => Effect.succeed(undefined), NoSuchBucket: () => Effect.succeed(undefined) })
      )
      if (page === undefined) continue
      contents.push(...page.contents)
      commonPrefixes.push(...page.commonPrefixes)
      if (page.isTruncated) {
        return params.version === 2
          ? { ...result, contents, commonPrefixes, isTruncated: true, nextContinuationToken: encodeToken({ p: product, t: page.nextContinuationToken }) }
          : { ...result, contents, commonPrefixes, isTruncated: true, nextMarker: page.nextMarker }
      }
    }
    return { ...result, contents, commonPrefixes }
  }
)
