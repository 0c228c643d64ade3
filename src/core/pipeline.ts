import { Cause, Effect } from "effect"
import { backendKey } from "./backends/keys.js"
import type { Storage } from "./backends/ObjectStore.js"
import { Catalog } from "./catalog/Catalog.js"
import { resolveProduct } from "./catalog/resolve.js"
import { preflight, withCors } from "./http/cors.js"
import type { Reply } from "./http/Reply.js"
import type { S3Request } from "./http/S3Request.js"
import { classify } from "./routing/classify.js"
import { isWrite, type ObjectTarget, type Operation } from "./routing/Operation.js"
import { AccessDenied, InternalError, InvalidAccessKeyId, NoSuchKey, NotImplemented, type S3Error } from "./s3/errors.js"
import { listAccount, listProduct } from "./s3/listing.js"
import { renderListResult } from "./s3/listResult.js"
import { codeOf, renderS3Error, statusOf } from "./s3/renderError.js"
import { S3_NAMESPACE, XML_DECLARATION } from "./s3/xml.js"
import { discoveryDocument, jwksDocument } from "./oidc/discovery.js"
import { OidcProvider } from "./oidc/OidcProvider.js"
import { NAME, VERSION } from "./version.js"

export type AppServices = Catalog | Storage | OidcProvider

const json = (body: string): Reply => ({ status: 200, headers: new Headers({ "content-type": "application/json" }), body })
const xml = (body: string): Reply => ({ status: 200, headers: new Headers({ "content-type": "application/xml" }), body })
const empty = (status: number): Reply => ({ status, headers: new Headers(), body: null })

/** Signed requests need the identity layer (STS credentials); until a key is known, none exists. */
const isSigned = (request: S3Request): boolean =>
  request.headers.has("authorization") || request.url.searchParams.has("X-Amz-Signature")
  || request.url.searchParams.has("X-Amz-Credential")

const readObject = (request: S3Request, target: ObjectTarget, method: "GET" | "HEAD") =>
  Effect.gen(function*() {
    const product = yield* resolveProduct(target.account, target.product)
    return yield* product.store.read({ key: backendKey(product.prefix, target.key), method, headers: request.headers })
  }).pipe(Effect.catchTag("NoSuchKey", () => Effect.fail(new NoSuchKey({ key: `${target.product}/${target.key}` }))))

const execute = (request: S3Request, op: Operation): Effect.Effect<Reply, S3Error, AppServices> => {
  switch (op._tag) {
    case "Index":
      return Effect.succeed(json(JSON.stringify({ name: NAME, version: VERSION })))
    case "OidcDiscovery":
      return Effect.map(OidcProvider, (oidc) => json(discoveryDocument(oidc.issuer)))
    case "Jwks":
      return Effect.flatMap(OidcProvider, (oidc) => oidc.publicKeys).pipe(
        Effect.map((keys) => json(jwksDocument(keys))),
        Effect.mapError((e) => new InternalError({ reason: e.reason }))
      )
    case "AssumeRoleWithWebIdentity":
      return Effect.fail(new NotImplemented({ message: "STS token exchange is not configured" }))
    case "ListAccount":
      return Effect.map(listAccount(op.account, op.list), (result) => xml(renderListResult(result)))
    case "ListProduct":
      return Effect.map(
        listProduct(op.account, op.product, { ...op.list, prefix: `${op.product}/${op.list.prefix}` }),
        (result) => xml(renderListResult(result))
      )
    case "GetBucketLocation":
      return Effect.flatMap(Catalog, (catalog) => catalog.products(op.account)).pipe(
        Effect.as(xml(`${XML_DECLARATION}<LocationConstraint xmlns="${S3_NAMESPACE}"/>`))
      )
    case "HeadBucket":
      return op.product === undefined
        ? Effect.flatMap(Catalog, (catalog) => catalog.products(op.account)).pipe(Effect.as(empty(200)))
        : resolveProduct(op.account, op.product).pipe(Effect.as(empty(200)))
    case "GetObject":
      return readObject(request, op.target, "GET")
    case "HeadObject":
      return readObject(request, op.target, "HEAD")
    default:
      // Writes: classify() only lets them through for callers with an identity, which needs issue #4.
      return Effect.fail(new AccessDenied({ reason: `${op._tag} needs credentials` }))
  }
}

const route = (request: S3Request): Effect.Effect<Reply, S3Error, AppServices> =>
  Effect.gen(function*() {
    const op = yield* classify(request)
    if (op._tag !== "AssumeRoleWithWebIdentity" && isSigned(request)) return yield* new InvalidAccessKeyId()
    if (isWrite(op)) return yield* new AccessDenied({ reason: "anonymous callers cannot write" })
    return yield* execute(request, op)
  })

const resourceOf = (request: S3Request): string => {
  try {
    return decodeURIComponent(request.url.pathname)
  } catch {
    return request.url.pathname // undecodable: shown as sent
  }
}

/** Errors become S3 XML here and only here; a defect is logged and becomes a 500 without detail. */
export const handle = (request: S3Request): Effect.Effect<Reply, never, AppServices> => {
  const fail = (error: S3Error) => {
    const reply = renderS3Error(error, resourceOf(request), request.requestId, request.method)
    return statusOf(error) >= 500
      ? Effect.as(
        Effect.logWarning("server error response", {
          status: statusOf(error),
          code: codeOf(error),
          error,
          method: request.method,
          path: request.url.pathname
        }),
        reply
      )
      : Effect.succeed(reply)
  }
  const answer = request.method === "OPTIONS"
    ? Effect.succeed(preflight(request.headers))
    : route(request).pipe(
      Effect.catchAll(fail),
      Effect.catchAllDefect((defect) =>
        Effect.zipRight(
          Effect.logError("defect", Cause.pretty(Cause.die(defect))),
          fail(new InternalError({ reason: "defect" }))
        )
      )
    )
  return Effect.map(answer, (reply) => {
    reply.headers.set("x-amz-request-id", request.requestId)
    return withCors(reply)
  })
}
