import * as Effect from "effect/Effect"
import { authorize } from "../authz/authorize.js"
import { objectUrn } from "../authz/urn.js"
import { backendKey } from "../backends/keys.js"
import type { DeleteOutcome, ObjectWriter, Storage, Written } from "../backends/ObjectStore.js"
import { Catalog } from "../catalog/Catalog.js"
import { callerOf } from "../identity/caller.js"
import { resolveProduct, type ResolvedProduct } from "../catalog/resolve.js"
import { isPublic } from "../catalog/schema.js"
import type { Reply } from "../http/Reply.js"
import type { S3Request } from "../http/S3Request.js"
import type { Identity } from "../identity/Identity.js"
import type { Payload } from "../identity/resolveIdentity.js"
import { readBounded } from "../http/readBounded.js"
import { logEvent } from "../observability/event.js"
import { keyProblem } from "../routing/keys.js"
import type { ObjectTarget, Operation } from "../routing/Operation.js"
import type { SigV4BodyError } from "../sigv4/errors.js"
import { type Authorizer, listParts, listUploads, uploadPartCopy } from "./multipartAdmin.js"
import { type BodyFailure, noteBodyFailure } from "./bodyFailure.js"
import { type ChecksumOutcome, verifyTrailingChecksum } from "./trailerChecksum.js"
import {
  AccessDenied,
  type BackendAuthenticationFailed,
  BadDigest,
  InvalidRequest,
  MalformedXML,
  NoSuchKey,
  NotImplemented,
  type S3Error
} from "./errors.js"
import {
  completeMultipartXml,
  copyObjectXml,
  deleteResultXml,
  initiateMultipartXml,
  parseCompleteRequest,
  parseDeleteRequest
} from "./writeXml.js"

/** DeleteObjects and CompleteMultipartUpload bodies are small XML documents; anything larger is refused. */
const XML_BODY_LIMIT = 2 * 1024 * 1024

const xmlReply = (body: string): Reply => ({ status: 200, headers: new Headers({ "content-type": "application/xml" }), body })

/** The headers a stored object keeps, and the write preconditions (`ObjectWrite.headers`). */
const STORED = [
  "content-type", "cache-control", "content-disposition", "content-language", "expires", "content-md5", "if-match",
  "if-none-match"
]

export const storedHeaders = (client: Headers): Headers => {
  const headers = new Headers()
  for (const name of STORED) {
    const value = client.get(name)
    if (value !== null) headers.set(name, value)
  }
  // `aws-chunked` is the upload's framing, not the object's encoding.
  const encoding = (client.get("content-encoding") ?? "").split(",").map((e) => e.trim())
    .filter((e) => e !== "" && e.toLowerCase() !== "aws-chunked")
  if (encoding.length > 0) headers.set("content-encoding", encoding.join(", "))
  client.forEach((value, name) => {
    if (name.startsWith("x-amz-meta-") || (name.startsWith("x-amz-checksum-") && name !== "x-amz-checksum-type")) {
      headers.set(name, value)
    }
  })
  return headers
}

const writtenReply = (written: Written): Reply => {
  const headers = new Headers(written.headers)
  headers.set("etag", written.etag)
  return { status: 200, headers, body: null }
}

/**
 * A product the caller may act on (ADR-005): the Role ceiling ∩ the principal's permissions, which are
 * fetched only for a write or a product that is not public. Anonymous callers never write.
 */
export const authorizedProduct = (
  identity: Identity,
  account: string,
  product: string,
  action: "read" | "write",
  key: string
) =>
  Effect.gen(function*() {
    if (identity._tag === "Anonymous" && action === "write") {
      return yield* new AccessDenied({ reason: "anonymous callers cannot write" })
    }
    const caller = callerOf(identity)
    const resolved = yield* resolveProduct(account, product, caller).pipe(
      // A connection whose authentication cannot sign fails closed: 502 for a read, 403 for a write (TARGET §3).
      Effect.catchTag("BackendAuthenticationFailed", (e): Effect.Effect<never, AccessDenied | BackendAuthenticationFailed> =>
        action === "write" ? Effect.fail(new AccessDenied({ reason: `connection auth: ${e.code}` })) : Effect.fail(e))
    )
    const publicRead = isPublic(resolved.meta)
    const principalPermissions = caller !== undefined && (action === "write" || !publicRead)
      ? yield* (yield* Catalog).permissions(account, product, caller)
      : undefined
    const resource = objectUrn(account, product, key)
    const decision = authorize(identity, { action, resource, publicRead, principalPermissions })
    if (identity._tag === "Session") {
      // The access log (ADR-005): one entry per decision on a session request.
      const allowed = yield* Effect.isSuccess(decision)
      yield* logEvent("access", {
        decision: allowed ? "allow" : "deny",
        action,
        resource,
        principal: caller?.principal ?? null,
        account: identity.claims.account_id,
        role: identity.claims.role_name,
        assumed_by: identity.claims.assumed_by,
        assumed_by_issuer: identity.claims.assumed_by_issuer,
        session_name: identity.claims.session_name,
        jti: identity.claims.jti,
        principal_permissions: principalPermissions ?? null
      })
    }
    yield* decision
    return resolved
  })

