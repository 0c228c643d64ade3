/** HTTP clients for the benches; each is used unchanged for the direct and the proxied URL. */
import { percentile } from "./stats.js"

export interface Transfer {
  readonly bytes: number
  readonly seconds: number
}

/** MB/s (10^6 B/s) of one transfer. */
export const mbps = (t: Transfer): number => t.bytes / 1e6 / t.seconds

/** One GET read to the end with Bun's fetch (bytes counted, not kept). */
export const fetchWhole = async (url: string, timeoutMs: number): Promise<Transfer> => {
  const t0 = performance.now()
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })
  if (response.status !== 200 || response.body === null) {
    throw new Error(`GET ${url}: status ${response.status}`)
  }
  const reader = response.body.getReader()
  let bytes = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    bytes += value.byteLength
  }
  return { bytes, seconds: (performance.now() - t0) / 1000 }
}

export const hasCurl = (): boolean => Bun.which("curl") !== null

const runCurl = async (args: ReadonlyArray<string>, timeoutMs: number) => {
  const child = Bun.spawn(["curl", ...args], { stdin: "ignore", stdout: "pipe", stderr: "pipe" })
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs)
  try {
    const [out, code] = await Promise.all([new Response(child.stdout).text(), child.exited])
    return { out: out.trim(), code }
  } finally {
    clearTimeout(timer)
  }
}

/** One GET with curl to /dev/null; time as curl measures it (no process start-up). */
export const curlWhole = async (url: string, timeoutMs: number): Promise<Transfer> => {
  const seconds = Math.ceil(timeoutMs / 1000)
  const { out, code } = await runCurl(
    ["-s", "-o", "/dev/null", "--max-time", String(seconds), "-w", "%{http_code} %{size_download} %{time_total}", url],
    timeoutMs + 2_000
  )
  const [status, size, time] = out.split(" ")
  if (code !== 0 || status !== "200") throw new Error(`curl ${url}: exit ${code}, output ${out}`)
  return { bytes: Number(size), seconds: Number(time) }
}

/**
 * A slow client: curl at `bytesPerSecond` for `seconds`, then it gives up (exit 28 is expected). With
 * backpressure the proxy's memory stays flat; without it the proxy buffers what the client has not read.
 */
export const curlSlow = async (url: string, bytesPerSecond: number, seconds: number): Promise<Transfer> => {
  const { out } = await runCurl(
    ["-s", "-o", "/dev/null", "--limit-rate", String(bytesPerSecond), "--max-time", String(seconds), "-w",
      "%{size_download} %{time_total}", url],
    seconds * 1000 + 5_000
  )
  const [size, time] = out.split(" ")
  return { bytes: Number(size), seconds: Number(time) }
}

export interface RangedResult {
  readonly requests: number
  readonly seconds: number
  readonly reqPerSec: number
  readonly latenciesMs: ReadonlyArray<number>
  /** How many answers carried each `x-cache` value (the proxy's chunk cache; absent elsewhere). */
  readonly cacheStatus: Readonly<Record<string, number>>
}

/**
 * `offsets.length` GETs of `Range: bytes=X-(X+length-1)`, `concurrency` in flight, each read to the end and
 * checked (206, `length` bytes). Stops early at `deadlineMs`; the result says how many were done. `url` may
 * name a different object for each request (by its index), as the chunk cache's cold reads do.
 */
