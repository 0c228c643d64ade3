import { compareUtf8 } from "../shared/utf8.js"

export interface Page<A> {
  readonly items: ReadonlyArray<A>
  readonly isTruncated: boolean
  /** The last item returned, when more follow: the next request starts after it. */
  readonly next: A | undefined
}

/**
 * Client-side pagination of an already complete list of names (the products of an account): sorted in
 * S3 byte order, everything after `after`, at most `maxKeys`. `maxKeys = 0` is an empty, final page, so
 * SDK paginators that loop while `IsTruncated` never spin.
 */
export const paginate = (names: ReadonlyArray<string>, after: string | undefined, maxKeys: number): Page<string> => {
  const rest = [...new Set(names)].sort(compareUtf8).filter((n) => after === undefined || compareUtf8(n, after) > 0)
  if (maxKeys <= 0) return { items: [], isTruncated: false, next: undefined }
  const items = rest.slice(0, maxKeys)
  const isTruncated = rest.length > maxKeys
  return { items, isTruncated, next: isTruncated ? items[items.length - 1] : undefined }
}
