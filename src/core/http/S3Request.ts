/** A request as the core sees it: web-standard parts only, built by `src/platform/web.ts`. */
export interface S3Request {
  readonly method: string
  readonly url: URL
  readonly headers: Headers
  readonly body: ReadableStream<Uint8Array> | null
  /** Unique per request; echoed as `x-amz-request-id` and in every error document. */
  readonly requestId: string
}
