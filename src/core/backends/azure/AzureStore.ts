import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Encoding from "effect/Encoding"
import * as Schema from "effect/Schema"
import type { BackendAuth, DataConnection } from "../connection.js"
import type { Reply } from "../../http/Reply.js"
import { compareUtf8 } from "../../shared/utf8.js"
import { parseContentRange, parseRange, resolveRange } from "../../s3/range.js"
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
import { type Bytes, Hmac } from "../../services/Hmac.js"
import { Upstream, type UpstreamFailure, type UpstreamRequest } from "../../services/Upstream.js"
import { discard, refuseRedirect } from "../answer.js"
import { allowEndpoint } from "../endpointPolicy.js"
import { encodeKey } from "../keys.js"
import type { ListedObject, ListError, ListPage, ListRequest, ObjectRead, ReadError } from "../ObjectStore.js"
import { passthroughHeaders } from "../passthrough.js"
import { listBlobs } from "./listBlobs.js"
import type { AzurePage } from "./listXml.js"
import { s3MetadataName } from "./metadata.js"
import { blobReadSas, decodeAccountKey, sharedKeyAuthorization } from "./sharedKey.js"
import { azureWriter } from "./AzureWriter.js"

/**
 * The Blob service REST version sent with every request. 2011-08-18 or later is needed for open ranges
 * (`bytes=N-`); 2021-12-02 is served by Azure and by Azurite 3.35.
 */
export const AZURE_API_VERSION = "2021-12-02"

/** Azure's largest List Blobs page. */
const AZURE_MAX_RESULTS = 5000
/** Backend pages one listing call may fetch while emulating start-after (≤ 100 000 names skipped). */
const MAX_PAGES_PER_LIST = 20

/** Anonymous (public container), signed with the account key, or a SAS token's query appended. */
export type AzureCredentials =
  | { readonly _tag: "Anonymous" }
  | { readonly _tag: "SharedKey"; readonly key: Bytes }
  | { readonly _tag: "Sas"; readonly query: string }

/** How this provider reads a connection's `authentication`; anything else fails closed, never unsigned. */
export const azureCredentials = (auth: BackendAuth): Either.Either<AzureCredentials, BackendAuthenticationFailed> => {
  switch (auth.type) {
    case "unsigned":
      return Either.right({ _tag: "Anonymous" })
    case "az_shared_key": {
      const key = decodeAccountKey(auth.account_key)
      return key === undefined
        ? Either.left(new BackendAuthenticationFailed({ code: "InvalidAccountKey" }))
        : Either.right({ _tag: "SharedKey", key })
    }
    case "az_sas": {
      const query = auth.sas_token.trim().replace(/^\?/, "")
      return query === "" || !/(^|&)sig=/.test(query)
        ? Either.left(new BackendAuthenticationFailed({ code: "InvalidSasToken" }))
        : Either.right({ _tag: "Sas", query })
    }
    case "unsupported":
      return Either.left(new BackendAuthenticationFailed({ code: "UnsupportedAuthType" }))
    default:
      return Either.left(new BackendAuthenticationFailed({ code: "ProviderMismatch" }))
  }
}

/** Azure's rule for storage account names; checked before one becomes a host name or is signed for. */
export const isAzureAccountName = (name: string): boolean => /^[a-z0-9]{3,24}$/.test(name)

/** `details.endpoint` (an emulator: `http://127.0.0.1:10000/devstoreaccount1`) or the account's public host. */
export const containerUrl = (details: DataConnection["details"]): string => {
  const base = details.endpoint !== undefined && details.endpoint.trim() !== ""
    ? details.endpoint.trim().replace(/\/+$/, "")
    : `https://${details.account_name}.blob.core.windows.net`
  return `${base}/${encodeURIComponent(details.container_name ?? "")}`
}

/**
 * Azure's response headers as S3 would send them: user metadata `x-ms-meta-*` becomes `x-amz-meta-*`,
 * every other `x-ms-*` header (request ids, lease and tier state, server-side MD5s) is dropped; the entity
 * headers (ETag, Last-Modified, Content-*, Cache-Control) pass as they are.
 */
