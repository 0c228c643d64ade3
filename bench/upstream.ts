/**
 * A fast, local fake of everything the proxy talks to, for `bun run bench` (never for tests):
 *
 * - the Source API JSON routes (one public product `bench/data` whose mirror points at bucket `b` here);
 * - path-style S3 objects `/b/{key}`: every key is the same in-memory buffer of random bytes (size from
 *   `UPSTREAM_SIZE`, default 256 MiB), with HEAD, `Range: bytes=a-b | a- | -n` → 206 + Content-Range, 416,
 *   If-None-Match → 304 and If-Match → 412 (the chunk cache pins its fetches to the ETag);
 * - `repeat/{bytes}.bin`: `bytes` bytes (GET, no Range) streamed from that buffer over and over, for objects
 *   larger than the buffer (the 1 GiB download of section 7) without holding them;
 * - `PUT /b/{key}`: the body is drained and counted, never kept (200, an ETag naming the byte count);
 *   `x-bench-bytes` in the answer says how many bytes arrived;
 * - ListObjectsV2 for `GET /b?list-type=2&prefix=&max-keys=&continuation-token=&start-after=` over
 *   `LIST_KEYS` synthetic keys (default 10 000: `k/00000.bin`…), at most 1000 per page, with opaque
 *   continuation tokens (no delimiter support: every key is returned flat);
 * - with `AZURE_ENDPOINT` (+ `AZURE_ACCOUNT_KEY`) / `GCS_ENDPOINT`: the Source API entries of the products
 *   `bench/az` (an Azurite container, Shared Key) and `bench/gcs` (a public bucket of the in-test GCS server);
 * - `UPSTREAM_LATENCY_MS` (default 0): every object GET/HEAD answers that much later, as a far backend's time to
 *   first byte (the Source API routes and listings answer at once);
 * - `GET /__bench/counters`: `{ requests, bodyBytes }`, the object GET/HEAD requests answered so far and the body
 *   bytes they declared (Content-Length of 200/206), so a bench can say what the proxy fetched per byte it served.
 *
 * Run: `bun bench/upstream.ts` (PORT=0 picks a free port); prints `upstream listening on http://127.0.0.1:PORT`.
 */
import { randomFillSync } from "node:crypto"
import { ACCOUNT, AZURE_CONNECTION, AZURE_PRODUCT, azureConnectionJson, azureProductJson, BUCKET, CONNECTION, connectionJson,
  GCS_CONNECTION, GCS_PRODUCT, gcsConnectionJson, gcsProductJson, LIST_KEYS, listPage, PRODUCT, productJson, REPEAT_PREFIX,
  syntheticKeys, WRITE_CONNECTION, WRITE_PRODUCT, writeConnectionJson, writeProductJson } from "./fixture.js"

const size = Number(process.env.UPSTREAM_SIZE ?? 256 * 1024 * 1024)
const port = Number(process.env.PORT ?? 0)
const latencyMs = Number(process.env.UPSTREAM_LATENCY_MS ?? 0)

const data = new Uint8Array(size)
for (let offset = 0; offset < size; offset += 64 * 1024 * 1024) {
  randomFillSync(data, offset, Math.min(64 * 1024 * 1024, size - offset))
}
const etag = `"bench-${size.toString(16)}"`
const lastModified = new Date(Date.UTC(2025, 0, 1)).toUTCString()

/** Section 6's Azure and GCS products, served only when their endpoints are given. */
const azureEndpoint = process.env.AZURE_ENDPOINT
const azureKey = process.env.AZURE_ACCOUNT_KEY ?? ""
const gcsEndpoint = process.env.GCS_ENDPOINT

const json = (value: unknown, status = 200) =>
  new Response(JSON.stringify(value), { status, headers: { "content-type": "application/json" } })

const keys = syntheticKeys(Number(process.env.LIST_KEYS ?? LIST_KEYS))

/** The token is the base64url of the last key of the page: opaque to clients, enough to resume here. */
const listing = (query: URLSearchParams): Response => {
  const token = query.get("continuation-token")
  const after = token !== null ? Buffer.from(token, "base64url").toString("utf8") : query.get("start-after") ?? ""
  const maxKeys = Math.min(1000, Math.max(0, Number(query.get("max-keys") ?? 1000) || 0))
  const body = listPage(keys, query.get("prefix") ?? "", after, maxKeys, size, token ?? undefined,
    (last) => Buffer.from(last, "utf8").toString("base64url"))
  return new Response(body, { headers: { "content-type": "application/xml" } })
}

const objectHeaders = (length: number) => ({
  "content-type": "application/octet-stream",
  "content-length": String(length),
  "accept-ranges": "bytes",
  etag,
  "last-modified": lastModified
})

/** `[start, endInclusive]`, `"unsatisfiable"`, or undefined (absent or unparseable: the whole object). */
const rangeOf = (header: string | null): readonly [number, number] | "unsatisfiable" | undefined => {
  const match = header?.match(/^bytes=(\d*)-(\d*)$/)
  if (match === undefined || match === null) return undefined
  const [, a = "", b = ""] = match
  if (a === "" && b === "") return undefined
  if (a === "") {
    const n = Number(b)
    return n === 0 ? "unsatisfiable" : [Math.max(0, size - n), size - 1]
  }
  const start = Number(a)
  if (start >= size) return "unsatisfiable"
  const end = b === "" ? size - 1 : Math.min(Number(b), size - 1)
  return end < start ? undefined : [start, end]
}

const counters = { requests: 0, bodyBytes: 0 }

