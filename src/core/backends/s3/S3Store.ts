import * as Clock from "effect/Clock"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { BackendAuth, DataConnection } from "../connection.js"
import type { Reply } from "../../http/Reply.js"
import {
  AccessDenied,
  BackendAuthenticationFailed,
  BackendUnavailable,
  CatalogFailure,
  InvalidArgument,
  InvalidRange,
  NoSuchKey,
  PreconditionFailed
} from "../../s3/errors.js"
import { parseContentRange } from "../../s3/range.js"
import { AppConfig } from "../../services/AppConfig.js"
import { Hmac } from "../../services/Hmac.js"
import { signRequest } from "../../sigv4/sign.js"
import { SigningKeyCache } from "../../sigv4/signingKey.js"
import { formatAmzDate } from "../../sigv4/timestamp.js"
import { Upstream, type UpstreamFailure } from "../../services/Upstream.js"
import { discard, documentText, ERROR_DOCUMENT_MAX_BYTES, refuseRedirect } from "../answer.js"
import { allowEndpoint } from "../endpointPolicy.js"
import { encodeKey } from "../keys.js"
import type { ListRequest, ObjectRead, ReadError } from "../ObjectStore.js"
import { gcsReplyHeaders } from "../gcs/headers.js"
import { forwardedReadHeaders, passthroughHeaders } from "../passthrough.js"
import { type AwsCredentials, Federation, type FederationError } from "./Federation.js"
import { parseListObjects } from "./listXml.js"
import { makeS3Writer, type Send, type WriteDialect } from "./S3Writer.js"
import { parseError } from "./writeXml.js"

/** Where an S3-speaking service differs: its default endpoint, signing region, listing version, auth. */
export interface S3Dialect {
  readonly defaultEndpoint: (region: string | undefined) => string
  readonly signingRegion: (region: string | undefined) => string
  /** GCS's XML API lists with V1 (`marker`); S3 and most S3-compatible services with V2. */
  readonly listVersion: 1 | 2
  /** How this provider reads a connection's `authentication`; anything else fails closed. */
  readonly credentials: (auth: BackendAuth, connection: DataConnection) => CredentialPlan
  /** Reshapes a read's (already denylisted) reply headers into S3's, where the service has its own. */
  readonly replyHeaders: (headers: Headers) => Headers
  /** How writes differ (batch delete, conditional headers). */
  readonly writes: WriteDialect
}

/** Unsigned, fixed keys, or keys obtained per request (federation, renewed as they age). */
export type CredentialPlan =
  | { readonly _tag: "Unsigned" }
  | { readonly _tag: "Static"; readonly credentials: AwsCredentials }
  | { readonly _tag: "Federated"; readonly roleArn: string; readonly subject: string; readonly audience: string }
  | { readonly _tag: "Refused"; readonly code: string }

const refused = (auth: BackendAuth): CredentialPlan => ({
  _tag: "Refused",
  code: auth.type === "unsupported" ? "UnsupportedAuthType" : "ProviderMismatch"
})

export const AwsS3: S3Dialect = {
  defaultEndpoint: (region) => (region ? `https://s3.${region}.amazonaws.com` : "https://s3.amazonaws.com"),
  signingRegion: (region) => region ?? "us-east-1",
  listVersion: 2,
  replyHeaders: (headers) => headers,
  writes: { batchDelete: true, writeHeaders: (headers) => headers, partCopy: true, etagPreconditions: true },
  credentials: (auth, connection) => {
    switch (auth.type) {
      case "unsigned":
        return { _tag: "Unsigned" }
      case "s3_access_key":
        return { _tag: "Static", credentials: { accessKeyId: auth.access_key_id, secretAccessKey: auth.secret_access_key } }
      case "s3_web_identity_role":
        return {
          _tag: "Federated",
          roleArn: auth.role_arn,
          subject: `scv1:conn:${connection.data_connection_id}`,
          audience: auth.audience ?? "sts.amazonaws.com"
        }
      default:
        return refused(auth)
    }
  }
}

