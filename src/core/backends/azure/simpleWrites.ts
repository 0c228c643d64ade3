import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { BackendUnavailable, NoSuchKey, PreconditionFailed } from "../../s3/errors.js"
import type { DeleteOutcome } from "../../s3/writeXml.js"
import { discard, documentText } from "../answer.js"
import type { ObjectWrite, ObjectWriter, WriteError, Written } from "../ObjectStore.js"
import { BATCH_MAX, batchBody, boundaryOf, parseBatchResponse, type Subrequest } from "./blobBatch.js"
import { random48 } from "./blockIds.js"
import { type AzureWriterOptions, blobUrl, copySourceUrl } from "./blobService.js"
import { forwardPreconditions, forwardSourceConditions, headersOf, storedHeaders } from "./headers.js"
import { quoted, refusal } from "./writeAnswers.js"
import { bodyFor, lengthOf } from "./writeBody.js"

const MiB = 1024 * 1024
/** Put Blob's largest body (API 2019-12-12 and later). */
const MAX_PUT_BLOB = 5000 * MiB
/** How often, and how long apart, a pending Copy Blob is looked at. */
const COPY_POLLS = 20
const COPY_POLL_INTERVAL = Duration.millis(500)

/** What a key's Delete Blob answered, as DeleteObjects reports it (404: already gone, which S3 counts as deleted). */
const deleteOutcome = (key: string, status: number | undefined): DeleteOutcome =>
  status === 202 || status === 200 || status === 404
    ? { key, error: undefined }
    : {
      key,
      error: status === 401 || status === 403
        ? { code: "AccessDenied", message: "Access Denied" }
        : status === 412
        ? { code: "PreconditionFailed", message: "At least one of the pre-conditions you specified did not hold" }
        : { code: "InternalError", message: "We encountered an internal error. Please try again." }
    }

