import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import {
  AccessDenied,
  BackendAuthenticationFailed,
  type BackendInvalidResponse,
  BackendUnavailable,
  EntityTooSmall,
  InvalidPart,
  InvalidRequest,
  NoSuchKey,
  NoSuchUpload,
  NotImplemented,
  PreconditionFailed
} from "../../s3/errors.js"
import { discard, documentText, ERROR_DOCUMENT_MAX_BYTES } from "../answer.js"
import { encodeKey } from "../keys.js"
import type { ObjectWrite, ObjectWriter, WriteError, Written } from "../ObjectStore.js"
import { uriEncode } from "../../s3/uriEncode.js"
import { contentMd5 } from "./md5.js"
import {
  type BackendError,
  completeBody,
  deleteBody,
  parseCompleteResult,
  parseCopyPartResult,
  parseCopyResult,
  parseDeleteResult,
  parseError,
  parseListParts,
  parseListUploads,
  parseUploadId
} from "./writeXml.js"

/** One signed request to the bucket; `send` (S3Store) signs with UNSIGNED-PAYLOAD and streams the body. */
export interface SignedRequest {
  readonly method: string
  /** Path after the bucket, already encoded (`/key` or ``), and the query (strictly encoded, no `?`). */
  readonly path: string
  readonly query?: string
  readonly headers: Headers
  readonly body?: ReadableStream<Uint8Array> | string | null
  /** Bound on the wait for the answer's headers; uploads wait as long as the body takes to stream. */
  readonly timeout?: Duration.DurationInput
}

export type Send = (
  request: SignedRequest
) => Effect.Effect<Response, BackendUnavailable | BackendInvalidResponse | BackendAuthenticationFailed | AccessDenied>

/** Where an S3-speaking backend's writes differ (GCS's XML API). */
export interface WriteDialect {
  /** `POST ?delete` (DeleteObjects); without it deleteMany is one DELETE per key. */
  readonly batchDelete: boolean
  /** The core's write headers as this backend takes them (e.g. GCS's `x-goog-if-generation-match`). */
  readonly writeHeaders: (headers: Headers) => Headers
  /** UploadPartCopy (`PUT ?partNumber&uploadId` with `x-amz-copy-source`); without it the writer has no `uploadPartCopy`. */
  readonly partCopy: boolean
  /**
   * Whether writes conditional on an ETag (`If-Match`, `If-None-Match` other than `*`) are enforced. A backend
   * that would silently ignore them answers 501 instead of overwriting.
   */
  readonly etagPreconditions: boolean
}

/**
 * Keys one DeleteObjects deletes one by one on a backend without a batch delete (GCS's XML API has none).
 * Each is a subrequest, and Workers caps those per request: the keys past this answer SlowDown, to be sent again.
 */
export const PER_KEY_DELETE_LIMIT = 256
/** Per-key deletes in flight at once (Workers allows six outgoing connections per request). */
const PER_KEY_DELETE_CONCURRENCY = 6

/** Headers a write forwards from `ObjectWrite.headers` (the core filtered them already; this is the fence). */
const isForwarded = (name: string) =>
  name === "content-type" || name === "cache-control" || name === "content-disposition" || name === "content-encoding" ||
  name === "content-language" || name === "expires" || name === "if-match" || name === "if-none-match" ||
  name.startsWith("x-amz-meta-") || name.startsWith("x-amz-checksum-")

/** Copy headers: the directive, the copy-source preconditions, and the entity headers for REPLACE. */
const COPY_HEADERS = new Set([
  "x-amz-metadata-directive", "x-amz-copy-source-if-match", "x-amz-copy-source-if-none-match",
  "x-amz-copy-source-if-modified-since", "x-amz-copy-source-if-unmodified-since"
])

const forward = (from: Headers, keep: (name: string) => boolean): Headers => {
  const headers = new Headers()
  from.forEach((value, name) => {
    if (keep(name)) headers.set(name, value)
  })
  return headers
}

/** The backend's answer headers a client gets back from a write: checksums and the version id. */
const writtenHeaders = (response: Headers): Headers =>
  forward(response, (name) => name === "x-amz-version-id" || name.startsWith("x-amz-checksum-"))