/** Google Cloud Storage through its XML API: S3's wire format, HMAC keys signed as SigV4 (region `auto`). */
export const GoogleCloudStorage: S3Dialect = {
  defaultEndpoint: () => "https://storage.googleapis.com",
  signingRegion: () => "auto",
  listVersion: 1,
  replyHeaders: gcsReplyHeaders,
  writes: {
    // The XML API has no DeleteObjects (`POST ?delete`): one DELETE per key.
    batchDelete: false,
    // Its multipart uploads take parts as bodies only (no UploadPartCopy): answered 501 NotImplemented.
    partCopy: false,
    // GCS ignores If-Match on writes (its preconditions are on generations): refused rather than ignored.
    etagPreconditions: false,
    // Create-only is `x-goog-if-generation-match: 0` there; `If-None-Match` is for reads only.
    writeHeaders: (headers) => {
      if (headers.get("if-none-match") === "*") {
        headers.delete("if-none-match")
        headers.set("x-goog-if-generation-match", "0")
      }
      return headers
    }
  },
  credentials: (auth) => {
    switch (auth.type) {
      case "unsigned":
        return { _tag: "Unsigned" }
      case "gcs_hmac":
        return { _tag: "Static", credentials: { accessKeyId: auth.access_key_id, secretAccessKey: auth.secret } }
      default:
        return refused(auth)
    }
  }
}

/** Signing keys kept at most: one per secret, date, region and service, and federated secrets keep changing. */
export const SIGNING_KEYS_MAX = 1024

/** Derived signing keys, by access key, secret, date, region and service: finished values, safe to share in the isolate. */
export const signingKeys = new SigningKeyCache(SIGNING_KEYS_MAX)

const unavailable = (failure: UpstreamFailure) =>
  new BackendUnavailable({ reason: `${failure.reason} ${failure.url}: ${failure.detail}` })

/**
 * A provider for an S3-speaking service (path-style): unsigned, signed with stored keys, or with federated
 * credentials (SigV4 over the platform's Hmac, ../../sigv4/sign.ts). Reads stream, listings are parsed; nothing else is buffered.
 */
