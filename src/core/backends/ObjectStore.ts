import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type { DataConnection } from "./connection.js"
import type { Reply } from "../http/Reply.js"
import type {
  AccessDenied,
  BackendAuthenticationFailed,
  BackendInvalidResponse,
  BackendUnavailable,
  CatalogFailure,
  EntityTooSmall,
  InvalidArgument,
  InvalidPart,
  InvalidRange,
  InvalidRequest,
  NoSuchKey,
  NoSuchUpload,
  NotImplemented,
  PreconditionFailed,
  UnsupportedProvider
} from "../s3/errors.js"
import type { CompletedPart, DeleteOutcome } from "../s3/writeXml.js"

export interface ObjectRead {
  /** The full key in the backend (product prefix included). */
  readonly key: string
  readonly method: "GET" | "HEAD"
  /** The client's headers; a store reads `range` and the `if-*` preconditions from them. */
  readonly headers: Headers
}

export interface ListRequest {
  readonly prefix: string
  readonly delimiter: string
  readonly maxKeys: number
  readonly continuationToken: string | undefined
  readonly startAfter: string | undefined
}

export interface ListedObject {
  readonly key: string
  readonly size: number
  readonly lastModified: Date
  /** Quoted, as S3 sends it. */
  readonly etag: string
}

export interface ListPage {
  readonly objects: ReadonlyArray<ListedObject>
  readonly commonPrefixes: ReadonlyArray<string>
  /** Opaque to the core: handed to the client and back to the same store. */
  readonly nextContinuationToken: string | undefined
}

export type ReadError =
  | NoSuchKey
  | PreconditionFailed
  | InvalidRange
  | AccessDenied
  | BackendUnavailable
  | BackendInvalidResponse
  | BackendAuthenticationFailed
/** InvalidArgument: a continuation token the store did not issue. */
export type ListError = AccessDenied | BackendUnavailable | BackendInvalidResponse | BackendAuthenticationFailed | InvalidArgument

/** What every write can fail with; the backend's refusals become the S3 errors a client expects. */
export type WriteError =
  | AccessDenied
  | PreconditionFailed
  | BackendUnavailable
  | BackendInvalidResponse
  | BackendAuthenticationFailed
  | InvalidRequest
  | EntityTooSmall
  | NotImplemented

export interface ObjectWrite {
  /** The full key in the backend. */
  readonly key: string
  /** The decoded body (aws-chunked framing already removed and verified), streamed, never buffered. */
  readonly body: ReadableStream<Uint8Array> | null
  /** The decoded length when the client declared one (backends that need a length get it from here). */
  readonly contentLength: number | undefined
  /**
   * What to store and check, already filtered by the core: `content-type`, `cache-control`,
   * `content-disposition`, `content-encoding` (without `aws-chunked`), `content-language`, `expires`,
   * `x-amz-meta-*`, `x-amz-checksum-*` (value headers; trailer checksums arrive in `trailers`), and the
   * preconditions `if-match` / `if-none-match` (`*` = must not exist) → PreconditionFailed (412).
   */
  readonly headers: Headers
  /** Checksums sent as aws-chunked trailers, known once the body has been read to its end. */
  readonly trailers: () => ReadonlyMap<string, string>
}

/** The answer to a stored object or part: its ETag (quoted) and any checksum headers to echo. */
export interface Written {
  readonly etag: string
  readonly headers: Headers
}

/** One part of an open multipart upload, as ListParts reports it. */
export interface ListedPart {
  readonly partNumber: number
  /** Quoted. */
  readonly etag: string
  readonly size: number
  readonly lastModified: Date
}

export interface PartsPage {
  readonly parts: ReadonlyArray<ListedPart>
  readonly isTruncated: boolean
  /** The last part number of this page (the next request's `partNumberMarker`) when truncated. */
  readonly nextPartNumberMarker: number | undefined
}

/** One open multipart upload, in the store's key space. */
export interface ListedUpload {
  readonly key: string
  readonly uploadId: string
  readonly initiated: Date
}

export interface UploadsPage {
  readonly uploads: ReadonlyArray<ListedUpload>
  readonly isTruncated: boolean
  readonly nextKeyMarker: string | undefined
  readonly nextUploadIdMarker: string | undefined
}

