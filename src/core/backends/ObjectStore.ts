import { Context, type Effect } from "effect"
import type { DataConnection } from "../catalog/schema.js"
import type { Reply } from "../http/Reply.js"
import type {
  AccessDenied,
  BackendAuthenticationFailed,
  BackendUnavailable,
  CatalogFailure,
  InvalidRange,
  NoSuchKey,
  PreconditionFailed,
  UnsupportedProvider
} from "../s3/errors.js"

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
  | BackendAuthenticationFailed
export type ListError = AccessDenied | BackendUnavailable | BackendAuthenticationFailed

/**
 * One backend location, in its own key space. Reads answer 200/206/304 replies with the body as a stream;
 * everything else is a typed error, so every backend looks like S3 to the client.
 */
export interface ObjectStore {
  readonly read: (request: ObjectRead) => Effect.Effect<Reply, ReadError>
  readonly list: (request: ListRequest) => Effect.Effect<ListPage, ListError>
}

export type OpenError = UnsupportedProvider | BackendAuthenticationFailed | CatalogFailure

/** Turns a data connection into a store, by `details.provider`. */
export class Storage extends Context.Tag("sdp/Storage")<Storage, {
  readonly open: (connection: DataConnection) => Effect.Effect<ObjectStore, OpenError>
}>() {}

/** The provider constructors a runtime offers, by `details.provider` name. */
export type Providers = Readonly<Record<string, (connection: DataConnection) => Effect.Effect<ObjectStore, OpenError>>>
