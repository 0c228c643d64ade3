import * as Effect from "effect/Effect"
import { readable, writable } from "../authz/enforce.js"
import type { Identity } from "../authz/Identity.js"
import { backendKey } from "../backends/keys.js"
import type { Storage } from "../backends/ObjectStore.js"
import { forgetObject } from "../cache/objectCache.js"
import type { Catalog } from "../catalog/Catalog.js"
import { emptyReply, type Reply, xmlReply } from "../http/Reply.js"
import type { S3Request } from "../http/S3Request.js"
import type { Payload } from "../identity/resolveIdentity.js"
import { InvalidArgument, NoSuchKey, NotImplemented, type S3Error } from "../s3/errors.js"
import type { ObjectTarget } from "../s3/keys.js"
import { parseCopySourceRange } from "../s3/range.js"
import { completeMultipartXml, copyPartXml, initiateMultipartXml, parseCompleteRequest } from "../s3/writeXml.js"
import type { EdgeCache } from "../services/EdgeCache.js"
import { storedHeaders, withCopySourceConditions } from "./storedHeaders.js"
import { uploadOf, writtenHeaders } from "./upload.js"
import { readXmlBody } from "./xmlBody.js"

/*
 * A multipart upload's life: create, parts (uploaded or copied), complete, abort. Every step is a write on
 * the upload's target; UploadPartCopy's source is a read, as CopyObject's.
 */

type Answer = Effect.Effect<Reply, S3Error, Catalog | Storage | EdgeCache>

/** An optional `ObjectWriter` member the product's storage lacks. */
export const lacking = (operation: string) =>
  new NotImplemented({ message: `${operation} is not supported for this product's storage` })

export const sameConnectionOnly = () =>
  new NotImplemented({
    message: "Copying between products on different storage connections is not supported: download and upload instead"
  })

export const createMultipart = (identity: Identity, request: S3Request, target: ObjectTarget): Answer =>
  Effect.flatMap(writable(identity, target), ({ writer, key }) =>
    writer.createMultipart({ key, headers: storedHeaders(request.headers) })).pipe(
      Effect.map((uploadId) => xmlReply(initiateMultipartXml(target.account, `${target.product}/${target.key}`, uploadId)))
    )

export const uploadPart = (
  identity: Identity,
  request: S3Request,
  payload: Payload,
  op: { readonly target: ObjectTarget; readonly uploadId: string; readonly partNumber: number }
): Answer => {
  const upload = uploadOf(request, payload)
  return Effect.flatMap(writable(identity, op.target), ({ writer, key }) =>
    upload.checked(writer.uploadPart({ ...upload.object(key), uploadId: op.uploadId, partNumber: op.partNumber }))).pipe(
      Effect.map((written) => emptyReply(200, writtenHeaders(upload.echoed(written))))
    )
}

export const completeMultipart: (
  identity: Identity,
  request: S3Request,
  payload: Payload,
  target: ObjectTarget,
  uploadId: string
) => Answer = Effect.fnUntraced(
  function*(identity: Identity, request: S3Request, payload: Payload, target: ObjectTarget, uploadId: string) {
    const { writer, key } = yield* writable(identity, target)
    const parts = yield* Effect.flatMap(readXmlBody(payload), parseCompleteRequest)
    const written = yield* writer.completeMultipart({ key, uploadId, parts, headers: storedHeaders(request.headers) })
    yield* forgetObject(target)
    const clientKey = `${target.product}/${target.key}`
    return xmlReply(completeMultipartXml(`/${target.account}/${clientKey}`, target.account, clientKey, written.etag))
  }
)

export const abortMultipart = (identity: Identity, target: ObjectTarget, uploadId: string): Answer =>
  Effect.flatMap(writable(identity, target), ({ writer, key }) => writer.abortMultipart({ key, uploadId })).pipe(
    Effect.as(emptyReply(204))
  )

/**
 * UploadPartCopy: a part from an object of the proxy's namespace (whole or `x-amz-copy-source-range`), the
 * source authorized for read and the upload's target for write; both on one storage connection.
 */
export const uploadPartCopy: (
  identity: Identity,
  request: S3Request,
  op: { readonly target: ObjectTarget; readonly source: ObjectTarget; readonly uploadId: string; readonly partNumber: number }
) => Answer = Effect.fnUntraced(
  function*(identity: Identity, request: S3Request, op: { readonly target: ObjectTarget; readonly source: ObjectTarget; readonly uploadId: string; readonly partNumber: number }) {
    const rangeHeader = request.headers.get("x-amz-copy-source-range") ?? undefined
    if (rangeHeader !== undefined && parseCopySourceRange(rangeHeader) === undefined) {
      return yield* new InvalidArgument({ message: "The x-amz-copy-source-range value must be of the form bytes=first-last" })
    }
    const from = yield* readable(identity, op.source)
    const to = yield* writable(identity, op.target)
    if (from.connection.data_connection_id !== to.resolved.connection.data_connection_id) return yield* sameConnectionOnly()
    if (to.writer.uploadPartCopy === undefined) return yield* lacking("UploadPartCopy")
    const copied = yield* to.writer.uploadPartCopy({
      sourceKey: backendKey(from.prefix, op.source.key),
      key: to.key,
      uploadId: op.uploadId,
      partNumber: op.partNumber,
      range: rangeHeader?.trim(),
      headers: withCopySourceConditions(new Headers(), request.headers)
    }).pipe(Effect.catchTag("NoSuchKey", () => Effect.fail(new NoSuchKey({ key: `${op.source.product}/${op.source.key}` }))))
    return xmlReply(copyPartXml(copied.etag, copied.lastModified))
  }
)
