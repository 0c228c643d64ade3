/** Backend key of `key` under a product prefix: plain join on one `/` (docs/backends.md#keys-and-prefixes). */
export const backendKey = (prefix: string, key: string): string => {
  const trimmed = prefix.replace(/\/+$/, "")
  return trimmed === "" ? key : `${trimmed}/${key}`
}

/**
 * The inverse of `backendKey` for the keys a listing returns under `prefix`, with `root` put before each (the
 * client's `{product}/`): the prefix is trimmed once for a page rather than once per key.
 */
export const clientKeys = (root: string, prefix: string): (key: string) => string => {
  const trimmed = prefix.replace(/\/+$/, "")
  const cut = trimmed === "" ? 0 : trimmed.length + 1
  return (key) => root + key.slice(cut)
}

/** One key's `clientKeys` without a root. */
export const relativeKey = (prefix: string, key: string): string => clientKeys("", prefix)(key)

export { uriEncode as encodeKey } from "../s3/uriEncode.js"

/**
 * Whether a listing position (prefix, start-after, marker, or the name a token stands for) has an empty, `.` or
 * `..` complete segment, one followed by `/` (a leading `/` is an empty one). No key has such a segment (the key
 * rules refuse them), so nothing is at or under that position; read as a path it would leave the product. The
 * final segment is partial and still matches: `tables/.` matches `tables/.hidden`, `..` matches `..foo`.
 */
export const impossiblePosition = (position: string): boolean =>
  position.split("/").slice(0, -1).some((segment) => segment === "" || segment === "." || segment === "..")