/** PutObject, DeleteObject, DeleteObjects and CopyObject on block blobs. */
export const simpleWrites = (options: AzureWriterOptions): Pick<ObjectWriter, "put" | "delete" | "deleteMany" | "copy"> => {
  const { base, send, authorize } = options

  /**
   * Put Blob, the body streamed with its Content-Length. `content-md5` (when the core passes it) is
   * forwarded as Content-MD5, which Azure verifies; `x-amz-checksum-*` are neither forwarded nor verified.
   */
  const put: (request: ObjectWrite) => Effect.Effect<Written, WriteError> = Effect.fnUntraced(
    function*(request: ObjectWrite) {
      const length = yield* lengthOf(request, MAX_PUT_BLOB)
      const headers = headersOf(storedHeaders(request.headers))
      headers.set("x-ms-blob-type", "BlockBlob")
      forwardPreconditions(request.headers, headers)
      const md5 = request.headers.get("content-md5")
      if (md5 !== null) headers.set("content-md5", md5)
      headers.set("content-length", String(length))
      const response = yield* send("PUT", blobUrl(base, request.key), headers, yield* bodyFor(request, length))
      if (response.status !== 201) {
        // If-Match on a blob that does not exist: Azure answers 404, S3 412.
        if (response.status === 404 && headers.has("if-match")) {
          yield* discard(response)
          return yield* new PreconditionFailed()
        }
        return yield* refusal(response, "Put Blob")
      }
      yield* discard(response)
      return { etag: quoted(response.headers.get("etag")), headers: new Headers() }
    }
  )

  /** Delete Blob, snapshots included (or Azure refuses); 404 is success. */
  const remove: (key: string) => Effect.Effect<void, WriteError> = Effect.fnUntraced(
    function*(key: string) {
      const response = yield* send("DELETE", blobUrl(base, key), new Headers({ "x-ms-delete-snapshots": "include" }))
      if (response.status === 202 || response.status === 200 || response.status === 404) return yield* discard(response)
      return yield* refusal(response, "Delete Blob")
    }
  )

  /** One Blob Batch of at most BATCH_MAX Delete Blob subrequests, each signed on its own. */
  const deleteBatch: (
    keys: ReadonlyArray<string>
  ) => Effect.Effect<ReadonlyArray<DeleteOutcome>, WriteError> = Effect.fnUntraced(
    function*(keys: ReadonlyArray<string>) {
      const subrequests: Array<Subrequest> = []
      for (const key of keys) {
        const headers = new Headers({ "x-ms-delete-snapshots": "include", "content-length": "0" })
        subrequests.push({ method: "DELETE", url: yield* authorize("DELETE", blobUrl(base, key), headers), headers })
      }
      const boundary = `batch_${yield* random48}${yield* random48}`
      const body = batchBody(boundary, subrequests)
      const response = yield* send("POST", `${base}?restype=container&comp=batch`, new Headers({
        "content-type": `multipart/mixed; boundary=${boundary}`,
        "content-length": String(new TextEncoder().encode(body).length)
      }), body)
      if (response.status !== 202) {
        yield* discard(response)
        return keys.map((key) => deleteOutcome(key, response.status))
      }
      const answered = boundaryOf(response.headers.get("content-type"))
      const text = yield* documentText(response, "Blob Batch")
      if (answered === undefined) return yield* new BackendUnavailable({ reason: "Blob Batch answered without a multipart boundary" })
      const subresponses = parseBatchResponse(text, answered, keys.length)
      return keys.map((key, index) => deleteOutcome(key, subresponses[index]?.status))
    }
  )

  /** Outcomes in key order; a batch Azure refuses as a whole answers an error for each of its keys. */
  const deleteMany = (keys: ReadonlyArray<string>): Effect.Effect<ReadonlyArray<DeleteOutcome>, WriteError> =>
    Effect.map(
      Effect.forEach(Array.from({ length: Math.ceil(keys.length / BATCH_MAX) }, (_, i) => keys.slice(i * BATCH_MAX, (i + 1) * BATCH_MAX)), deleteBatch),
      (batches) => batches.flat()
    )

  /** The destination's state once a copy has finished (polled when Azure runs it asynchronously). */
  const awaitCopy = Effect.fnUntraced(function*(url: string, key: string) {
    for (let poll = 0; poll < COPY_POLLS; poll++) {
      yield* Effect.sleep(COPY_POLL_INTERVAL)
      const response = yield* send("HEAD", url, new Headers())
      yield* discard(response)
      if (response.status !== 200) return yield* refusal(response, "Get Blob Properties after Copy Blob")
      const status = response.headers.get("x-ms-copy-status")
      if (status === "success" || status === null) return response.headers
      if (status !== "pending") return yield* new BackendUnavailable({ reason: `Copy Blob to ${key} ended ${status}` })
    }
    return yield* new BackendUnavailable({ reason: `Copy Blob to ${key} still pending after ${COPY_POLLS} polls` })
  })

  /**
   * Copy Blob from the same container; `x-amz-metadata-directive: REPLACE` then sets the new metadata and
   * content headers (Set Blob Metadata, Set Blob Properties).
   */
  const copy: ObjectWriter["copy"] = Effect.fnUntraced(
    function*(request) {
      const url = blobUrl(base, request.key)
      const replace = request.headers.get("x-amz-metadata-directive")?.trim().toUpperCase() === "REPLACE"
      const stored = storedHeaders(request.headers)
      const headers = new Headers({ "x-ms-copy-source": copySourceUrl(options, request.sourceKey) })
      if (replace) for (const [name, value] of stored) if (name.startsWith("x-ms-meta-")) headers.set(name, value)
      forwardPreconditions(request.headers, headers)
      forwardSourceConditions(request.headers, headers, "x-ms-source-")
      const response = yield* send("PUT", url, headers)
      if (response.status !== 202 && response.status !== 201) {
        if (response.status === 404) {
          yield* discard(response)
          return yield* new NoSuchKey({ key: request.sourceKey })
        }
        return yield* refusal(response, "Copy Blob")
      }
      yield* discard(response)
      let final = response.headers
      if (final.get("x-ms-copy-status") === "pending") final = yield* awaitCopy(url, request.key)
      if (replace) {
        // Copy Blob keeps the source's content headers, and its metadata when none is given: REPLACE sets both.
        const metadata = headersOf(stored.filter(([name]) => name.startsWith("x-ms-meta-")))
        const setMetadata = yield* send("PUT", `${url}?comp=metadata`, metadata)
        if (setMetadata.status !== 200) return yield* refusal(setMetadata, "Set Blob Metadata")
        yield* discard(setMetadata)
        const properties = headersOf(stored.filter(([name]) => name.startsWith("x-ms-blob-")))
        const setProperties = yield* send("PUT", `${url}?comp=properties`, properties)
        if (setProperties.status !== 200) return yield* refusal(setProperties, "Set Blob Properties")
        yield* discard(setProperties)
        final = setProperties.headers
      }
      const lastModified = new Date(final.get("last-modified") ?? "")
      return { etag: quoted(final.get("etag")), lastModified: Number.isNaN(lastModified.getTime()) ? new Date(0) : lastModified }
    })

  return { put, delete: remove, deleteMany, copy }
}
