/** The pieces of conditional requests shared by reads, copies and writes. */
import type { IncomingMessage } from "node:http"
import type { GcsObject } from "./bucket.js"
import type { Fail } from "./exchange.js"
import { errorXml } from "./xml.js"

export const etagListMatches = (header: string, etag: string): boolean =>
  header.split(",").map((t) => t.trim().replace(/^W\//, "")).some((t) => t === "*" || t === etag)

/** Seconds precision, as HTTP dates carry. */
export const httpSeconds = (date: Date) => Math.floor(date.getTime() / 1000)

/** `x-goog-if-generation-match` / `x-goog-if-metageneration-match` against the live object: false once it has answered. */
export const generationPreconditions = (req: IncomingMessage, live: GcsObject | undefined, fail: Fail): boolean => {
  for (const [header, field] of [["x-goog-if-generation-match", "generation"], ["x-goog-if-metageneration-match", "metageneration"]] as const) {
    const raw = req.headers[header]
    if (raw === undefined) continue
    const wanted = String(raw).trim()
    if (!/^\d+$/.test(wanted)) {
      fail(400, errorXml("InvalidArgument", "Invalid argument.", `Invalid value for ${header}: ${wanted}`))
      return false
    }
    const holds = wanted === "0" && field === "generation" ? live === undefined : live !== undefined && live[field] === wanted
    if (!holds) {
      fail(412, errorXml("PreconditionFailed", "At least one of the pre-conditions you specified did not hold.", `Precondition failed: ${header}`))
      return false
    }
  }
  return true
}