export const s3Headers = (azure: Headers): Headers => {
  const headers = passthroughHeaders(azure)
  const names: Array<string> = []
  headers.forEach((_, name) => {
    if (name.startsWith("x-ms-")) names.push(name)
  })
  for (const name of names) {
    const value = headers.get(name)
    headers.delete(name)
    if (name.startsWith("x-ms-meta-") && value !== null) headers.set(`x-amz-meta-${s3MetadataName(name.slice(10))}`, value)
  }
  return headers
}

/** The preconditions a read forwards; Azure evaluates all four as HTTP does. */
const CONDITIONALS = ["if-match", "if-none-match", "if-modified-since", "if-unmodified-since"] as const

/** The client's `Range`, as S3 reads it: absent, a closed or open range to forward, or a suffix. */
type ClientRange =
  | { readonly _tag: "None" }
  | { readonly _tag: "Forward"; readonly header: string }
  | { readonly _tag: "Suffix"; readonly header: string }

/**
 * S3 ignores a header that does not parse or names several ranges (the whole object); Azure is not asked
 * to judge those. A suffix (`bytes=-N`) is not something Azure serves, so it is resolved here.
 */
export const clientRange = (header: string | null): ClientRange => {
  const spec = parseRange(header)
  if (spec === undefined) return { _tag: "None" }
  if (spec.first === "") return { _tag: "Suffix", header: `bytes=-${spec.last}` }
  return { _tag: "Forward", header: `bytes=${spec.first}-${spec.last}` }
}

const unavailable = (failure: UpstreamFailure) =>
  new BackendUnavailable({ reason: `${failure.reason} ${failure.url}: ${failure.detail}` })

/** The status of a failed read, as S3 names it. */
const readFailure = (status: number, key: string, method: string, contentRange: string | null) => {
  switch (status) {
    case 404:
      return new NoSuchKey({ key })
    case 412:
      return new PreconditionFailed()
    case 416:
      return new InvalidRange({ size: parseContentRange(contentRange)?.size ?? 0 })
    case 401:
    case 403:
      return new AccessDenied({ reason: `backend answered ${status}` })
    default:
      return new BackendUnavailable({ reason: `backend answered ${status} to ${method}` })
  }
}

/**
 * The continuation token handed to clients: Azure's opaque `NextMarker` (where the next backend page
 * starts, absent for the first page) and the last name already returned. Names up to that one are
 * skipped when the page is fetched again, which resumes a page left half-read (start-after emulation),
 * and drops a rolled-up prefix Azure repeats at the top of the next page.
 */
const Cursor = Schema.Struct({
  m: Schema.optional(Schema.String),
  a: Schema.String,
  n: Schema.optional(Schema.Int.pipe(Schema.between(0, AZURE_MAX_RESULTS)))
})
type Cursor = typeof Cursor.Type
const CursorJson = Schema.parseJson(Cursor)
const encodeCursor = (cursor: Cursor) => Encoding.encodeBase64Url(JSON.stringify(cursor))
const decodeCursor = (token: string): Cursor | undefined =>
  Either.getOrUndefined(
    Either.flatMap(
      Either.mapLeft(Encoding.decodeBase64UrlString(token), () => undefined),
      (json) => Either.mapLeft(Schema.decodeUnknownEither(CursorJson)(json), () => undefined)
    )
  )

type Entry = { readonly _tag: "Object"; readonly object: ListedObject } | { readonly _tag: "Prefix"; readonly name: string }
const nameOfEntry = (entry: Entry) => (entry._tag === "Object" ? entry.object.key : entry.name)

/** A page's blobs and prefixes as one list in S3's byte order. */
const entriesOf = (page: AzurePage): Array<Entry> => {
  const entries: Array<Entry> = page.objects.map((object) => ({ _tag: "Object", object }))
  for (const name of page.prefixes) entries.push({ _tag: "Prefix", name })
  return entries.sort((a, b) => compareUtf8(nameOfEntry(a), nameOfEntry(b)))
}