/** Codes of a 400 that are the client's request, not the backend's failure (answered 400, not 503). */
const CLIENT_CODES = new Set([
  "InvalidArgument", "InvalidRequest", "EntityTooLarge", "KeyTooLongError", "MetadataTooLarge",
  "InvalidDigest", "BadDigest", "InvalidStorageClass", "MissingContentLength", "IncompleteBody", "InvalidEncryptionAlgorithmError"
])

type Mapped = WriteError | NoSuchUpload | InvalidPart | NoSuchKey

/** A failed write answer as the S3 error the client should see. */
const failed = (status: number, error: BackendError | undefined, what: string, uploadId = ""): Mapped => {
  const code = error?.code ?? ""
  const detail = `backend answered ${status}${code === "" ? "" : ` ${code}`} to ${what}`
  if (code === "NoSuchUpload" || (status === 404 && uploadId !== "")) return new NoSuchUpload({ uploadId })
  if (code === "InvalidPart" || code === "InvalidPartOrder") return new InvalidPart({ message: error?.message ?? code })
  if (status === 412 || status === 409 || code === "PreconditionFailed") return new PreconditionFailed()
  if (status === 401 || status === 403) return new AccessDenied({ reason: detail })
  if (code === "NoSuchKey") return new NoSuchKey({ key: "" })
  if (status === 411) return new InvalidRequest({ message: "the backend needs a Content-Length for this upload" })
  if (status === 501) return new NotImplemented({ message: detail })
  if (status === 400 && code === "EntityTooSmall") return new EntityTooSmall()
  if (status === 400 && CLIENT_CODES.has(code)) return new InvalidRequest({ message: `${code}: ${error?.message ?? ""}` })
  return new BackendUnavailable({ reason: detail })
}

/** Reads the error body (S3 sends XML) and maps it. */
const failure = Effect.fnUntraced(function*(response: Response, what: string, uploadId?: string) {
  const text = yield* documentText(response, what, ERROR_DOCUMENT_MAX_BYTES).pipe(Effect.orElseSucceed(() => ""))
  return failed(response.status, parseError(text), what, uploadId)
})

const written = (response: Response, etag: string | null, what: string): Effect.Effect<Written, BackendUnavailable> =>
  etag === null || etag === ""
    ? Effect.fail(new BackendUnavailable({ reason: `${what}: the backend answered no ETag` }))
    : Effect.succeed({ etag: etag.startsWith("\"") ? etag : `"${etag}"`, headers: writtenHeaders(response.headers) })