/** The writer of a product the caller may write to: a connection that is not read-only and can sign. */
const writableProduct = (identity: Identity, target: ObjectTarget) =>
  Effect.gen(function*() {
    const resolved = yield* authorizedProduct(identity, target.account, target.product, "write", target.key)
    const writer = resolved.store.writer
    if (resolved.connection.read_only || writer === undefined) {
      return yield* new AccessDenied({ reason: "the product's connection does not take writes" })
    }
    return { resolved, writer, key: backendKey(resolved.prefix, target.key) }
  })

const readXmlBody = (payload: Payload) =>
  payload.body === null
    ? Effect.fail(new MalformedXML({ message: "The request body is empty" }))
    : readBounded(payload.body, XML_BODY_LIMIT).pipe(
      Effect.map((bytes) => new TextDecoder().decode(bytes)),
      Effect.catchTags({
        BodyTooLarge: () => Effect.fail(new MalformedXML({ message: "The XML body is too large" })),
        BodyUnreadable: () => Effect.fail(new InvalidRequest({ message: "The request body could not be read" }))
      })
    )

/** DeleteObjects: every key resolved to its product and authorized on its own (TARGET §2, §7). */
const deleteObjects = (identity: Identity, account: string, product: string | undefined, payload: Payload) =>
  Effect.gen(function*() {
    const { keys, quiet } = yield* Effect.flatMap(readXmlBody(payload), parseDeleteRequest)
    const outcomes = new Map<number, DeleteOutcome>()
    const byProduct = new Map<string, Array<{ readonly index: number; readonly key: string }>>()
    keys.forEach((clientKey, index) => {
      const slash = clientKey.indexOf("/")
      const [p, key] = product !== undefined ? [product, clientKey] : [clientKey.slice(0, slash), clientKey.slice(slash + 1)]
      if ((product === undefined && slash <= 0) || keyProblem(key)) {
        outcomes.set(index, { key: clientKey, error: { code: "InvalidArgument", message: "Invalid object key" } })
      } else {
        byProduct.set(p, [...(byProduct.get(p) ?? []), { index, key }])
      }
    })
    for (const [p, entries] of byProduct) {
      const allowed: Array<{ readonly index: number; readonly key: string; readonly backend: string }> = []
      let writer: ObjectWriter | undefined
      for (const entry of entries) {
        const target = { account, product: p, key: entry.key }
        const found = yield* Effect.either(writableProduct(identity, target))
        if (found._tag === "Left") {
          const denied = found.left._tag === "NoSuchBucket" ? "NoSuchBucket" : "AccessDenied"
          outcomes.set(entry.index, { key: keys[entry.index]!, error: { code: denied, message: denied === "AccessDenied" ? "Access Denied" : "The specified bucket does not exist" } })
        } else {
          writer = found.right.writer
          allowed.push({ ...entry, backend: found.right.key })
        }
      }
      if (writer !== undefined && allowed.length > 0) {
        const results = yield* writer.deleteMany(allowed.map((a) => a.backend))
        results.forEach((result, i) => {
          const entry = allowed[i]!
          outcomes.set(entry.index, { key: keys[entry.index]!, error: result.error })
        })
      }
    }
    return xmlReply(deleteResultXml(keys.map((key, index) => outcomes.get(index) ?? { key, error: undefined }), quiet))
  })

/** CopyObject within the proxy's namespace: the source authorized for read, the destination for write. */
const copyObject = (identity: Identity, request: S3Request, target: ObjectTarget, source: ObjectTarget) =>
  Effect.gen(function*() {
    const from: ResolvedProduct = yield* authorizedProduct(identity, source.account, source.product, "read", source.key)
    const to = yield* writableProduct(identity, target)
    if (from.connection.data_connection_id !== to.resolved.connection.data_connection_id) {
      return yield* new NotImplemented({
        message: "Copying between products on different storage connections is not supported: download and upload instead"
      })
    }
    const headers = storedHeaders(request.headers)
    for (const name of ["x-amz-metadata-directive", "x-amz-copy-source-if-match", "x-amz-copy-source-if-none-match",
      "x-amz-copy-source-if-modified-since", "x-amz-copy-source-if-unmodified-since"]) {
      const value = request.headers.get(name)
      if (value !== null) headers.set(name, value)
    }
    const copied = yield* to.writer.copy({ sourceKey: backendKey(from.prefix, source.key), key: to.key, headers }).pipe(
      Effect.catchTag("NoSuchKey", () => Effect.fail(new NoSuchKey({ key: `${source.product}/${source.key}` })))
    )
    return xmlReply(copyObjectXml(copied.etag, copied.lastModified))
  })

/** How the multipart bookkeeping (multipartAdmin.ts) authorizes: as the writes here do. */
const authorizer = (identity: Identity): Authorizer => ({
  writable: (target) => writableProduct(identity, target),
  readable: (source) => authorizedProduct(identity, source.account, source.product, "read", source.key)
})

