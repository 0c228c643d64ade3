import type * as Effect from "effect/Effect"
import type { BackendInvalidResponse, BackendUnavailable } from "../../s3/errors.js"
import type { UpstreamRequest } from "../../services/Upstream.js"
import { encodeKey } from "../keys.js"

/** Sends one signed request; `headers` carry content-length (and content-type) when there is a body. */
export type AzureSend = (
  method: string,
  url: string,
  headers: Headers,
  body?: UpstreamRequest["body"]
) => Effect.Effect<Response, BackendUnavailable | BackendInvalidResponse>

/** The container a writer works on, and how it reaches it. */
export interface AzureWriterOptions {
  /** The container URL (no trailing slash). */
  readonly base: string
  /** A SAS connection's query, put on copy-source URLs; undefined with SharedKey (same account, same key). */
  readonly sourceQuery: string | undefined
  readonly send: AzureSend
  /** Signs a Blob Batch subrequest in place (no x-ms-version: the batch's applies); the URL to put in it. */
  readonly authorize: (method: string, url: string, headers: Headers) => Effect.Effect<string>
  /**
   * A source URL Put Block From URL can read, for connections whose source needs its own authorization
   * (SharedKey: a short-lived service SAS); undefined to use the blob URL with `sourceQuery`.
   */
  readonly sourceUrl?: ((key: string) => Effect.Effect<string>) | undefined
}

/** The URL of the blob `key` in the container at `base`. */
export const blobUrl = (base: string, key: string): string => `${base}/${encodeKey(key)}`

/** The blob URL a copy reads from: with a SAS connection's query, so the service may read it. */
export const copySourceUrl = (options: AzureWriterOptions, key: string): string =>
  `${blobUrl(options.base, key)}${options.sourceQuery === undefined ? "" : `?${options.sourceQuery}`}`

/** Requests of one operation in flight at once (Workers allows six outgoing connections per request). */
export const PARALLEL_REQUESTS = 6
