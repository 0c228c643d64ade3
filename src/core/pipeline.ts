import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import { backendKey } from "./backends/keys.js"
import type { Storage } from "./backends/ObjectStore.js"
import { Catalog } from "./catalog/Catalog.js"
import { callerOf } from "./identity/caller.js"
import type { Identity } from "./identity/Identity.js"
import { resolveIdentity } from "./identity/resolveIdentity.js"
import type { Hmac } from "./services/Hmac.js"
import { SessionKeys } from "./sts/SessionKeys.js"
import { resolveProduct } from "./catalog/resolve.js"
import { preflight, withCors } from "./http/cors.js"
import type { Reply } from "./http/Reply.js"
import type { S3Request } from "./http/S3Request.js"
import { classify } from "./routing/classify.js"
import { isS3Client } from "./routing/clients.js"
import { isWrite, type ObjectTarget, type Operation } from "./routing/Operation.js"
import { InternalError, NoSuchKey, NotImplemented, type S3Error } from "./s3/errors.js"
import { listAccount, listProductPath } from "./s3/listing.js"
import { type ListResult, renderListResult } from "./s3/listResult.js"
import { authorizedProduct, executeWrite } from "./s3/writes.js"
import { ceilingAllows, ceilingReaches } from "./authz/authorize.js"
import { objectUrn } from "./authz/urn.js"
import { codeOf, renderS3Error, statusOf } from "./s3/renderError.js"
import { element, S3_NAMESPACE, XML_DECLARATION } from "./s3/xml.js"
import { discoveryDocument, jwksDocument } from "./oidc/discovery.js"
import { OidcProvider } from "./oidc/OidcProvider.js"
import { handleSts } from "./sts/handleSts.js"
import type { StsServices } from "./sts/exchange.js"
import { NAME, VERSION } from "./version.js"

export type AppServices = Catalog | Storage | OidcProvider | StsServices | Hmac

const json = (body: string): Reply => ({ status: 200, headers: new Headers({ "content-type": "application/json" }), body })
const xml = (body: string): Reply => ({ status: 200, headers: new Headers({ "content-type": "application/xml" }), body })
const empty = (status: number): Reply => ({ status, headers: new Headers(), body: null })

/**
 * `GET /` as S3's ListBuckets: signed, the session's account is its one bucket, so `aws s3 ls` works
 * (TARGET §2); anonymous, from an S3 client, or a session that names no account, no bucket and no owner
 * (TARGET §9).
 */
const listBuckets = (account: string | undefined): Reply =>
  xml(
    `${XML_DECLARATION}<ListAllMyBucketsResult xmlns="${S3_NAMESPACE}"><Owner>${element("ID", account ?? "")}`
      + `${element("DisplayName", account ?? "")}</Owner>`
      + (account === undefined
        ? "<Buckets/>"
        : `<Buckets><Bucket>${element("Name", account)}<CreationDate>1970-01-01T00:00:00.000Z</CreationDate></Bucket></Buckets>`)
      + "</ListAllMyBucketsResult>"
  )

const readObject = (request: S3Request, target: ObjectTarget, method: "GET" | "HEAD", identity: Identity) =>
  Effect.gen(function*() {
    const product = yield* authorizedProduct(identity, target.account, target.product, "read", target.key)
    return yield* product.store.read({ key: backendKey(product.prefix, target.key), method, headers: request.headers })
  }).pipe(Effect.catchTag("NoSuchKey", () => Effect.fail(new NoSuchKey({ key: `${target.product}/${target.key}` }))))

/** A session's listing shows only what its Role ceiling reaches (an empty page, not an error, if nothing). */
const narrowed = (identity: Identity, account: string) => (result: ListResult): ListResult => {
  if (identity._tag === "Anonymous") return result
  const ceiling = identity.claims.permissions
  const urnOf = (name: string) => {
    const slash = name.indexOf("/")
    return objectUrn(account, name.slice(0, slash), name.slice(slash + 1))
  }
  return {
    ...result,
    contents: result.contents.filter((c) => ceilingAllows(ceiling, "read", urnOf(c.key))),
    commonPrefixes: result.commonPrefixes.filter((p) => ceilingReaches(ceiling, urnOf(p)))
  }
}

const execute = (request: S3Request, op: Operation, identity: Identity): Effect.Effect<Reply, S3Error, AppServices> => {
  const caller = callerOf(identity)
  switch (op._tag) {
    case "Index":
      return Effect.succeed(
        identity._tag === "Session"
          ? listBuckets(identity.claims.account_id === "" ? undefined : identity.claims.account_id) // bare `_default`: none
          : isS3Client(request.headers)
          ? listBuckets(undefined)
          : json(JSON.stringify({ name: NAME, version: VERSION }))
      )
    case "OidcDiscovery":
      return Effect.map(OidcProvider, (oidc) => json(discoveryDocument(oidc.issuer)))
    case "Jwks":
      // The provider's keys (Source API and federation assertions), then the session-token key.
      return Effect.all([
        Effect.flatMap(OidcProvider, (oidc) => oidc.publicKeys),
        Effect.flatMap(SessionKeys, (keys) => keys.publicKeys)
      ]).pipe(
        Effect.map(([provider, session]) => json(jwksDocument([...provider, ...session]))),
        Effect.mapError((e) => new InternalError({ reason: e.reason }))
      )
    case "AssumeRoleWithWebIdentity":
      return handleSts(request) // route() answers it first; here for exhaustiveness
    case "ListAccount":
      return Effect.map(
        listAccount(op.account, op.list, caller),
        (result) => xml(renderListResult(narrowed(identity, op.account)(result)))
      )
    case "ListProduct":
      return Effect.map(
        listProductPath(op.account, op.product, op.list, caller),
        (result) => xml(renderListResult(narrowed(identity, op.account)(result)))
      )
    case "GetBucketLocation":
      return Effect.flatMap(Catalog, (catalog) => catalog.products(op.account)).pipe(
        Effect.as(xml(`${XML_DECLARATION}<LocationConstraint xmlns="${S3_NAMESPACE}"/>`))
      )
    case "HeadBucket":
      return op.product === undefined
        ? Effect.flatMap(Catalog, (catalog) => catalog.products(op.account)).pipe(Effect.as(empty(200)))
        : resolveProduct(op.account, op.product, caller).pipe(Effect.as(empty(200)))
    case "GetObject":
      return readObject(request, op.target, "GET", identity)
    case "HeadObject":
      return readObject(request, op.target, "HEAD", identity)
    default:
      return Effect.fail(new NotImplemented({ message: `${op._tag} is not supported by this proxy yet` }))
  }
}

const route = (request: S3Request): Effect.Effect<Reply, S3Error, AppServices> =>
  Effect.gen(function*() {
    const op = yield* classify(request)
    if (op._tag === "AssumeRoleWithWebIdentity") return yield* handleSts(request) // STS XML, errors included
    const { identity, payload } = yield* resolveIdentity(request)
    return yield* (isWrite(op) ? executeWrite(request, op, identity, payload) : execute(request, op, identity))
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