/** The write operations (TARGET §7), each streamed end to end and authorized first. */
export const executeWrite = (
  request: S3Request,
  op: Operation,
  identity: Identity,
  payload: Payload
): Effect.Effect<Reply, S3Error, Catalog | Storage> => {
  // Anonymous callers never write (ADR-005); refused before any lookup, as one 403 for the whole request.
  if (identity._tag === "Anonymous") return Effect.fail(new AccessDenied({ reason: "anonymous callers cannot write" }))
  const write = (target: ObjectTarget) => writableProduct(identity, target)
  const checksum: ChecksumOutcome = { mismatch: undefined }
  const failure: BodyFailure = { error: undefined }
  /** The upload of `key`; only a body the SigV4 verifier stands in front of can fail with its errors. */
  const object = (key: string) => {
    const verified = payload.body === null || payload.body === request.body ? payload.body : noteBodyFailure(payload.body, failure)
    return {
      key,
      body: verified === null
        ? null
        : verifyTrailingChecksum(verified, request.headers.get("x-amz-trailer"), payload.trailers, checksum),
      contentLength: payload.contentLength,
      headers: storedHeaders(request.headers),
      trailers: payload.trailers
    }
  }
  /**
   * A failed upload whose body failed verification answers the verifier's error, and one whose trailing checksum
   * did not match the client's BadDigest, whatever the backend said.
   */
  const checked = <A, E>(upload: Effect.Effect<A, E>): Effect.Effect<A, E | BadDigest | SigV4BodyError> =>
    Effect.catchAll(upload, (e): Effect.Effect<never, E | BadDigest | SigV4BodyError> =>
      failure.error !== undefined
        ? Effect.fail(failure.error)
        : checksum.mismatch === undefined
        ? Effect.fail(e)
        : Effect.fail(new BadDigest({ algorithm: checksum.mismatch })))
  /** The verified trailing checksum is echoed, as S3 does. */
  const echoed = (written: Written): Written => {
    const trailer = (request.headers.get("x-amz-trailer") ?? "").trim().toLowerCase()
    const value = [...payload.trailers()].find(([name]) => name.trim().toLowerCase() === trailer)?.[1]
    if (value === undefined || !trailer.startsWith("x-amz-checksum-")) return written
    const headers = new Headers(written.headers)
    headers.set(trailer, value)
    return { ...written, headers }
  }
  switch (op._tag) {
    case "PutObject":
      return Effect.flatMap(write(op.target), ({ writer, key }) => checked(writer.put(object(key)))).pipe(
        Effect.map((written) => writtenReply(echoed(written)))
      )
    case "DeleteObject":
      return Effect.flatMap(write(op.target), ({ writer, key }) => writer.delete(key)).pipe(
        Effect.as({ status: 204, headers: new Headers(), body: null })
      )
    case "DeleteObjects":
      return deleteObjects(identity, op.account, op.product, payload)
    case "CopyObject":
      return copyObject(identity, request, op.target, op.source)
    case "CreateMultipartUpload":
      return Effect.flatMap(write(op.target), ({ writer, key }) =>
        writer.createMultipart({ key, headers: storedHeaders(request.headers) })).pipe(
          Effect.map((uploadId) =>
            xmlReply(initiateMultipartXml(op.target.account, `${op.target.product}/${op.target.key}`, uploadId))
          )
        )
    case "UploadPart":
      return Effect.flatMap(write(op.target), ({ writer, key }) =>
        checked(writer.uploadPart({ ...object(key), uploadId: op.uploadId, partNumber: op.partNumber }))).pipe(
          Effect.map((written) => writtenReply(echoed(written)))
        )
    case "CompleteMultipartUpload":
      return Effect.gen(function*() {
        const { writer, key } = yield* write(op.target)
        const parts = yield* Effect.flatMap(readXmlBody(payload), parseCompleteRequest)
        const written = yield* writer.completeMultipart({
          key,
          uploadId: op.uploadId,
          parts,
          headers: storedHeaders(request.headers)
        })
        const clientKey = `${op.target.product}/${op.target.key}`
        return xmlReply(completeMultipartXml(`/${op.target.account}/${clientKey}`, op.target.account, clientKey, written.etag))
      })
    case "AbortMultipartUpload":
      return Effect.flatMap(write(op.target), ({ writer, key }) => writer.abortMultipart({ key, uploadId: op.uploadId })).pipe(
        Effect.as({ status: 204, headers: new Headers(), body: null })
      )
    case "ListParts":
      return listParts(authorizer(identity), request, op.target, op.uploadId)
    case "ListMultipartUploads":
      return listUploads(authorizer(identity), request, op.account, op.product)
    case "UploadPartCopy":
      return uploadPartCopy(authorizer(identity), request, op)
    case "CreateBucket":
      // Nothing is created: an existing account or product answers 200 (so `aws s3 sync` needs no flags).
      return Effect.gen(function*() {
        if (op.product === undefined) yield* Effect.flatMap(Catalog, (catalog) => catalog.products(op.account))
        else yield* resolveProduct(op.account, op.product, callerOf(identity))
        return { status: 200, headers: new Headers({ location: `/${op.account}` }), body: null }
      })
    default:
      return Effect.fail(new NotImplemented({ message: `${op._tag} is not supported by this proxy yet` }))
  }
}