/** Query components encoded strictly (`/` too): an `uploadId` may hold `+`, `/` and `=`. */
const queryEncode = (text: string) => uriEncode(text).replace(/\//g, "%2F")
const query = (params: ReadonlyArray<readonly [string, string]>) =>
  params.map(([name, value]) => `${queryEncode(name)}=${queryEncode(value)}`).join("&")

/**
 * The writer of an S3-speaking backend (docs/backends.md#writes): every request signed with `UNSIGNED-PAYLOAD`,
 * bodies streamed through (never buffered; Content-Length from the decoded length when the client declared one).
 *
 * - Without a known length the body still streams, as `Transfer-Encoding: chunked`: AWS S3 refuses that
 *   (411 MissingContentLength → InvalidRequest); GCS and most S3-compatible servers take it.
 * - Trailer checksums (`ObjectWrite.trailers`) are not forwarded: they are known only after the body, and an
 *   UNSIGNED-PAYLOAD body has no trailer. The core has verified them already; value checksum headers
 *   (`x-amz-checksum-*`) are forwarded and verified by the backend.
 */
export const makeS3Writer = (send: Send, bucket: string, dialect: WriteDialect): ObjectWriter => {
  const objectPath = (key: string) => `/${encodeKey(key)}`
  const withLength = (headers: Headers, request: ObjectWrite) => {
    if (request.contentLength !== undefined) headers.set("content-length", String(request.contentLength))
    return headers
  }
  const bodyOf = (request: ObjectWrite) => (request.contentLength === 0 ? null : request.body)

  /** Refuses a write precondition the backend would ignore, rather than overwrite unconditionally. */
  const preconditionsHonoured = (headers: Headers) => {
    const ifNoneMatch = headers.get("if-none-match")
    return dialect.etagPreconditions || (!headers.has("if-match") && (ifNoneMatch === null || ifNoneMatch.trim() === "*"))
      ? Effect.void
      : Effect.fail(new NotImplemented({ message: "Writes conditional on an ETag are not supported by this storage backend" }))
  }

  const put: ObjectWriter["put"] = Effect.fnUntraced(function*(request) {
    yield* preconditionsHonoured(request.headers)
    const headers = withLength(dialect.writeHeaders(forward(request.headers, isForwarded)), request)
    const response = yield* send({ method: "PUT", path: objectPath(request.key), headers, body: bodyOf(request) })
    if (response.status !== 200) return yield* Effect.flatMap(failure(response, "PutObject"), Effect.fail)
    yield* discard(response)
    return yield* written(response, response.headers.get("etag"), "PutObject")
  }, Effect.catchTag("NoSuchUpload", "InvalidPart", "NoSuchKey", (e) => Effect.fail(new BackendUnavailable({ reason: e._tag }))))

  const remove: ObjectWriter["delete"] = Effect.fnUntraced(function*(key) {
    const response = yield* send({ method: "DELETE", path: objectPath(key), headers: new Headers() })
    if (response.status === 204 || response.status === 200 || response.status === 404) return yield* discard(response)
    return yield* Effect.flatMap(failure(response, "DeleteObject"), Effect.fail)
  }, Effect.catchTag("NoSuchUpload", "InvalidPart", "NoSuchKey", (e) => Effect.fail(new BackendUnavailable({ reason: e._tag }))))

  const deleteMany: ObjectWriter["deleteMany"] = Effect.fnUntraced(function*(keys) {
    if (keys.length === 0) return []
    if (!dialect.batchDelete) {
      const deleted = yield* Effect.forEach(keys.slice(0, PER_KEY_DELETE_LIMIT), (key) =>
        remove(key).pipe(
          Effect.as({ key, error: undefined }),
          Effect.catchAll((e) => Effect.succeed({ key, error: { code: e._tag, message: "the backend refused the delete" } }))
        ), { concurrency: PER_KEY_DELETE_CONCURRENCY })
      const later = {
        code: "SlowDown",
        message: `Please reduce your request rate: this storage deletes at most ${PER_KEY_DELETE_LIMIT} keys per DeleteObjects request; send this key again`
      }
      return [...deleted, ...keys.slice(PER_KEY_DELETE_LIMIT).map((key) => ({ key, error: later }))]
    }
    const body = deleteBody(keys)
    const headers = new Headers({
      "content-type": "application/xml",
      "content-md5": contentMd5(new TextEncoder().encode(body))
    })
    const response = yield* send({ method: "POST", path: "", query: "delete", headers, body })
    const text = yield* documentText(response, "DeleteObjects")
    if (response.status !== 200) {
      return yield* Effect.fail(failed(response.status, parseError(text), "DeleteObjects"))
    }
    const outcomes = parseDeleteResult(text, keys)
    if (outcomes === undefined) return yield* new BackendUnavailable({ reason: "DeleteObjects: not a DeleteResult" })
    return outcomes
  }, Effect.catchTag("NoSuchUpload", "InvalidPart", "NoSuchKey", (e) => Effect.fail(new BackendUnavailable({ reason: e._tag }))))

  const copy: ObjectWriter["copy"] = Effect.fnUntraced(function*(request) {
    const replace = request.headers.get("x-amz-metadata-directive")?.toUpperCase() === "REPLACE"
    const headers = forward(request.headers, (name) => COPY_HEADERS.has(name) || (replace && isForwarded(name) && !name.startsWith("if-")))
    headers.set("x-amz-copy-source", `/${uriEncode(bucket)}/${encodeKey(request.sourceKey)}`)
    // S3 answers 200 once the copy starts and may report a failure in the body: read it to the end.
    const response = yield* send({ method: "PUT", path: objectPath(request.key), headers: dialect.writeHeaders(headers) })
    const text = yield* documentText(response, "CopyObject")
    if (response.status !== 200) {
      const error = failed(response.status, parseError(text), "CopyObject")
      return yield* Effect.fail(error._tag === "NoSuchKey" || response.status === 404 ? new NoSuchKey({ key: request.sourceKey }) : error)
    }
    const result = parseCopyResult(text)
    if ("error" in result) {
      return yield* new BackendUnavailable({ reason: `CopyObject failed in the backend: ${result.error?.code ?? "unreadable answer"}` })
    }
    return result
  }, Effect.catchTag("NoSuchUpload", "InvalidPart", (e) => Effect.fail(new BackendUnavailable({ reason: e._tag }))))

  const createMultipart: ObjectWriter["createMultipart"] = Effect.fnUntraced(function*(request) {
    const headers = dialect.writeHeaders(forward(request.headers, (name) => isForwarded(name) && !name.startsWith("if-")))
    const response = yield* send({ method: "POST", path: objectPath(request.key), query: "uploads", headers })
    const text = yield* documentText(response, "CreateMultipartUpload")
    if (response.status !== 200) return yield* Effect.fail(failed(response.status, parseError(text), "CreateMultipartUpload"))
    const uploadId = parseUploadId(text)
    if (uploadId === undefined) return yield* new BackendUnavailable({ reason: "CreateMultipartUpload: no UploadId" })
    return uploadId
  }, Effect.catchTag("NoSuchUpload", "InvalidPart", "NoSuchKey", (e) => Effect.fail(new BackendUnavailable({ reason: e._tag }))))

  const uploadPart: ObjectWriter["uploadPart"] = Effect.fnUntraced(function*(request) {
    const headers = withLength(forward(request.headers, (name) => name.startsWith("x-amz-checksum-")), request)
    const response = yield* send({
      method: "PUT",
      path: objectPath(request.key),
      query: query([["partNumber", String(request.partNumber)], ["uploadId", request.uploadId]]),
      headers,
      body: bodyOf(request)
    })
    if (response.status !== 200) {
      return yield* Effect.flatMap(failure(response, "UploadPart", request.uploadId), Effect.fail)
    }
    yield* discard(response)
    return yield* written(response, response.headers.get("etag"), "UploadPart")
  }, Effect.catchTag("InvalidPart", "NoSuchKey", (e) => Effect.fail(new BackendUnavailable({ reason: e._tag }))))

  const completeMultipart: ObjectWriter["completeMultipart"] = Effect.fnUntraced(function*(request) {
    yield* preconditionsHonoured(request.headers)
    const headers = dialect.writeHeaders(forward(request.headers, (name) => name === "if-match" || name === "if-none-match"))
    headers.set("content-type", "application/xml")
    const response = yield* send({
      method: "POST",
      path: objectPath(request.key),
      query: query([["uploadId", request.uploadId]]),
      headers,
      body: completeBody(request.parts)
    })
    const text = yield* documentText(response, "CompleteMultipartUpload")
    if (response.status !== 200) {
      return yield* Effect.fail(failed(response.status, parseError(text), "CompleteMultipartUpload", request.uploadId))
    }
    const result = parseCompleteResult(text)
    if ("error" in result) {
      // A 200 whose body is an <Error> (S3 answers early and reports the outcome at the end).
      const error = failed(500, result.error, "CompleteMultipartUpload", request.uploadId)
      return yield* Effect.fail(error)
    }
    return { etag: result.etag, headers: writtenHeaders(response.headers) }
  }, Effect.catchTag("NoSuchKey", (e) => Effect.fail(new BackendUnavailable({ reason: e._tag }))))

  const abortMultipart: ObjectWriter["abortMultipart"] = Effect.fnUntraced(function*(request) {
    const response = yield* send({
      method: "DELETE",
      path: objectPath(request.key),
      query: query([["uploadId", request.uploadId]]),
      headers: new Headers()
    })
    if (response.status === 204 || response.status === 200) return yield* discard(response)
    const error = yield* failure(response, "AbortMultipartUpload", request.uploadId)
    return yield* Effect.fail(response.status === 404 ? new NoSuchUpload({ uploadId: request.uploadId }) : error)
  }, Effect.catchTag("InvalidPart", "NoSuchKey", (e) => Effect.fail(new BackendUnavailable({ reason: e._tag }))))

  const listParts: NonNullable<ObjectWriter["listParts"]> = Effect.fnUntraced(function*(request) {
    const params: Array<readonly [string, string]> = [["max-parts", String(request.maxParts)]]
    if (request.partNumberMarker > 0) params.push(["part-number-marker", String(request.partNumberMarker)])
    params.push(["uploadId", request.uploadId])
    const response = yield* send({ method: "GET", path: objectPath(request.key), query: query(params), headers: new Headers() })
    const text = yield* documentText(response, "ListParts")
    if (response.status !== 200) return yield* Effect.fail(failed(response.status, parseError(text), "ListParts", request.uploadId))
    const page = parseListParts(text)
    if (page === undefined) return yield* new BackendUnavailable({ reason: "ListParts: not a ListPartsResult" })
    return page
  }, Effect.catchTag("InvalidPart", "NoSuchKey", (e) => Effect.fail(new BackendUnavailable({ reason: e._tag }))))

  const listUploads: NonNullable<ObjectWriter["listUploads"]> = Effect.fnUntraced(function*(request) {
    const params: Array<readonly [string, string]> = []
    if (request.keyMarker !== undefined) params.push(["key-marker", request.keyMarker])
    params.push(["max-uploads", String(request.maxUploads)])
    params.push(["prefix", request.prefix])
    if (request.keyMarker !== undefined && request.uploadIdMarker !== undefined) {
      params.push(["upload-id-marker", request.uploadIdMarker])
    }
    const response = yield* send({ method: "GET", path: "", query: `uploads&${query(params)}`, headers: new Headers() })
    const text = yield* documentText(response, "ListMultipartUploads")
    if (response.status !== 200) return yield* Effect.fail(failed(response.status, parseError(text), "ListMultipartUploads"))
    const page = parseListUploads(text)
    if (page === undefined) return yield* new BackendUnavailable({ reason: "ListMultipartUploads: not a ListMultipartUploadsResult" })
    return page
  }, Effect.catchTag("NoSuchUpload", "InvalidPart", "NoSuchKey", (e) => Effect.fail(new BackendUnavailable({ reason: e._tag }))))

  const uploadPartCopy: NonNullable<ObjectWriter["uploadPartCopy"]> = Effect.fnUntraced(function*(request) {
    const headers = forward(request.headers, (name) => COPY_HEADERS.has(name) && name !== "x-amz-metadata-directive")
    headers.set("x-amz-copy-source", `/${uriEncode(bucket)}/${encodeKey(request.sourceKey)}`)
    if (request.range !== undefined) headers.set("x-amz-copy-source-range", request.range)
    const response = yield* send({
      method: "PUT",
      path: objectPath(request.key),
      query: query([["partNumber", String(request.partNumber)], ["uploadId", request.uploadId]]),
      headers: dialect.writeHeaders(headers)
    })
    // As for CopyObject, a 200 may carry an <Error>: read the body to its end.
    const text = yield* documentText(response, "UploadPartCopy")
    if (response.status !== 200) {
      const error = parseError(text)
      // A 404 without a code (moto) is taken as the source: S3 names a missing upload NoSuchUpload.
      if (error?.code === "NoSuchKey" || (response.status === 404 && error === undefined)) {
        return yield* new NoSuchKey({ key: request.sourceKey })
      }
      if (error?.code === "InvalidRange" || error?.code === "InvalidArgument") {
        return yield* new InvalidRequest({ message: `${error.code}: ${error.message}` })
      }
      return yield* Effect.fail(failed(response.status, error, "UploadPartCopy", request.uploadId))
    }
    const result = parseCopyPartResult(text)
    if ("error" in result) {
      return yield* new BackendUnavailable({ reason: `UploadPartCopy failed in the backend: ${result.error?.code ?? "unreadable answer"}` })
    }
    return result
  }, Effect.catchTag("InvalidPart", (e) => Effect.fail(new BackendUnavailable({ reason: e._tag }))))

  return {
    put,
    delete: remove,
    deleteMany,
    copy,
    createMultipart,
    uploadPart,
    completeMultipart,
    abortMultipart,
    listParts,
    listUploads,
    ...(dialect.partCopy ? { uploadPartCopy } : {})
  }
}
