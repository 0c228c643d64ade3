import * as Effect from "effect/Effect"
import { NoSuchKey, PreconditionFailed } from "../../../core/s3/errors.js"
import { evaluatePreconditions } from "../../../core/s3/preconditions.js"
import { currentFile, type ObjectRecord } from "./records.js"

/** The preconditions of a write against the files here: the destination's, and a copy source's. */

/** An ETag as the client or a record writes it, bare: no `W/`, no quotes. */
export const unquote = (etag: string): string => etag.trim().replace(/^W\//, "").replace(/^"+|"+$/g, "")

/** S3's put preconditions against the current file (`undefined`: no such object). */
const putAllowed = (headers: Headers, current: string | undefined): boolean => {
  const ifMatch = headers.get("if-match")
  if (ifMatch !== null) {
    if (current === undefined) return false
    if (!ifMatch.split(",").some((tag) => tag.trim() === "*" || unquote(tag) === unquote(current))) return false
  }
  const ifNoneMatch = headers.get("if-none-match")
  if (ifNoneMatch !== null && current !== undefined) {
    if (ifNoneMatch.split(",").some((tag) => tag.trim() === "*" || unquote(tag) === unquote(current))) return false
  }
  return true
}

/** PreconditionFailed unless `putAllowed`. */
export const requirePutAllowed = (headers: Headers, current: string | undefined): Effect.Effect<void, PreconditionFailed> =>
  putAllowed(headers, current) ? Effect.void : Effect.fail(new PreconditionFailed())

/** A copy's source file at `path`, once it exists and the `x-amz-copy-source-if-*` preconditions hold. */
export const copySource: (
  root: string,
  sourceKey: string,
  path: string,
  headers: Headers
) => Effect.Effect<ObjectRecord & { readonly mtime: Date }, NoSuchKey | PreconditionFailed> = Effect.fnUntraced(
  function*(root: string, sourceKey: string, path: string, headers: Headers) {
    const current = yield* currentFile(root, sourceKey, path)
    if (current === undefined) return yield* new NoSuchKey({ key: sourceKey })
    const conditions = new Headers()
    for (const name of ["if-match", "if-none-match", "if-modified-since", "if-unmodified-since"]) {
      const value = headers.get(`x-amz-copy-source-${name}`)
      if (value !== null) conditions.set(name, value)
    }
    if (evaluatePreconditions(conditions, { etag: current.etag, lastModified: current.mtime }) !== "Proceed") {
      return yield* new PreconditionFailed()
    }
    return current
  }
)
