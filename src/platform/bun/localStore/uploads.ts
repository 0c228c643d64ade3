import { readFile } from "node:fs/promises"
import { join } from "node:path"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { InvalidRequest, NoSuchUpload } from "../../../core/s3/errors.js"
import { probe } from "./disk.js"
import { uploadDirOf } from "./paths.js"

/**
 * A multipart upload is a directory under `.sdp-uploads/` named by its id: its record (`upload.json`: the key
 * and the headers to store at completion) and its parts as files `{n}.{md5}`.
 */

export const UPLOAD_RECORD = "upload.json"

const Upload = Schema.Struct({ key: Schema.String, headers: Schema.Record({ key: Schema.String, value: Schema.String }) })
export type Upload = typeof Upload.Type
const decodeUpload = Schema.decodeUnknownEither(Schema.parseJson(Upload))

/** The record in the upload directory `dir`, or undefined when there is none (completed or aborted) or it does not decode. */
export const uploadRecord = (dir: string): Effect.Effect<Upload | undefined> =>
  Effect.map(probe(() => readFile(join(dir, UPLOAD_RECORD), "utf8")), (text) => {
    const upload = text === undefined ? undefined : decodeUpload(text)
    return upload === undefined || Either.isLeft(upload) ? undefined : upload.right
  })

/** An upload's directory and record, when the id is one this store issued for `key` and it is still open. */
export const openUpload: (
  root: string,
  uploadId: string,
  key: string
) => Effect.Effect<{ readonly dir: string; readonly upload: Upload }, NoSuchUpload> = Effect.fnUntraced(
  function*(root: string, uploadId: string, key: string) {
    const dir = uploadDirOf(root, uploadId)
    const upload = dir === undefined ? undefined : yield* uploadRecord(dir)
    if (dir === undefined || upload === undefined || upload.key !== key) return yield* new NoSuchUpload({ uploadId })
    return { dir, upload }
  }
)

/** S3's part numbers, 1 to 10000. */
export const checkPartNumber = (partNumber: number): Effect.Effect<void, InvalidRequest> =>
  !Number.isInteger(partNumber) || partNumber < 1 || partNumber > 10_000
    ? Effect.fail(new InvalidRequest({ message: "part numbers are 1 to 10000" }))
    : Effect.void
