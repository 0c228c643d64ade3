import { encodeQueryComponent } from "./encoding.js"

/**
 * Canonical URI, S3 style: the path exactly as the client sent it, percent-escapes and all, never decoded,
 * re-encoded or normalised (S3 encodes an object key once; data.source.coop #176, docs/s3-compatibility.md#the-canonical-uri-is-the-path-as-sent).
 *
 * Caveat: we only see the path after the WHATWG URL parser (`new URL(...)` in the runtime), which for `http:`
 * URLs keeps every existing `%XX` as sent (case included), percent-encodes bytes that may not appear raw (space,
 * `"`, `<`, `>`, `` ` ``, `{`, `}`, non-ASCII: exactly what a signing client would have encoded itself), turns `\`
 * into `/`, and resolves dot segments: `.`, `..`, `%2e`, `%2E`, `.%2e`, … So a key containing a `.` or `..`
 * segment sent unencoded cannot verify (the client signed the unresolved path); every other key does. The tests
 * pin what survives.
 */
export const canonicalUri = (url: URL): string => url.pathname

/**
 * Canonical query: every parameter (repeated names included) from the raw query, decoded the way
 * `URLSearchParams` does (`%XX`, and `+` as a space, as form-encoded queries mean it), then each name and value
 * AWS-encoded (`encodeQueryComponent`), sorted by encoded name and then by encoded value (not as whole `k=v`
 * strings: `a=2` sorts before `a-b=1`), joined as `name=value` with `&`. A parameter without `=` is `name=`.
 * Parameters with an empty name are dropped, as signers do. `exclude` drops one exact name (`X-Amz-Signature`).
 */
export const canonicalQuery = (params: URLSearchParams, exclude?: string): string => {
  const pairs: Array<readonly [string, string]> = []
  for (const [name, value] of params) {
    if (name === "" || name === exclude) continue
    pairs.push([encodeQueryComponent(name), encodeQueryComponent(value)])
  }
  pairs.sort(([n1, v1], [n2, v2]) => (n1 < n2 ? -1 : n1 > n2 ? 1 : v1 < v2 ? -1 : v1 > v2 ? 1 : 0))
  let out = ""
  for (let i = 0; i < pairs.length; i++) out += (i === 0 ? "" : "&") + pairs[i]![0] + "=" + pairs[i]![1]
  return out
}

/**
 * One canonical header value: leading and trailing whitespace removed and inner runs of spaces and tabs collapsed
 * to one space. `Headers.get` already joins repeated header lines with `", "`; the Fetch API cannot tell those
 * apart from one line containing `", "`, so a header sent as several lines verifies only if the client signed it
 * joined that way (SDKs send one line per header).
 */
export const canonicalHeaderValue = (value: string): string => value.replace(/[ \t]+/g, " ").trim()

/**
 * Canonical header block (`name:value\n` per signed header, in the given order) for already lowercased, sorted
 * names. `host` falls back to the URL's authority when the runtime keeps it out of `Headers`. A signed header
 * that is absent counts as empty (the signature then fails unless the client signed it empty).
 */
export const canonicalHeaders = (headers: Headers, signedHeaders: ReadonlyArray<string>, url: URL): string => {
  let out = ""
  for (const name of signedHeaders) {
    const value = headers.get(name) ?? (name === "host" ? url.host : "")
    out += name + ":" + canonicalHeaderValue(value) + "\n"
  }
  return out
}

export interface CanonicalRequestParts {
  readonly method: string
  readonly uri: string
  readonly query: string
  readonly headers: string
  readonly signedHeaders: ReadonlyArray<string>
  readonly payloadHash: string
}

export const canonicalRequest = (parts: CanonicalRequestParts): string =>
  parts.method.toUpperCase() + "\n" + parts.uri + "\n" + parts.query + "\n" + parts.headers + "\n"
  + parts.signedHeaders.join(";") + "\n" + parts.payloadHash
