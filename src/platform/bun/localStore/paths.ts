import { createHash, randomUUID } from "node:crypto"
import { join, resolve, sep } from "node:path"
import * as Effect from "effect/Effect"
import { InvalidRequest } from "../../../core/s3/errors.js"
import { keyProblem } from "../../../core/s3/keys.js"

/**
 * Where the local store keeps what: every path goes through `within`, so no key, upload id or marker reaches
 * outside the store's root, and the store's own files live under reserved top-level names, never objects.
 */

export const META_DIR = ".sdp-meta"
export const UPLOADS_DIR = ".sdp-uploads"
export const TEMP_DIR = ".sdp-tmp"
export const MARKERS_DIR = ".sdp-markers"
const RESERVED = [META_DIR, UPLOADS_DIR, TEMP_DIR, MARKERS_DIR]

/** `relative` resolved under `base`, or undefined when it would leave it: the fence every path goes through. */
export const within = (base: string, relative: string): string | undefined => {
  const path = resolve(base, relative)
  return path === base || path.startsWith(base + sep) ? path : undefined
}

/** Keys under the store's own directories: hidden from listings, unreadable and unwritable as objects. */
export const isReserved = (key: string): boolean => RESERVED.some((dir) => key === dir || key.startsWith(`${dir}/`))

/**
 * The file holding `key`. Keys are validated by the core; this is a second fence, whatever is asked. A key
 * with an empty, `.` or `..` segment, or a folder marker `dir/` (kept as a record: `markerOf`), names no file
 * (it would resolve to another key's, or outside), and the store's own files are never objects.
 */
export const objectPath = (root: string, key: string): string | undefined =>
  keyProblem(key) || key.endsWith("/") || isReserved(key) ? undefined : within(root, key)

/** The file a write of `key` goes to; a key that names none (`objectPath`) cannot be written. */
export const writablePath = (root: string, key: string): Effect.Effect<string, InvalidRequest> => {
  const path = objectPath(root, key)
  return path === undefined ? Effect.fail(new InvalidRequest({ message: "this key cannot be written here" })) : Effect.succeed(path)
}

/** A folder marker's empty record, and the directory that is the folder. */
export interface Marker {
  readonly record: string
  readonly dir: string
}

/**
 * A folder marker `dir/` (docs/listing.md#folder-markers) names no file: it is an empty record named by the
 * SHA-256 of its key, in one flat directory (so no record can collide with another's, or with a sidecar,
 * whatever the keys), and the folder is a directory, which keeps the folder listed when it has nothing else.
 * Undefined for any other key.
 */
export const markerOf = (root: string, key: string): Marker | undefined => {
  if (!key.endsWith("/") || keyProblem(key) || isReserved(key)) return undefined
  const dir = within(root, key)
  const record = within(join(root, MARKERS_DIR), createHash("sha256").update(key).digest("hex"))
  return dir === undefined || record === undefined ? undefined : { record, dir }
}

/** The key of a directory under `root` as a folder marker: `a/b/`. */
export const folderKey = (root: string, dir: string): string => `${dir.slice(root.length + 1).split(sep).join("/")}/`

/** Where `key`'s sidecar lives, fenced inside the metadata directory like every object path. */
export const sidecarPath = (root: string, key: string): string | undefined => within(join(root, META_DIR), `${key}.json`)

/** An upload's directory, when `uploadId` has the form this store issues. */
export const uploadDirOf = (root: string, uploadId: string): string | undefined =>
  /^[A-Za-z0-9_-]{16,64}$/.test(uploadId) ? within(join(root, UPLOADS_DIR), uploadId) : undefined

/** A fresh path in the store's temp directory; `prefix` tells what it will hold. */
export const tempPath = (root: string, prefix = ""): Effect.Effect<string> =>
  Effect.sync(() => join(root, TEMP_DIR, `${prefix}${randomUUID()}`))
