import * as Encoding from "effect/Encoding"
import * as Either from "effect/Either"
import { compareUtf8 } from "../shared/utf8.js"
import { impossiblePosition } from "./keys.js"
import type { ListedObject, ListPage, ListRequest } from "./ObjectStore.js"

const tokenOf = (name: string) => Encoding.encodeBase64Url(name)
const nameOf = (token: string) => Either.getOrUndefined(Encoding.decodeBase64UrlString(token))

/**
 * Whether `name` is a common prefix this listing produces (its first delimiter after `prefix` ends it),
 * as opposed to an object whose key merely ends with the delimiter, such as a `dir/` folder marker
 * listed under `prefix=dir/`.
 */
export const isRolledUp = (name: string, prefix: string, delimiter: string): boolean =>
  delimiter !== "" && name.startsWith(prefix) && name.length > prefix.length
  && name.indexOf(delimiter, prefix.length) === name.length - delimiter.length

/** What a page does with the next key: list it as an object (then `add` it), nothing, or stop (the page is full). */
export type Placement = "object" | "none" | "full"

/**
 * Whether a request names an impossible position (`impossiblePosition`): its prefix, its start-after, or the
 * name its continuation token stands for. A store that reads positions as paths (a local directory) answers
 * it with an empty, final page before touching anything; the listing semantics below are S3's, for any name.
 */
export const namesImpossiblePosition = (request: ListRequest): boolean => {
  const after = request.continuationToken === undefined ? request.startAfter : nameOf(request.continuationToken)
  return impossiblePosition(request.prefix) || (after !== undefined && impossiblePosition(after))
}

/**
 * Whether the request's continuation token (if any) is one `pageBuilder` could have issued for this listing:
 * the canonical encoding of a name under its prefix. Any other token is refused, as S3 refuses one it did not
 * issue (400 InvalidArgument), rather than read as no token, which would list again from the start.
 */
export const tokenIssuedFor = (request: ListRequest): boolean => {
  if (request.continuationToken === undefined) return true
  const name = nameOf(request.continuationToken)
  return name !== undefined && tokenOf(name) === request.continuationToken && name.startsWith(request.prefix)
}

/**
 * One page of S3 listing semantics, fed keys in byte order, for backends that have no listing of their own
 * (a local directory): prefix, delimiter roll-up, start-after, max-keys, and a continuation token that is the
 * last name returned. After a rolled-up prefix, everything under it is skipped.
 */
export interface PageBuilder {
  /** Places the next key; "full" when it is the one past max-keys (the page is truncated): offer nothing more. */
  readonly place: (key: string) => Placement
  /** The object just placed as "object" (a store may read its size and ETag only then). */
  readonly add: (object: ListedObject) => void
  /**
   * True when no key beginning with `keyPrefix` can be placed any more (outside the prefix, not after
   * start-after, under a prefix already rolled up, or the page is done): a walk need not read them.
   */
  readonly skips: (keyPrefix: string) => boolean
  readonly page: () => ListPage
}

export const pageBuilder = (request: ListRequest): PageBuilder => {
  const { prefix, delimiter, maxKeys } = request
  const after = request.continuationToken === undefined ? request.startAfter : nameOf(request.continuationToken)
  const skipUnder = after !== undefined && isRolledUp(after, prefix, delimiter) ? after : undefined
  const objects: Array<ListedObject> = []
  const commonPrefixes: Array<string> = []
  let count = 0
  let last: string | undefined
  let rolledUp: string | undefined
  let truncated = false

  const place = (key: string): Placement => {
    if (truncated) return "full"
    if (!key.startsWith(prefix)) return "none"
    if (after !== undefined && (compareUtf8(key, after) <= 0 || (skipUnder !== undefined && key.startsWith(skipUnder)))) {
      return "none"
    }
    const cut = delimiter === "" ? -1 : key.indexOf(delimiter, prefix.length)
    const name = cut < 0 ? key : key.slice(0, cut + delimiter.length)
    if (name === last) return "none" // same rolled-up prefix as the previous key
    if (count === maxKeys) {
      truncated = true
      return "full"
    }
    last = name
    count++
    if (cut < 0) return "object"
    commonPrefixes.push(name)
    rolledUp = name
    return "none"
  }

  const skips = (keyPrefix: string): boolean =>
    truncated
    || (!keyPrefix.startsWith(prefix) && !prefix.startsWith(keyPrefix))
    // Every key under keyPrefix sorts before `after` when they part inside keyPrefix, keyPrefix lower.
    || (after !== undefined && !after.startsWith(keyPrefix) && compareUtf8(keyPrefix, after) < 0)
    || (skipUnder !== undefined && keyPrefix.startsWith(skipUnder))
    || (rolledUp !== undefined && keyPrefix.startsWith(rolledUp))

  return {
    place,
    add: (object) => void objects.push(object),
    skips,
    page: () => ({
      objects,
      commonPrefixes,
      nextContinuationToken: truncated && last !== undefined ? tokenOf(last) : undefined
    })
  }
}

/** `pageBuilder` over objects already sorted in byte order. */
export const listSorted = (sorted: Iterable<ListedObject>, request: ListRequest): ListPage => {
  const builder = pageBuilder(request)
  for (const object of sorted) {
    const placed = builder.place(object.key)
    if (placed === "full") break
    if (placed === "object") builder.add(object)
  }
  return builder.page()
}