/**
 * The Azure Blob Storage provider: reads and listings, and writes (`AzureWriter.ts`) for connections that
 * sign (SharedKey or SAS). Every read and listing is one backend request,
 * except a suffix range (`bytes=-N`, which Azure does not serve: the size is read first) and a listing
 * with `start-after` (which Azure does not have: pages are read from the start and skipped, bounded).
 * Bodies stream; only listing and block-list documents are read.
 */
export const AzureProvider = Effect.gen(function*() {
  const upstream = yield* Upstream
  const config = yield* AppConfig
  const hmac = yield* Hmac

  return Effect.fnUntraced(
    function*(connection: DataConnection) {
      const { account_name: account, container_name: container } = connection.details
      if (account === undefined || account === "" || container === undefined || container === "") {
        return yield* new CatalogFailure({
          reason: `data connection ${connection.data_connection_id} has no account_name or container_name`
        })
      }
      if (!isAzureAccountName(account)) return yield* new BackendAuthenticationFailed({ code: "InvalidAccountName" })
      const credentials = yield* azureCredentials(connection.authentication)
      const base = containerUrl(connection.details)
      yield* allowEndpoint(connection.data_connection_id, base, config.allowPrivateEndpoints)

      /** Signs a request in place (SharedKey), or returns its URL with the SAS query (or as it is, anonymous). */
      const authorize = Effect.fnUntraced(function*(method: string, url: string, headers: Headers) {
        if (credentials._tag === "SharedKey") {
          headers.set("x-ms-date", new Date(yield* Clock.currentTimeMillis).toUTCString())
          headers.set("authorization", yield* sharedKeyAuthorization(hmac, account, credentials.key, { method, url, headers }))
          return url
        }
        return credentials._tag === "Sas" ? `${url}${url.includes("?") ? "&" : "?"}${credentials.query}` : url
      })

      /**
       * Sends one request: x-ms-version always, then signed, SAS-extended or anonymous. A request with a body
       * carries its `content-length` (and any `content-type`) in `headers` already: both are signed.
       */
      const send = Effect.fnUntraced(function*(method: string, url: string, headers: Headers, noStore: boolean, body: UpstreamRequest["body"] = null) {
        headers.set("x-ms-version", AZURE_API_VERSION)
        const target = yield* authorize(method, url, headers)
        return yield* upstream.fetch({ method, url: target, headers, body, timeout: config.backendTimeout, noStore }).pipe(
          Effect.mapError(unavailable),
          Effect.flatMap((response) => refuseRedirect(response, method))
        )
      })

      const conditionalHeaders = (client: Headers) => {
        const headers = new Headers()
        for (const name of CONDITIONALS) {
          const value = client.get(name)
          if (value !== null) headers.set(name, value)
        }
        return headers
      }

      /** HEAD: Azure's Get Blob Properties ignores Range, so a ranged HEAD is answered from the size, as S3 does. */
      const head: (request: ObjectRead, url: string) => Effect.Effect<Reply, ReadError> = Effect.fnUntraced(
        function*(request: ObjectRead, url: string) {
          const response = yield* send("HEAD", url, conditionalHeaders(request.headers), true)
          yield* discard(response)
          if (response.status === 304) return { status: 304, headers: s3Headers(response.headers), body: null }
          if (response.status !== 200) {
            return yield* readFailure(response.status, request.key, "HEAD", response.headers.get("content-range"))
          }
          const headers = s3Headers(response.headers)
          if (clientRange(request.headers.get("range"))._tag === "None") return { status: 200, headers, body: null }
          const size = Number(response.headers.get("content-length") ?? "0")
          const range = resolveRange(request.headers.get("range"), size)
          if (range._tag === "Unsatisfiable") return yield* new InvalidRange({ size })
          if (range._tag === "Full") return { status: 200, headers, body: null }
          headers.set("content-length", String(range.end - range.start + 1))
          headers.set("content-range", `bytes ${range.start}-${range.end}/${size}`)
          headers.delete("content-md5") // the whole blob's digest, not the range's
          return { status: 206, headers, body: null }
        }
      )

      /** One GET; `range` is a header Azure serves (closed or open). */
      const get: (
        request: ObjectRead,
        url: string,
        headers: Headers
      ) => Effect.Effect<Reply, ReadError> = Effect.fnUntraced(
        function*(request: ObjectRead, url: string, headers: Headers) {
          const response = yield* send("GET", url, headers, headers.has("range"))
          const status = response.status
          if (status === 206) {
            // Azurite answers a range starting at the end of the blob with 206 `bytes N-(N-1)/N`; Azure with 416.
            const parts = parseContentRange(response.headers.get("content-range"))
            if (parts !== undefined && (parts.start === undefined || parts.end === undefined || parts.end < parts.start)) {
              yield* discard(response)
              return yield* new InvalidRange({ size: parts.size })
            }
          }
          if (status === 200 || status === 206 || status === 304) {
            return { status, headers: s3Headers(response.headers), body: status === 304 ? null : response.body }
          }
          const contentRange = response.headers.get("content-range")
          yield* discard(response)
          return yield* readFailure(status, request.key, "GET", contentRange)
        }
      )

      /**
       * `bytes=-N`: the size (and the preconditions) from a HEAD, then the resolved range, pinned to the
       * ETag just seen so that a blob replaced in between is not read half old, half new (tried twice).
       */
      const suffix: (request: ObjectRead, url: string, attempt?: number) => Effect.Effect<Reply, ReadError> = Effect.fnUntraced(
        function*(request: ObjectRead, url: string, attempt = 1) {
          const probe = yield* send("HEAD", url, conditionalHeaders(request.headers), true)
          yield* discard(probe)
          if (probe.status === 304) return { status: 304, headers: s3Headers(probe.headers), body: null }
          if (probe.status !== 200) return yield* readFailure(probe.status, request.key, "HEAD", null)
          const size = Number(probe.headers.get("content-length") ?? "0")
          const range = resolveRange(request.headers.get("range"), size)
          if (range._tag !== "Partial") return yield* new InvalidRange({ size })
          const headers = new Headers({ range: `bytes=${range.start}-${range.end}` })
          const etag = probe.headers.get("etag")
          if (etag !== null) headers.set("if-match", etag)
          return yield* get(request, url, headers).pipe(
            Effect.catchTag("PreconditionFailed", (failed) =>
              etag === null ? Effect.fail(failed) : attempt < 2 ? suffix(request, url, attempt + 1) : Effect.fail(
                new BackendUnavailable({ reason: `blob ${request.key} kept changing during a suffix read` })
              ))
          )
        }
      )

      const read = (request: ObjectRead): Effect.Effect<Reply, ReadError> => {
        const url = `${base}/${encodeKey(request.key)}`
        if (request.method === "HEAD") return head(request, url)
        const range = clientRange(request.headers.get("range"))
        if (range._tag === "Suffix") return suffix(request, url)
        const headers = conditionalHeaders(request.headers)
        if (range._tag === "Forward") headers.set("range", range.header)
        return get(request, url, headers)
      }

      /** One List Blobs call. */
      const fetchPage = (prefix: string, delimiter: string, maxResults: number, marker: string | undefined) =>
        listBlobs((method, url, headers) => send(method, url, headers, true), base, { prefix, delimiter, maxResults, marker, uncommitted: false })

      /**
       * Whether some key under the rolled-up prefix `prefix` sorts after `after` (which lies inside it), as
       * S3 lists `prefix` after a start-after within it only then. Spends the listing's page budget; an
       * exhausted budget answers yes (the client then lists an empty prefix, never misses keys).
       */
      const anyKeyAfter = Effect.fnUntraced(function*(prefix: string, after: string, budget: { pages: number }) {
        let marker: string | undefined
        while (budget.pages < MAX_PAGES_PER_LIST) {
          budget.pages++
          const page = yield* fetchPage(prefix, "", AZURE_MAX_RESULTS, marker)
          if (page.objects.some((o) => compareUtf8(o.key, after) > 0)) return true
          if (page.nextMarker === undefined) return false
          marker = page.nextMarker
        }
        return true
      })

      const list: (request: ListRequest) => Effect.Effect<ListPage, ListError> = Effect.fnUntraced(
        function*(request: ListRequest) {
          const { prefix, delimiter, maxKeys } = request
          const objects: Array<ListedObject> = []
          const commonPrefixes: Array<string> = []
          if (maxKeys <= 0) return { objects, commonPrefixes, nextContinuationToken: undefined }
          let marker: string | undefined
          let after: string | undefined
          /** Entries of the page at `marker` a previous answer already consumed (it stopped inside that page). */
          let consumed: number | undefined
          if (request.continuationToken !== undefined) {
            const cursor = decodeCursor(request.continuationToken)
            if (cursor === undefined) {
              return yield* new BackendUnavailable({ reason: "continuation token is not one this store issued" })
            }
            marker = cursor.m
            after = cursor.a
            consumed = cursor.n
          } else {
            after = request.startAfter
          }
          let last: string | undefined
          const budget = { pages: 0 }
          const taken = () => objects.length + commonPrefixes.length
          const truncated = (resumeAt: string | undefined, consumedInPage?: number): ListPage => ({
            objects,
            commonPrefixes,
            nextContinuationToken: encodeCursor({
              ...(resumeAt === undefined ? {} : { m: resumeAt }),
              a: last ?? after ?? "",
              ...(consumedInPage === undefined ? {} : { n: consumedInPage })
            })
          })
          for (;;) {
            // Skipping towards a client's start-after: whole pages. Resuming inside a page: that page up to
            // where this answer ends. Otherwise: what this answer still needs, so it ends on a page boundary.
            const size = consumed !== undefined
              ? consumed + maxKeys - taken()
              : taken() === 0 && request.continuationToken === undefined && after !== undefined
              ? AZURE_MAX_RESULTS
              : maxKeys - taken()
            consumed = undefined
            budget.pages++
            const backend = yield* fetchPage(prefix, delimiter, Math.max(1, Math.min(AZURE_MAX_RESULTS, size)), marker)
            const entries = entriesOf(backend)
            for (let index = 0; index < entries.length; index++) {
              const entry = entries[index]!
              const name = nameOfEntry(entry)
              if (after !== undefined && compareUtf8(name, after) <= 0) {
                const inside = entry._tag === "Prefix" && after.length > name.length && after.startsWith(name)
                if (!inside || !(yield* anyKeyAfter(name, after, budget))) continue
              }
              // This page holds more than the answer takes: the next answer reads it again, past `last`.
              if (taken() >= maxKeys) return truncated(marker, index)
              if (entry._tag === "Object") objects.push(entry.object)
              else commonPrefixes.push(entry.name)
              last = name
            }
            if (backend.nextMarker === undefined) return { objects, commonPrefixes, nextContinuationToken: undefined }
            marker = backend.nextMarker
            if (taken() >= maxKeys || budget.pages >= MAX_PAGES_PER_LIST) return truncated(marker)
          }
        }
      )

      // Writes need a signature (SharedKey or SAS): an anonymous connection has no writer.
      const writer = credentials._tag === "Anonymous" ? undefined : azureWriter({
        base,
        sourceQuery: credentials._tag === "Sas" ? credentials.query : undefined,
        send: (method, url, headers, body) => send(method, url, headers, true, body),
        authorize,
        // Put Block From URL does not take the destination's SharedKey for its source: a 15-minute read SAS.
        sourceUrl: credentials._tag === "SharedKey"
          ? Effect.fnUntraced(
            function*(key) {
              const expiry = new Date((yield* Clock.currentTimeMillis) + 15 * 60 * 1000)
              const query = yield* blobReadSas(hmac, { account, key: credentials.key, container, blob: key, expiry, version: AZURE_API_VERSION })
              return `${base}/${encodeKey(key)}?${query}`
            })
          : undefined
      })
      return { read, list, writer }
    })
})
