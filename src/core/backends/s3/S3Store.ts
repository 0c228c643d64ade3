import { AwsV4Signer } from "aws4fetch"
import { Clock, Effect } from "effect"
import type { DataConnection } from "../../catalog/schema.js"
import type { Reply } from "../../http/Reply.js"
import {
  AccessDenied,
  BackendAuthenticationFailed,
  BackendUnavailable,
  CatalogFailure,
  InvalidRange,
  NoSuchKey,
  PreconditionFailed
} from "../../s3/errors.js"
import { AppConfig } from "../../services/AppConfig.js"
import { Upstream, type UpstreamFailure } from "../../services/Upstream.js"
import { encodeKey } from "../keys.js"
import type { ListRequest, ObjectRead, ObjectStore, OpenError, ReadError } from "../ObjectStore.js"
import { forwardedReadHeaders, passthroughHeaders } from "../passthrough.js"
import { parseListObjectsV2 } from "./listXml.js"

interface StaticCredentials {
  readonly accessKeyId: string
  readonly secretAccessKey: string
}

/** Derived signing keys, by secret/date/region/service: finished values, safe to share in the isolate. */
const signingKeys = new Map<string, ArrayBuffer>()

const credentialsOf = (connection: DataConnection): Effect.Effect<StaticCredentials | undefined, OpenError> => {
  const auth = connection.authentication
  switch (auth.type) {
    case "unsigned":
      return Effect.succeed(undefined)
    case "s3_access_key":
      return Effect.succeed({ accessKeyId: auth.access_key_id, secretAccessKey: auth.secret_access_key })
    case "az_shared_key":
    case "az_sas":
    case "gcs_hmac":
      return Effect.fail(new BackendAuthenticationFailed({ code: "ProviderMismatch" }))
    case "s3_web_identity_role":
      return Effect.fail(new BackendAuthenticationFailed({ code: "FederationNotConfigured" }))
    case "unsupported":
      return Effect.fail(new BackendAuthenticationFailed({ code: "UnsupportedAuthType" }))
  }
}

const unavailable = (failure: UpstreamFailure) =>
  new BackendUnavailable({ reason: `${failure.reason} ${failure.url}: ${failure.detail}` })

/** Discard an unread backend body so the connection can be reused. */
const discard = (response: Response) => Effect.promise(() => response.body?.cancel() ?? Promise.resolve()).pipe(Effect.ignore)

const totalSize = (contentRange: string | null): number => Number(contentRange?.match(/\/(\d+)$/)?.[1] ?? 0)

/**
 * S3 and S3-compatible services (path-style). Unsigned or signed with stored keys (aws4fetch); reads and
 * listings stream or parse, nothing else is buffered.
 */
export const S3Provider = Effect.gen(function*() {
  const upstream = yield* Upstream
  const config = yield* AppConfig

  return (connection: DataConnection): Effect.Effect<ObjectStore, OpenError> =>
    Effect.gen(function*() {
      const { bucket, region, endpoint: customEndpoint } = connection.details
      if (bucket === undefined || bucket === "") {
        return yield* new CatalogFailure({ reason: `data connection ${connection.data_connection_id} has no bucket` })
      }
      const credentials = yield* credentialsOf(connection)
      const endpoint = (customEndpoint ?? (region ? `https://s3.${region}.amazonaws.com` : "https://s3.amazonaws.com"))
        .replace(/\/+$/, "")
      const bucketUrl = `${endpoint}/${encodeURIComponent(bucket)}`

      const send = (method: string, url: string, headers: Headers, noStore: boolean) =>
        Effect.gen(function*() {
          let signed = { url, headers }
          if (credentials !== undefined) {
            const now = yield* Clock.currentTimeMillis
            const signer = new AwsV4Signer({
              method,
              url,
              headers,
              ...credentials,
              service: "s3",
              region: region ?? "us-east-1",
              cache: signingKeys,
              datetime: new Date(now).toISOString().replace(/[:-]|\.\d{3}/g, "")
            })
            const result = yield* Effect.promise(() => signer.sign())
            signed = { url: result.url.toString(), headers: result.headers }
          }
          return yield* upstream.fetch({
            method,
            url: signed.url,
            headers: signed.headers,
            timeout: config.backendTimeout,
            noStore
          }).pipe(Effect.mapError(unavailable))
        })

      const read = (request: ObjectRead): Effect.Effect<Reply, ReadError> =>
        Effect.gen(function*() {
          const headers = forwardedReadHeaders(request.headers)
          const noStore = request.method === "HEAD" || headers.has("range")
          const response = yield* send(request.method, `${bucketUrl}/${encodeKey(request.key)}`, headers, noStore)
          const status = response.status
          if (status === 200 || status === 206 || status === 304) {
            return {
              status,
              headers: passthroughHeaders(response.headers),
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
              return yield* new InvalidRange({ size: totalSize(contentRange) })
            case 401:
            case 403:
              return yield* new AccessDenied({ reason: `backend answered ${status}` })
            default:
              return yield* new BackendUnavailable({ reason: `backend answered ${status} to ${request.method}` })
          }
        })

      const list = (request: ListRequest) =>
        Effect.gen(function*() {
          const query = new URLSearchParams({ "list-type": "2", "max-keys": String(request.maxKeys) })
          query.set("prefix", request.prefix)
          if (request.delimiter !== "") query.set("delimiter", request.delimiter)
          if (request.continuationToken !== undefined) query.set("continuation-token", request.continuationToken)
          if (request.startAfter !== undefined) query.set("start-after", request.startAfter)
          const url = `${bucketUrl}?${query.toString().replace(/\+/g, "%20")}`
          const response = yield* send("GET", url, new Headers(), true)
          if (response.status !== 200) {
            yield* discard(response)
            return yield* response.status === 403
              ? new AccessDenied({ reason: "backend refused the listing" })
              : new BackendUnavailable({ reason: `backend answered ${response.status} to a listing` })
          }
          const text = yield* Effect.tryPromise({
            try: () => response.text(),
            catch: () => new BackendUnavailable({ reason: "listing body could not be read" })
          })
          return yield* Effect.mapError(parseListObjectsV2(text), (reason) => new BackendUnavailable({ reason }))
        })

      return { read, list }
    })
})
