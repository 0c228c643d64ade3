import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { Catalog } from "../catalog/Catalog.js"
import { isPublic } from "../catalog/schema.js"
import { Analytics } from "../services/Analytics.js"
import { Hmac } from "../services/Hmac.js"
import { cacheStatusOf, dataPointOf, type Exchange, isProductTraffic, locationOf } from "./dataPoint.js"

/**
 * The response headers that tell who produced a 5xx (docs/runtimes.md#logs-and-telemetry): `server` and
 * `x-amz-id-2` come from the backend when it answered; a `cf-ray` on the response means Cloudflare's egress minted
 * the status.
 */
const IDENTITY_HEADERS = ["server", "cf-ray", "x-amz-request-id", "x-amz-id-2", "content-type", "content-length"] as const

const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")

/** One line per response: info, or a warning with the backend's identity headers for a 5xx. */
const logResponse = (exchange: Exchange) => {
  const fields = {
    status: exchange.status,
    durationMs: exchange.durationMs,
    method: exchange.method,
    path: exchange.url.pathname,
    cache: cacheStatusOf(exchange)
  }
  if (exchange.status < 500) return Effect.logInfo("response", fields)
  const backend: Record<string, string> = {}
  for (const name of IDENTITY_HEADERS) backend[name] = exchange.responseHeaders.get(name) ?? ""
  return Effect.logWarning("response", { ...fields, requestContentLength: exchange.requestHeaders.get("content-length") ?? "", backend })
}

const observed = Effect.fnUntraced(function*(exchange: Exchange) {
  yield* logResponse(exchange)
  const { ipHashKey, write, broadcastLocation } = yield* Analytics
  if ((write === undefined && broadcastLocation === undefined) || !isProductTraffic(exchange)) return
  if (write !== undefined) {
    const ip = exchange.requestHeaders.get("cf-connecting-ip") ?? ""
    const ipHash = ip === "" || ipHashKey === undefined ? "" : hex(yield* (yield* Hmac).sha256(ipHashKey, ip))
    yield* write(dataPointOf(exchange, ipHash))
  }
  const location = broadcastLocation === undefined ? undefined : locationOf(exchange)
  if (broadcastLocation === undefined || location === undefined) return
  const product = yield* Effect.either((yield* Catalog).product(location.account_id, location.product_id))
  if (Either.isRight(product) && isPublic(product.right)) yield* broadcastLocation(location)
})

/**
 * What happens once a response has gone out (the shell runs it in `waitUntil`): the response log line, the
 * analytics data point, and for a successful GET of a public product with a known place, the location
 * broadcast (the product asked for anonymously, from the catalog's cache). Only what a destination exists
 * for is built. Never fails.
 */
export const observe = (exchange: Exchange): Effect.Effect<void, never, Catalog | Hmac> =>
  observed(exchange).pipe(Effect.catchAllDefect((defect) => Effect.logWarning("telemetry failed", defect)))