/** Counts the answer's body and holds it back `latencyMs`. */
const answered = (request: Request, response: Response): Response | Promise<Response> => {
  counters.requests++
  if (request.method === "GET" && (response.status === 200 || response.status === 206)) {
    counters.bodyBytes += Number(response.headers.get("content-length") ?? 0)
  }
  return latencyMs > 0 ? Bun.sleep(latencyMs).then(() => response) : response
}

const object = (request: Request): Response => {
  if (request.headers.get("if-none-match") === etag) return new Response(null, { status: 304, headers: { etag } })
  const ifMatch = request.headers.get("if-match")
  if (ifMatch !== null && ifMatch !== etag && ifMatch !== "*") return new Response(null, { status: 412 })
  const head = request.method === "HEAD"
  const range = rangeOf(request.headers.get("range"))
  if (range === "unsatisfiable") {
    return new Response(null, { status: 416, headers: { "content-range": `bytes */${size}` } })
  }
  if (range === undefined) return new Response(head ? null : data, { status: 200, headers: objectHeaders(size) })
  const [start, end] = range
  return new Response(head ? null : data.subarray(start, end + 1), {
    status: 206,
    headers: { ...objectHeaders(end - start + 1), "content-range": `bytes ${start}-${end}/${size}` }
  })
}

/** `bytes` bytes of `data`, repeated, 1 MiB a chunk (views, not copies), pulled as the client reads. */
const repeated = (bytes: number): Response => {
  let sent = 0
  const piece = Math.min(1024 * 1024, size)
  const body = new ReadableStream<Uint8Array>({
    pull: (controller) => {
      if (sent >= bytes) return controller.close()
      const at = sent % (size - piece + 1)
      const n = Math.min(piece, bytes - sent)
      controller.enqueue(data.subarray(at, at + n))
      sent += n
    }
  }, { highWaterMark: 0 })
  return new Response(body, { status: 200, headers: { ...objectHeaders(bytes), etag: `"repeat-${bytes.toString(16)}"` } })
}

/** A PUT's body read to the end and counted, each chunk dropped at once (a /dev/null sink). */
const drain = async (request: Request): Promise<Response> => {
  let bytes = 0
  if (request.body !== null) {
    const reader = request.body.getReader()
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      bytes += value.byteLength
    }
  }
  const declared = request.headers.get("content-length")
  if (declared !== null && Number(declared) !== bytes) {
    return new Response(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>IncompleteBody</Code><Message>${bytes} of ${declared} bytes</Message></Error>`,
      { status: 400, headers: { "content-type": "application/xml" } })
  }
  return new Response(null, { status: 200, headers: { etag: `"put-${bytes.toString(16)}"`, "x-bench-bytes": String(bytes) } })
}

const server = Bun.serve({
  port,
  hostname: "127.0.0.1",
  idleTimeout: 60,
  // PUT bodies are drained, never kept: allow what S3 allows in one PUT (Bun's default is 128 MiB).
  maxRequestBodySize: 5 * 1024 ** 3,
  fetch: (request, self) => {
    const url = new URL(request.url)
    const path = url.pathname
    if (request.method === "PUT" && path.startsWith(`/${BUCKET}/`) && path.length > BUCKET.length + 2) return drain(request)
    if (request.method !== "GET" && request.method !== "HEAD") return new Response(null, { status: 405 })
    if (path === `/api/v1/products/${ACCOUNT}/${PRODUCT}`) return json(productJson)
    if (path === `/api/v1/products/${ACCOUNT}/${WRITE_PRODUCT}`) return json(writeProductJson)
    if (path === `/api/v1/products/${ACCOUNT}/${WRITE_PRODUCT}/permissions`) return json(["read", "write"])
    if (azureEndpoint !== undefined) {
      if (path === `/api/v1/products/${ACCOUNT}/${AZURE_PRODUCT}`) return json(azureProductJson)
      if (path === `/api/v1/data-connections/${AZURE_CONNECTION}`) return json(azureConnectionJson(azureEndpoint, azureKey))
    }
    if (gcsEndpoint !== undefined) {
      if (path === `/api/v1/products/${ACCOUNT}/${GCS_PRODUCT}`) return json(gcsProductJson)
      if (path === `/api/v1/data-connections/${GCS_CONNECTION}`) return json(gcsConnectionJson(gcsEndpoint))
    }
    if (path === `/api/v1/products/${ACCOUNT}`) return json({ products: [productJson] })
    if (path === `/api/v1/data-connections/${CONNECTION}`) {
      return json(connectionJson(`http://127.0.0.1:${self.port}`))
    }
    if (path === `/api/v1/data-connections/${WRITE_CONNECTION}`) {
      return json(writeConnectionJson(`http://127.0.0.1:${self.port}`))
    }
    if (path.startsWith("/api/")) return json({ error: "not found" }, 404)
    if (path === "/__bench/counters") return json(counters)
    if (path === `/${BUCKET}` || path === `/${BUCKET}/`) {
      return listing(url.searchParams)
    }
    const repeat = path.match(new RegExp(`^/${BUCKET}/${REPEAT_PREFIX}(\\d+)\\.bin$`))
    if (repeat?.[1] !== undefined && request.method === "GET" && !request.headers.has("range")) {
      return answered(request, repeated(Number(repeat[1])))
    }
    if (path.startsWith(`/${BUCKET}/`) && path.length > BUCKET.length + 2) return answered(request, object(request))
    return new Response(
      `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchBucket</Code><Message>no such bucket</Message></Error>`,
      { status: 404, headers: { "content-type": "application/xml" } }
    )
  }
})

console.log(`upstream listening on http://127.0.0.1:${server.port}`)

const stop = () => {
  void server.stop(true)
  process.exit(0)
}
process.on("SIGINT", stop)
process.on("SIGTERM", stop)
