/**
 * What the core answers. A backend body is handed on as the very same stream object (never read, never
 * re-chunked), so the runtime pipes it natively.
 */
export interface Reply {
  readonly status: number
  readonly headers: Headers
  /** Bytes: an answer held whole (a chunk cache HIT), sent with its own length. */
  readonly body: ReadableStream<Uint8Array> | Uint8Array<ArrayBuffer> | string | null
  /**
   * Set for a stream the core assembled itself (the chunk cache), of exactly this many bytes: a runtime that
   * sends a script's stream chunked (Workers) must declare it, as it keeps a backend body's own length.
   */
  readonly length?: number
}

export const xmlReply = (body: string): Reply => ({ status: 200, headers: new Headers({ "content-type": "application/xml" }), body })

export const jsonReply = (body: string): Reply => ({ status: 200, headers: new Headers({ "content-type": "application/json" }), body })

export const emptyReply = (status: number, headers: Headers = new Headers()): Reply => ({ status, headers, body: null })
