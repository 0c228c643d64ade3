/** Backend key of `key` under a product prefix: plain join on one `/` (reference spec-dsc §5.1). */
export const backendKey = (prefix: string, key: string): string => {
  const trimmed = prefix.replace(/\/+$/, "")
  return trimmed === "" ? key : `${trimmed}/${key}`
}

/** The inverse of `backendKey` for keys a listing returns under that prefix. */
export const relativeKey = (prefix: string, key: string): string => {
  const trimmed = prefix.replace(/\/+$/, "")
  return trimmed === "" ? key : key.slice(trimmed.length + 1)
}

export { uriEncode as encodeKey } from "../s3/uriEncode.js"
