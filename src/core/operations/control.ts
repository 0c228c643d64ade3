import * as Effect from "effect/Effect"
import type { Identity } from "../authz/Identity.js"
import { isS3Client } from "../http/clients.js"
import { jsonReply, type Reply, xmlReply } from "../http/Reply.js"
import { InternalError } from "../s3/errors.js"
import { element, S3_NAMESPACE, XML_DECLARATION } from "../s3/xml.js"
import { OidcProvider } from "../services/OidcProvider.js"
import { SessionKeys } from "../session/SessionKeys.js"
import type { S3Request } from "../http/S3Request.js"
import { NAME, VERSION } from "../version.js"
import { discoveryDocument, jwksDocument } from "./oidcDocuments.js"
import type { ControlOperation } from "./Operation.js"

/**
 * `GET /` as S3's ListBuckets: signed, the session's account is its one bucket, so `aws s3 ls` works;
 * anonymous, from an S3 client, or a session that names no account, no bucket and no owner.
 */
const listBuckets = (account: string | undefined): Reply =>
  xmlReply(
    `${XML_DECLARATION}<ListAllMyBucketsResult xmlns="${S3_NAMESPACE}"><Owner>${element("ID", account ?? "")}`
      + `${element("DisplayName", account ?? "")}</Owner>`
      + (account === undefined
        ? "<Buckets/>"
        : `<Buckets><Bucket>${element("Name", account)}<CreationDate>1970-01-01T00:00:00.000Z</CreationDate></Bucket></Buckets>`)
      + "</ListAllMyBucketsResult>"
  )

/** The service's own endpoints: the index (or ListBuckets) and the OIDC provider's documents. */
export const executeControl = (
  request: S3Request,
  op: Exclude<ControlOperation, { readonly _tag: "AssumeRoleWithWebIdentity" }>,
  identity: Identity
): Effect.Effect<Reply, InternalError, OidcProvider | SessionKeys> => {
  switch (op._tag) {
    case "Index":
      return Effect.succeed(
        identity._tag === "Session"
          ? listBuckets(identity.claims.account_id === "" ? undefined : identity.claims.account_id) // bare `_default`: none
          : isS3Client(request.headers)
          ? listBuckets(undefined)
          : jsonReply(JSON.stringify({ name: NAME, version: VERSION }))
      )
    case "OidcDiscovery":
      return Effect.map(OidcProvider, (oidc) => jsonReply(discoveryDocument(oidc.issuer)))
    case "Jwks":
      // The provider's keys (Source API and federation assertions), then the session-token key.
      return Effect.all([
        Effect.flatMap(OidcProvider, (oidc) => oidc.publicKeys),
        Effect.flatMap(SessionKeys, (keys) => keys.publicKeys)
      ]).pipe(
        Effect.map(([provider, session]) => jsonReply(jwksDocument([...provider, ...session]))),
        Effect.mapError((e) => new InternalError({ reason: e.reason }))
      )
  }
}
