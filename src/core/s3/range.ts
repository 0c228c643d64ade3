export type ByteRange =
  | { readonly _tag: "Full" }
  | { readonly _tag: "Partial"; readonly start: number; readonly end: number }
  | { readonly _tag: "Unsatisfiable" }

const FULL: ByteRange = { _tag: "Full" }
const UNSATISFIABLE: ByteRange = { _tag: "Unsatisfiable" }

/**
 * A single `Range: bytes=first-last` as the client wrote it: the digit strings, either of which may be empty
 * (open `a-`, suffix `-n`) but not both, and `last ≥ first` when both are given.
 */
export interface RangeSpec {
  readonly first: string
  readonly last: string
}

/** What `\s` matches in a RegExp (WhiteSpace and LineTerminator): the spaces the header grammar allows. */
const isSpace = (code: number): boolean =>
  code === 0x20 || (code >= 0x09 && code <= 0x0d) || code === 0xa0 || code === 0x1680 || (code >= 0x2000 && code <= 0x200a)
  || code === 0x2028 || code === 0x2029 || code === 0x202f || code === 0x205f || code === 0x3000 || code === 0xfeff

const isDigit = (code: number): boolean => code >= 0x30 && code <= 0x39

const UNIT = "bytes"

/**
 * `\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*`, case-insensitive unit, read in one pass: every step moves `at`
 * forward, so a header costs time linear in its length (the regex backtracked quadratically over spaces).
 * Greedy is exact here: each token's characters are disjoint from the next token's.
 */
const scan = (header: string): RangeSpec | undefined => {
  let at = 0
  const skip = (accepts: (code: number) => boolean) => {
    const from = at
    while (at < header.length && accepts(header.charCodeAt(at))) at++
    return header.slice(from, at)
  }
  const literal = (code: number) => {
    if (header.charCodeAt(at) !== code) return false
    at++
    return true
  }
  skip(isSpace)
  for (let i = 0; i < UNIT.length; i++) {
    // `| 0x20` folds ASCII case and nothing else onto these lowercase letters, as the `i` flag did.
    if ((header.charCodeAt(at) | 0x20) !== UNIT.charCodeAt(i)) return undefined
    at++
  }
  skip(isSpace)
  if (!literal(0x3d)) return undefined // =
  skip(isSpace)
  const first = skip(isDigit)
  skip(isSpace)
  if (!literal(0x2d)) return undefined // -
  skip(isSpace)
  const last = skip(isDigit)
  skip(isSpace)
  return at === header.length ? { first, last } : undefined
}

/**
 * The client's `Range` as S3 reads it (RFC 9110 §14): `a-b`, open `a-` and suffix `-n`. Undefined for a header
 * that does not parse, names several ranges, or is not a range (`-`, or `b < a`): S3 ignores those.
 * The digits may exceed 2^53: compared as Numbers, any such value is beyond every object's size.
 */
export const parseRange = (header: string | null): RangeSpec | undefined => {
  const spec = header === null ? undefined : scan(header)
  if (spec === undefined || (spec.first === "" && spec.last === "")) return undefined
  if (spec.first !== "" && spec.last !== "" && Number(spec.last) < Number(spec.first)) return undefined
  return spec
}

/**
 * A single `Range: bytes=…` against an object of `size` bytes. A header `parseRange` ignores is the whole
 * object, as S3 does.
 */
export const resolveRange = (header: string | null, size: number): ByteRange => {
  const spec = parseRange(header)
  if (spec === undefined) return FULL
  const { first, last } = spec
  if (first === "") {
    const suffix = Number(last)
    if (suffix === 0 || size === 0) return UNSATISFIABLE
    return { _tag: "Partial", start: Math.max(0, size - suffix), end: size - 1 }
  }
  const start = Number(first)
  if (start >= size) return UNSATISFIABLE // includes `bytes=N-` at the very end of the object
  const end = last === "" ? size - 1 : Number(last)
  return { _tag: "Partial", start, end: Math.min(end, size - 1) }
}

/**
 * `x-amz-copy-source-range` (UploadPartCopy): exactly `bytes=first-last`, zero-based and inclusive, as S3
 * takes it (no open or suffix forms). Undefined when it does not have that form.
 */
export const parseCopySourceRange = (header: string): { readonly start: number; readonly end: number } | undefined => {
  const match = /^bytes=(\d+)-(\d+)$/.exec(header.trim())
  if (match === null) return undefined
  const start = Number(match[1])
  const end = Number(match[2])
  return Number.isSafeInteger(start) && Number.isSafeInteger(end) && start <= end ? { start, end } : undefined
}

/** A backend's `Content-Range`: `bytes a-b/size`, or `bytes *\/size` when unsatisfied (`start`, `end` absent). */
export interface ContentRange {
  readonly start: number | undefined
  readonly end: number | undefined
  readonly size: number
}

/**
 * `Content-Range: bytes a-b/size` or `bytes *\/size`; undefined when absent or malformed. `end` may be negative:
 * Azurite answers a range at the very end of a blob with `bytes N-(N-1)/N`, `bytes 0--1/0` for an empty one.
 */
export const parseContentRange = (value: string | null): ContentRange | undefined => {
  const match = value === null ? null : /^bytes\s+(?:(\d+)-(-?\d+)|\*)\/(\d+)$/i.exec(value.trim())
  if (match === null) return undefined
  return {
    start: match[1] === undefined ? undefined : Number(match[1]),
    end: match[2] === undefined ? undefined : Number(match[2]),
    size: Number(match[3])
  }
}
