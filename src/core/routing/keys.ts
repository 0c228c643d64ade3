import { InvalidRequest } from "../s3/errors.js"

/**
 * Keys with empty, `.` or `..` segments (so no leading `/`, no `//`) or control characters are refused:
 * they cannot be stored faithfully on every backend and `..` would escape a product's prefix. One trailing
 * `/` is allowed: `dir/` is a folder marker, which S3 stores like any object and GDAL and rclone probe.
 */
export const keyProblem = (key: string): boolean =>
  // eslint-disable-next-line no-control-regex
  /[\u0000-\u001f\u007f]/.test(key)
  || (key.endsWith("/") ? key.slice(0, -1) : key).split("/").some((s) => s === "" || s === "." || s === "..")

export const invalidKey = (key: string) =>
  new InvalidRequest({
    message: `invalid object key "${key}": empty, \`.\`, or \`..\` path segments, a leading slash, `
      + "and control characters are not allowed"
  })

/** Byte-order comparison of UTF-8 strings, the order S3 lists keys in (JS `<` compares UTF-16 units). */
export const compareUtf8 = (a: string, b: string): number => {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i)!
    const y = b.codePointAt(i)!
    if (x !== y) return x < y ? -1 : 1
    if (x > 0xffff) i++
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1
}
