export type ByteRange =
  | { readonly _tag: "Full" }
  | { readonly _tag: "Partial"; readonly start: number; readonly end: number }
  | { readonly _tag: "Unsatisfiable" }

const FULL: ByteRange = { _tag: "Full" }
const UNSATISFIABLE: ByteRange = { _tag: "Unsatisfiable" }

/**
 * A single `Range: bytes=…` against an object of `size` bytes (RFC 9110 §14): `a-b`, open `a-` and suffix
 * `-n`. A header that does not parse, or asks for several ranges, is ignored (the whole object), as S3 does.
 */
export const resolveRange = (header: string | null, size: number): ByteRange => {
  const match = header === null ? null : /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header)
  if (match === null) return FULL
  const [, first = "", last = ""] = match
  if (first === "" && last === "") return FULL
  if (first === "") {
    const suffix = Number(last)
    if (suffix === 0 || size === 0) return UNSATISFIABLE
    return { _tag: "Partial", start: Math.max(0, size - suffix), end: size - 1 }
  }
  const start = Number(first)
  if (last !== "" && Number(last) < start) return FULL // `b < a` is not a valid range: ignored
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