export const ranged = async (
  url: string | ((index: number) => string),
  offsets: ReadonlyArray<number>,
  length: number,
  concurrency: number,
  deadlineMs: number
): Promise<RangedResult> => {
  const latencies: Array<number> = []
  const cacheStatus: Record<string, number> = {}
  const urlOf = typeof url === "string" ? () => url : url
  let next = 0
  const t0 = performance.now()
  const worker = async () => {
    for (;;) {
      const i = next++
      const offset = offsets[i]
      if (offset === undefined || performance.now() - t0 > deadlineMs) return
      const start = performance.now()
      const target = urlOf(i)
      const response = await fetch(target, {
        headers: { range: `bytes=${offset}-${offset + length - 1}` },
        signal: AbortSignal.timeout(10_000)
      })
      const body = await response.arrayBuffer()
      latencies.push(performance.now() - start)
      if (response.status !== 206 || body.byteLength !== length) {
        throw new Error(`ranged GET ${target} @${offset}: status ${response.status}, ${body.byteLength} bytes`)
      }
      const status = response.headers.get("x-cache")
      if (status !== null) cacheStatus[status] = (cacheStatus[status] ?? 0) + 1
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  const seconds = (performance.now() - t0) / 1000
  return { requests: latencies.length, seconds, reqPerSec: latencies.length / seconds, latenciesMs: latencies, cacheStatus }
}

export const latencySummary = (latencies: ReadonlyArray<number>) => ({
  p50: percentile(latencies, 50),
  p90: percentile(latencies, 90),
  p99: percentile(latencies, 99),
  max: percentile(latencies, 100)
})

/** The bytes of one range, for checking that the proxy returns exactly what the upstream has. */
export const rangeBytes = async (url: string, start: number, endInclusive: number): Promise<Uint8Array> => {
  const response = await fetch(url, { headers: { range: `bytes=${start}-${endInclusive}` }, signal: AbortSignal.timeout(10_000) })
  if (response.status !== 206) throw new Error(`ranged GET ${url}: status ${response.status}`)
  return new Uint8Array(await response.arrayBuffer())
}

export interface Listing {
  readonly keys: number
  readonly pages: number
  readonly seconds: number
}

const unescapeXml = (text: string): string =>
  text.replace(/&(amp|lt|gt|quot|apos);/g, (_, name: string) =>
    ({ amp: "&", lt: "<", gt: ">", quot: "\"", apos: "'" })[name] ?? "")

/** How one listing API pages: the query parameter that resumes it, what marks one key, where the next token is. */
export interface ListingDialect {
  readonly name: string
  readonly tokenParam: string
  /** A substring that occurs once per listed key. */
  readonly keyMarker: string
  /** The token of the next page, undefined on the last page. */
  readonly nextToken: (text: string) => string | undefined
}

const element = (text: string, name: string): string | undefined => {
  const value = text.match(new RegExp(`<${name}>([^<]*)</${name}>`))?.[1]
  return value === undefined || value === "" ? undefined : unescapeXml(value)
}

/** S3 ListObjectsV2 (the fake upstream, and the proxy for every backend). */
export const listObjectsV2: ListingDialect = {
  name: "ListObjectsV2",
  tokenParam: "continuation-token",
  keyMarker: "<Key>",
  nextToken: (text) => text.includes("<IsTruncated>true</IsTruncated>") ? element(text, "NextContinuationToken") : undefined
}

/** S3 / GCS V1 listing: `marker`, and `NextMarker` (GCS sends it on every truncated page). */
export const listObjectsV1: ListingDialect = {
  name: "ListObjects (V1)",
  tokenParam: "marker",
  keyMarker: "<Key>",
  nextToken: (text) => text.includes("<IsTruncated>true</IsTruncated>") ? element(text, "NextMarker") : undefined
}

/** Azure List Blobs: `marker`, and a non-empty `NextMarker` until the last page. */
export const azureListBlobs: ListingDialect = {
  name: "List Blobs",
  tokenParam: "marker",
  keyMarker: "<Blob>",
  nextToken: (text) => element(text, "NextMarker")
}

/**
 * Pages through a listing: `firstUrl` (which carries the prefix and the page size), then the same URL with
 * each next token (`dialect`: ListObjectsV2 by default), until there is none. Keys are counted, not kept.
 */
export const listAll = async (firstUrl: string, timeoutMs: number, dialect: ListingDialect = listObjectsV2): Promise<Listing> => {
  const t0 = performance.now()
  let keys = 0
  let pages = 0
  let token: string | undefined
  do {
    const url = new URL(firstUrl)
    if (token !== undefined) url.searchParams.set(dialect.tokenParam, token)
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })
    const text = await response.text()
    if (response.status !== 200) throw new Error(`list ${url}: status ${response.status}: ${text.slice(0, 300)}`)
    pages++
    keys += text.split(dialect.keyMarker).length - 1
    token = dialect.nextToken(text)
    if (pages > 10_000) throw new Error(`list ${firstUrl}: more than 10 000 pages`)
  } while (token !== undefined)
  return { keys, pages, seconds: (performance.now() - t0) / 1000 }
}
