/**
 * What the core answers. A backend body is handed on as the very same stream object (never read, never
 * re-chunked), so the runtime pipes it natively.
 */
export interface Reply {
  readonly status: number
  readonly headers: Headers
  readonly body: ReadableStream<Uint8Array> | string | null
}
