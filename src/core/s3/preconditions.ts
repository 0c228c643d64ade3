export type Precondition = "Proceed" | "NotModified" | "PreconditionFailed"

const opaque = (tag: string) => tag.trim().replace(/^W\//, "").replace(/^"|"$/g, "")

const matches = (header: string, etag: string) =>
  header.split(",").some((candidate) => candidate.trim() === "*" || opaque(candidate) === opaque(etag))

/** HTTP dates have one-second resolution; an unparseable date is ignored (RFC 9110). */
const seconds = (date: Date) => Math.floor(date.getTime() / 1000)
const parseDate = (value: string | null) => {
  if (value === null) return undefined
  const time = Date.parse(value)
  return Number.isNaN(time) ? undefined : Math.floor(time / 1000)
}

/**
 * RFC 9110 §13.2.2 evaluation order for a read, which is also what S3 documents: If-Match, else
 * If-Unmodified-Since (412); then If-None-Match, else If-Modified-Since (304).
 */
export const evaluatePreconditions = (
  headers: Headers,
  current: { readonly etag: string; readonly lastModified: Date }
): Precondition => {
  const ifMatch = headers.get("if-match")
  if (ifMatch !== null) {
    if (!matches(ifMatch, current.etag)) return "PreconditionFailed"
  } else {
    const since = parseDate(headers.get("if-unmodified-since"))
    if (since !== undefined && seconds(current.lastModified) > since) return "PreconditionFailed"
  }
  const ifNoneMatch = headers.get("if-none-match")
  if (ifNoneMatch !== null) return matches(ifNoneMatch, current.etag) ? "NotModified" : "Proceed"
  const modifiedSince = parseDate(headers.get("if-modified-since"))
  if (modifiedSince !== undefined && seconds(current.lastModified) <= modifiedSince) return "NotModified"
  return "Proceed"
}
