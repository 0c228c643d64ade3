import type { DataPoint, Location } from "../services/Analytics.js"

/** The request and its answer, as telemetry sees them once the response has gone out. */
export interface Exchange {
  readonly method: string
  readonly url: URL
  readonly requestHeaders: Headers
  readonly status: number
  readonly responseHeaders: Headers
  /** From the request to the response's headers. */
  readonly durationMs: number
  /** Cloudflare's `request.cf` (geolocation), when the runtime has one. */
  readonly cf: Readonly<Record<string, unknown>> | undefined
}

/**
 * blob10 and the log line's `cache`: the chunk cache's `x-cache` (HIT, MISS, PARTIAL, BYPASS), or BYPASS for an
 * answer that did not go through it (docs/caching.md#the-chunk-cache).
 */
export const cacheStatusOf = (exchange: Exchange): string => exchange.responseHeaders.get("x-cache") ?? "BYPASS"

/** Analytics Engine's blob limit, applied to the key (docs/runtimes.md#logs-and-telemetry). */
const KEY_MAX_BYTES = 256

/** The percent-decoded path, or the path as sent when it does not decode. */
export const decodedPath = (url: URL): string => {
  try {
    return decodeURIComponent(url.pathname)
  } catch {
    return url.pathname
  }
}

export interface Segments {
  readonly account: string | undefined
  readonly product: string | undefined
  readonly key: string | undefined
}

/** `/{account}/{product}/{key}` of a decoded path, outer slashes ignored; missing parts are undefined. */
export const pathSegments = (path: string): Segments => {
  const trimmed = path.replace(/^\/+|\/+$/g, "")
  const [account, product, ...rest] = trimmed === "" ? [] : trimmed.split("/")
  return { account, product, key: rest.length > 0 ? rest.join("/") : undefined }
}

/** At most `max` bytes of UTF-8, cut at a character boundary. */
export const truncateUtf8 = (text: string, max: number): string => {
  const encoder = new TextEncoder()
  if (encoder.encode(text).length <= max) return text
  let bytes = 0
  let end = 0
  for (const char of text) {
    const size = encoder.encode(char).length
    if (bytes + size > max) break
    bytes += size
    end += char.length
  }
  return text.slice(0, end)
}

/** Telemetry skips preflights and the proxy's own endpoints (`/.sts`, `/.well-known/…`): they are no product's. */
export const isProductTraffic = (exchange: Exchange): boolean =>
  exchange.method !== "OPTIONS" && !decodedPath(exchange.url).startsWith("/.")

/**
 * The Rust worker's layout (docs/runtimes.md#logs-and-telemetry), so its dashboards keep working: index
 * `{account}/{product}`; blobs account, product, key (≤ 256 bytes), method, `x-source-user-id`, `cf-ipcountry`,
 * the response's content-type, the client IP hash, the Range without `bytes=`, then (new) the cache status;
 * doubles the response's content-length, the status and the duration in ms.
 */
export const dataPointOf = (exchange: Exchange, clientIpHash: string): DataPoint => {
  const { account = "", product = "", key = "" } = pathSegments(decodedPath(exchange.url))
  const request = (name: string) => exchange.requestHeaders.get(name) ?? ""
  const length = Number(exchange.responseHeaders.get("content-length") ?? "")
  const range = request("range")
  return {
    indexes: [`${account}/${product}`],
    blobs: [
      account,
      product,
      truncateUtf8(key, KEY_MAX_BYTES),
      exchange.method,
      request("x-source-user-id"),
      request("cf-ipcountry"),
      exchange.responseHeaders.get("content-type") ?? "",
      clientIpHash,
      range.startsWith("bytes=") ? range.slice(6) : range,
      cacheStatusOf(exchange)
    ],
    doubles: [Number.isFinite(length) && length >= 0 ? length : 0, exchange.status, exchange.durationMs]
  }
}

const coordinate = (value: unknown): number | undefined => {
  const parsed = typeof value === "number" ? value : typeof value === "string" && value.trim() !== "" ? Number(value) : Number.NaN
  return Number.isFinite(parsed) ? parsed : undefined
}

const text = (value: unknown): string => (typeof value === "string" ? value : typeof value === "number" ? String(value) : "")

/**
 * What the live map gets for a successful GET of a product's object or listing with a known place
 * (docs/runtimes.md#logs-and-telemetry); undefined otherwise. Whether the product is public is asked separately.
 */
export const locationOf = (exchange: Exchange): Location | undefined => {
  if (exchange.method !== "GET" || exchange.status >= 400 || !isProductTraffic(exchange)) return undefined
  const { account, product, key = "" } = pathSegments(decodedPath(exchange.url))
  const lat = coordinate(exchange.cf?.["latitude"])
  const lon = coordinate(exchange.cf?.["longitude"])
  if (account === undefined || product === undefined || lat === undefined || lon === undefined) return undefined
  return {
    account_id: account,
    product_id: product,
    path: key,
    lat,
    lon,
    city: text(exchange.cf?.["city"]),
    colo: text(exchange.cf?.["colo"]),
    country: exchange.requestHeaders.get("cf-ipcountry") ?? ""
  }
}