/**
 * The writes a backend can take (docs/backends.md#writes), in its own key space. Bodies stream end to end. A store
 * that cannot write at all has no writer; one that lacks a single operation answers NotImplemented for it.
 */
export interface ObjectWriter {
  readonly put: (request: ObjectWrite) => Effect.Effect<Written, WriteError>
  /** Absent keys are not an error (S3 answers 204 either way). */
  readonly delete: (key: string) => Effect.Effect<void, WriteError>
  /** At most 1000 keys; one outcome per key, in order. */
  readonly deleteMany: (keys: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<DeleteOutcome>, WriteError>
  /** Within this store only; `headers` may carry `x-amz-metadata-directive` and the copy-source preconditions. */
  readonly copy: (request: {
    readonly sourceKey: string
    readonly key: string
    readonly headers: Headers
  }) => Effect.Effect<{ readonly etag: string; readonly lastModified: Date }, WriteError | NoSuchKey>
  readonly createMultipart: (request: { readonly key: string; readonly headers: Headers }) => Effect.Effect<string, WriteError>
  readonly uploadPart: (request: ObjectWrite & {
    readonly uploadId: string
    readonly partNumber: number
  }) => Effect.Effect<Written, WriteError | NoSuchUpload>
  readonly completeMultipart: (request: {
    readonly key: string
    readonly uploadId: string
    readonly parts: ReadonlyArray<CompletedPart>
    readonly headers: Headers
  }) => Effect.Effect<Written, WriteError | NoSuchUpload | InvalidPart>
  readonly abortMultipart: (request: { readonly key: string; readonly uploadId: string }) => Effect.Effect<void, WriteError | NoSuchUpload>
  /**
   * ListParts: the parts uploaded so far, ascending, after `partNumberMarker` (0 = from the start), at most
   * `maxParts`. Optional: a writer without it answers 501 NotImplemented (as for the two below).
   */
  readonly listParts?: (request: {
    readonly key: string
    readonly uploadId: string
    readonly maxParts: number
    readonly partNumberMarker: number
  }) => Effect.Effect<PartsPage, WriteError | NoSuchUpload>
  /**
   * ListMultipartUploads: the open uploads whose key begins with `prefix`, ordered by key then initiation,
   * after (`keyMarker`, `uploadIdMarker`) as S3 reads them, at most `maxUploads`.
   */
  readonly listUploads?: (request: {
    readonly prefix: string
    readonly keyMarker: string | undefined
    readonly uploadIdMarker: string | undefined
    readonly maxUploads: number
  }) => Effect.Effect<UploadsPage, WriteError>
  /**
   * UploadPartCopy: a part taken from an object of this store, whole or the byte range `range`
   * (`bytes=first-last`, as `x-amz-copy-source-range` says it); `headers` may carry the copy-source
   * preconditions (`x-amz-copy-source-if-*`).
   */
  readonly uploadPartCopy?: (request: {
    readonly sourceKey: string
    readonly key: string
    readonly uploadId: string
    readonly partNumber: number
    readonly range: string | undefined
    readonly headers: Headers
  }) => Effect.Effect<{ readonly etag: string; readonly lastModified: Date }, WriteError | NoSuchUpload | NoSuchKey>
}

/**
 * One backend location, in its own key space. Reads answer 200/206/304 replies with the body as a stream;
 * everything else is a typed error, so every backend looks like S3 to the client.
 */
export interface ObjectStore {
  readonly read: (request: ObjectRead) => Effect.Effect<Reply, ReadError>
  readonly list: (request: ListRequest) => Effect.Effect<ListPage, ListError>
  /** Absent for a store that cannot write (an unsigned connection, a read-only backend). */
  readonly writer?: ObjectWriter | undefined
}

export type OpenError = UnsupportedProvider | BackendAuthenticationFailed | CatalogFailure

/** Turns a data connection into a store, by `details.provider`. */
export class Storage extends Context.Tag("sdp/Storage")<Storage, {
  readonly open: (connection: DataConnection) => Effect.Effect<ObjectStore, OpenError>
}>() {}

/** The provider constructors a runtime offers, by `details.provider` name. */
export type Providers = Readonly<Record<string, (connection: DataConnection) => Effect.Effect<ObjectStore, OpenError>>>