export const S3CompatibleProvider = Effect.fnUntraced(
  function*(dialect: S3Dialect) {
    const upstream = yield* Upstream
    const config = yield* AppConfig
    const federation = yield* Federation
    const hmac = yield* Hmac

    return Effect.fnUntraced(
      function*(connection: DataConnection) {
        const { bucket, region, endpoint: customEndpoint } = connection.details
        if (bucket === undefined || bucket === "") {
          return yield* new CatalogFailure({ reason: `data connection ${connection.data_connection_id} has no bucket` })
        }
        const plan = dialect.credentials(connection.authentication, connection)
        if (plan._tag === "Refused") return yield* new BackendAuthenticationFailed({ code: plan.code })
        const credentials: Effect.Effect<AwsCredentials | undefined, FederationError> = plan._tag === "Unsigned"
          ? Effect.succeed(undefined)
          : plan._tag === "Static"
          ? Effect.succeed(plan.credentials)
          : federation.credentials(plan)
        const bucketUrl = `${(customEndpoint ?? dialect.defaultEndpoint(region)).replace(/\/+$/, "")}/${
          encodeURIComponent(bucket)
        }`
        // Judged after composing: a region can carry a host too (`x@169.254.169.254/`).
        yield* allowEndpoint(connection.data_connection_id, bucketUrl, config.allowPrivateEndpoints)

        const send = Effect.fnUntraced(
          function*(
            method: string,
            url: string,
            headers: Headers,
            noStore: boolean,
            body: ReadableStream<Uint8Array> | string | null = null,
            timeout: Duration.DurationInput = config.backendTimeout
          ) {
            const keys = yield* credentials
            let signed = { method, url, headers }
            if (keys !== undefined) {
              const now = yield* Clock.currentTimeMillis
              signed = yield* signRequest(signed, {
                credentials: keys,
                service: "s3",
                region: dialect.signingRegion(region),
                cache: signingKeys,
                timestamp: formatAmzDate(now)
              }).pipe(Effect.provideService(Hmac, hmac))
            }
            return yield* upstream.fetch({
              method,
              url: signed.url,
              headers: signed.headers,
              body,
              timeout,
              noStore
            }).pipe(Effect.mapError(unavailable), Effect.flatMap((response) => refuseRedirect(response, method)))
          }
        )

        const read: (request: ObjectRead) => Effect.Effect<Reply, ReadError> = Effect.fnUntraced(
          function*(request) {
            const headers = forwardedReadHeaders(request.headers)
            const noStore = request.method === "HEAD" || headers.has("range")
            const response = yield* send(request.method, `${bucketUrl}/${encodeKey(request.key)}`, headers, noStore)
            const status = response.status
            if (status === 200 || status === 206 || status === 304) {
              return {
                status,
                headers: dialect.replyHeaders(passthroughHeaders(response.headers)),
                body: request.method === "HEAD" || status === 304 ? null : response.body
              }
            }
            const contentRange = response.headers.get("content-range")
            yield* discard(response)
            switch (status) {
              case 404:
                return yield* new NoSuchKey({ key: request.key })
              case 412:
                return yield* new PreconditionFailed()
              case 416:
                return yield* new InvalidRange({ size: parseContentRange(contentRange)?.size ?? 0 })
              case 401:
              case 403:
                return yield* new AccessDenied({ reason: `backend answered ${status}` })
              default:
                return yield* new BackendUnavailable({ reason: `backend answered ${status} to ${request.method}` })
            }
          }
        )

        const list = Effect.fnUntraced(
          function*(request: ListRequest) {
            const query = new URLSearchParams({ "max-keys": String(request.maxKeys) })
            if (dialect.listVersion === 2) query.set("list-type", "2")
            query.set("prefix", request.prefix)
            if (request.delimiter !== "") query.set("delimiter", request.delimiter)
            if (dialect.listVersion === 2) {
              if (request.continuationToken !== undefined) query.set("continuation-token", request.continuationToken)
              if (request.startAfter !== undefined) query.set("start-after", request.startAfter)
            } else {
              // V1 has one cursor: the marker. Our continuation token for a V1 backend is that marker.
              const marker = request.continuationToken ?? request.startAfter
              if (marker !== undefined) query.set("marker", marker)
            }
            const url = `${bucketUrl}?${query.toString().replace(/\+/g, "%20")}`
            const response = yield* send("GET", url, new Headers(), true)
            if (response.status === 400) {
              // S3 refusing a continuation token it did not issue is the client's error, passed on as such.
              const text = yield* documentText(response, "listing error", ERROR_DOCUMENT_MAX_BYTES).pipe(Effect.orElseSucceed(() => ""))
              const error = parseError(text)
              if (error?.code === "InvalidArgument") return yield* new InvalidArgument({ message: error.message || "Invalid argument" })
              return yield* new BackendUnavailable({ reason: "backend answered 400 to a listing" })
            }
            if (response.status !== 200) {
              yield* discard(response)
              return yield* response.status === 403
                ? new AccessDenied({ reason: "backend refused the listing" })
                : new BackendUnavailable({ reason: `backend answered ${response.status} to a listing` })
            }
            const text = yield* documentText(response, "listing")
            return yield* Effect.mapError(parseListObjects(text), (reason) => new BackendUnavailable({ reason }))
          }
        )

        // Writes need a signature: an unsigned connection has no writer
        // (docs/authorization.md#connection-writability).
        const sendSigned: Send = Effect.fnUntraced(function*(request) {
          const headers = new Headers(request.headers)
          headers.set("x-amz-content-sha256", "UNSIGNED-PAYLOAD")
          const url = `${bucketUrl}${request.path}${request.query === undefined ? "" : `?${request.query}`}`
          return yield* send(request.method, url, headers, true, request.body ?? null, request.timeout)
        })
        const writer = plan._tag === "Unsigned" ? undefined : makeS3Writer(sendSigned, bucket, dialect.writes)

        return { read, list, writer }
      })
  })

export const S3Provider = S3CompatibleProvider(AwsS3)
export const GcsProvider = S3CompatibleProvider(GoogleCloudStorage)
