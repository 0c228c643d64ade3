import { Encoding, Either } from "effect"
import { compareUtf8 } from "../routing/keys.js"
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

/**
 * S3 listing semantics over objects already sorted in byte order, for backends that have no listing of
 * their own (a local directory): prefix, delimiter roll-up, start-after, max-keys, and a continuation
 * token that is the last name returned. After a rolled-up prefix, everything under it is skipped.
 */
export const listSorted = (sorted: Iterable<ListedObject>, request: ListRequest): ListPage => {
  const { prefix, delimiter, maxKeys } = request
  const after = request.continuationToken === undefined ? request.startAfter : nameOf(request.continuationToken)
  const skipUnder = after !== undefined && isRolledUp(after, prefix, delimiter) ? after : undefined
  const objects: Array<ListedObject> = []
  const commonPrefixes: Array<string> = []
  let count = 0
  let last: string | undefined
  let truncated = false
  for (const object of sorted) {
    const key = object.key
    if (!key.startsWith(prefix)) continue
    if (after !== undefined && (compareUtf8(key, after) <= 0 || (skipUnder !== undefined && key.startsWith(skipUnder)))) {
      continue
    }
    const cut = delimiter === "" ? -1 : key.indexOf(delimiter, prefix.length)
    const name = cut < 0 ? key : key.slice(0, cut + delimiter.length)
    if (name === last) continue // same rolled-up prefix as the previous key
    if (count === maxKeys) {
      truncated = true
      break
    }
    if (cut < 0) objects.push(object)
    else commonPrefixes.push(name)
    last = name
    count++
  }
  return {
    objects,
    commonPrefixes,
    nextContinuationToken: truncated && last !== undefined ? tokenOf(last) : undefined
  }
}
