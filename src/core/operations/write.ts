import * as Effect from "effect/Effect"
import { readable, refuseAnonymousWrite, visibleProduct, writable } from "../authz/enforce.js"
import type { Identity } from "../authz/Identity.js"
import { backendKey } from "../backends/keys.js"
import type { Storage } from "../backends/ObjectStore.js"
import { forgetObject } from "../cache/objectCache.js"
import { Catalog } from "../catalog/Catalog.js"
import { emptyReply, type Reply, xmlReply } from "../http/Reply.js"
import type { S3Request } from "../http/S3Request.js"
import type { Payload } from "../identity/resolveIdentity.js"
import { NoSuchKey, type S3Error } from "../s3/errors.js"
import type { ObjectTarget } from "../s3/keys.js"
import { copyObjectXml } from "../s3/writeXml.js"
import type { EdgeCache } from "../services/EdgeCache.js"
import { deleteObjects } from "./batchDelete.js"
import { abortMultipart, completeMultipart, createMultipart, sameConnectionOnly, uploadPart, uploadPartCopy } from "./multipart.js"
import { listParts, listUploads } from "./multipartListing.js"
import type { WriteOperation } from "./Operation.js"
import { storedHeaders, withCopySourceConditions } from "./storedHeaders.js"
import { uploadOf, writtenHeaders } from "./upload.js"

type Answer = Effect.Effect<Reply, S3Error, Catalog | Storage | EdgeCache>

const putObject = (identity: Identity, request: S3Request, payload: Payload, target: ObjectTarget): Answer => {
  const upload = uploadOf(request, payload)
  return Effect.flatMap(writable(identity, target), ({ writer, key }) => upload.checked(writer.put(upload.object(key)))).pipe(
    Effect.map((written) => emptyReply(200, writtenHeaders(upload.echoed(written)))),
    Effect.tap(forgetObject(target))
  )
}

const deleteObject = (identity: Identity, target: ObjectTarget): Answer =>
  Effect.flatMap(writable(identity, target), ({ writer, key }) => writer.delete(key)).pipe(
    Effect.zipRight(forgetObject(target)),
    Effect.as(emptyReply(204))
  )

/** CopyObject within the proxy's namespace: the source authorized for read, the destination for write. */
const copyObject: (
  identity: Identity,
  request: S3Request,
  target: ObjectTarget,
  source: ObjectTarget
) => Answer = Effect.fnUntraced(
  function*(identity: Identity, request: S3Request, target: ObjectTarget, source: ObjectTarget) {
    const from = yield* readable(identity, source)
    const to = yield* writable(identity, target)
    if (from.connection.data_connection_id !== to.resolved.connection.data_connection_id) return yield* sameConnectionOnly()
    const headers = withCopySourceConditions(storedHeaders(request.headers), request.headers, ["x-amz-metadata-directive"])
    const copied = yield* to.writer.copy({ sourceKey: backendKey(from.prefix, source.key), key: to.key, headers }).pipe(
      Effect.catchTag("NoSuchKey", () => Effect.fail(new NoSuchKey({ key: `${source.product}/${source.key}` })))
    )
    yield* forgetObject(target)
    return xmlReply(copyObjectXml(copied.etag, copied.lastModified))
  }
)

/** Nothing is created: an existing account or product answers 200 (so `aws s3 sync` needs no flags). */
const createBucket: (identity: Identity, account: string, product: string | undefined) => Answer = Effect.fnUntraced(
  function*(identity: Identity, account: string, product: string | undefined) {
    if (product === undefined) yield* Effect.flatMap(Catalog, (catalog) => catalog.products(account))
    else yield* visibleProduct(identity, account, product)
    return emptyReply(200, new Headers({ location: `/${account}` }))
  }
)

/** The write operations, each streamed end to end and authorized first (docs/authorization.md#per-operation). */
export const executeWrite = (request: S3Request, op: WriteOperation, identity: Identity, payload: Payload): Answer =>
  Effect.zipRight(refuseAnonymousWrite(identity), writeOperation(request, op, identity, payload))

const writeOperation = (request: S3Request, op: WriteOperation, identity: Identity, payload: Payload): Answer => {
  switch (op._tag) {
    case "PutObject":
      return putObject(identity, request, payload, op.target)
    case "DeleteObject":
      return deleteObject(identity, op.target)
    case "DeleteObjects":
      return deleteObjects(identity, op.account, op.product, payload)
    case "CopyObject":
      return copyObject(identity, request, op.target, op.source)
    case "CreateMultipartUpload":
      return createMultipart(identity, request, op.target)
    case "UploadPart":
      return uploadPart(identity, request, payload, op)
    case "CompleteMultipartUpload":
      return completeMultipart(identity, request, payload, op.target, op.uploadId)
    case "AbortMultipartUpload":
      return abortMultipart(identity, op.target, op.uploadId)
    case "ListParts":
      return listParts(identity, request, op.target, op.uploadId)
    case "ListMultipartUploads":
      return listUploads(identity, request, op.account, op.product)
    case "UploadPartCopy":
      return uploadPartCopy(identity, request, op)
    case "CreateBucket":
      return createBucket(identity, op.account, op.product)
  }
}
