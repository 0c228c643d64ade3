/** One request to an existing bucket, already authorised, and the two ways to answer it. */
import type { IncomingMessage } from "node:http"
import type { Bucket } from "./bucket.js"

export type AnswerHeaders = Record<string, string | Array<string>>
/** Answers the request (and logs it). */
export type Send = (status: number, headers: AnswerHeaders, body?: string | Buffer) => void
/** Answers with an XML error document. */
export type Fail = (status: number, xml: string) => void

export interface Exchange {
  readonly req: IncomingMessage
  readonly method: string
  readonly bucketName: string
  readonly bucket: Bucket
  /** The object name, decoded; `undefined` for bucket-level requests. */
  readonly key: string | undefined
  readonly query: Readonly<Record<string, string>>
  readonly send: Send
  readonly fail: Fail
}

/** A request header as one string (repeated lines joined with commas). */
export const headerOf = (req: IncomingMessage, name: string): string | undefined => {
  const v = req.headers[name]
  return Array.isArray(v) ? v.join(",") : v
}

/** A GCS header, or its x-amz- spelling (HMAC interoperability). */
export const googHeader = (req: IncomingMessage, name: string): string | undefined =>
  headerOf(req, `x-goog-${name}`) ?? headerOf(req, `x-amz-${name}`)
