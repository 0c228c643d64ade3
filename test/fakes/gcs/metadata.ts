import type { IncomingMessage } from "node:http"
import type { FixedMetadata } from "./bucket.js"
import { headerOf } from "./exchange.js"

/** The object's metadata from a write's headers: `x-goog-meta-*` or its interoperable `x-amz-meta-*`. */
export const metadataOf = (req: IncomingMessage) => {
  const metadata: Record<string, string> = {}
  for (const [name, value] of Object.entries(req.headers)) {
    const m = /^x-(?:goog|amz)-meta-(.+)$/.exec(name)
    if (m !== null && value !== undefined) metadata[m[1]!] = Array.isArray(value) ? value.join(",") : value
  }
  const one = (name: string) => headerOf(req, name)
  const fixed: FixedMetadata = {
    ...(one("cache-control") === undefined ? {} : { cacheControl: one("cache-control")! }),
    ...(one("content-disposition") === undefined ? {} : { contentDisposition: one("content-disposition")! }),
    ...(one("content-encoding") === undefined ? {} : { contentEncoding: one("content-encoding")! }),
    ...(one("content-language") === undefined ? {} : { contentLanguage: one("content-language")! })
  }
  return { metadata, fixed, contentType: one("content-type") }
}
