import { InvalidRequest } from "./errors.js"

/** An object in the client's namespace: the account is the S3 bucket, `{product}/{key}` the S3 key. */
export interface ObjectTarget {
  readonly account: string
  readonly product: string
  readonly key: string
}

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
