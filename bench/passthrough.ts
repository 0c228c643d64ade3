/**
 * The least a Bun proxy can do, as a yardstick for `bun run bench`: map `/{account}/{product}/{key}` to
 * `{UPSTREAM}/b/{key}`, forward Range/If-* and hand the body on (`fetch` → `new Response(body)`), and a PUT's
 * body the other way, and a listing `/{account}?…` to `{UPSTREAM}/b?…`, with no catalog, no Effect, no signing,
 * no header filtering, no parsing. The proxy's cost above this
 * line is ours; below it is Bun's.
 *
 * Run: `UPSTREAM=http://127.0.0.1:PORT bun bench/passthrough.ts`; prints `passthrough listening on http://…`.
 */
import { listen } from "../src/platform/bun/httpServer.js"
import { BUCKET } from "./fixture.js"

const upstream = (process.env.UPSTREAM ?? "").replace(/\/+$/, "")
if (upstream === "") {
  console.error("UPSTREAM is not set")
  process.exit(1)
}
const FORWARDED = ["range", "if-match", "if-none-match", "if-modified-since", "if-unmodified-since"]

const passOn = async (request: Request) => {
  const url = new URL(request.url)
  const [, , product, ...key] = url.pathname.split("/")
  if (product === undefined || product === "") {
    // `GET /{account}?list-type=2&prefix={product}/…` (section 6): the query on to the bucket with the product's
    // segment dropped from the prefix, and the backend's page handed back as it is (no key rewritten).
    const query = new URLSearchParams(url.search)
    query.set("prefix", (query.get("prefix") ?? "").replace(/^[^/]*\//, ""))
    const response = await fetch(`${upstream}/${BUCKET}?${query.toString().replace(/\+/g, "%20")}`)
    return { status: response.status, headers: response.headers, body: response.body }
  }
  const headers = new Headers()
  for (const name of FORWARDED) {
    const value = request.headers.get(name)
    if (value !== null) headers.set(name, value)
  }
  // A PUT's body streams on as it arrives, with its declared length (section 7's uploads).
  const put = request.method === "PUT"
  const length = request.headers.get("content-length")
  if (put && length !== null) headers.set("content-length", length)
  const response = await fetch(`${upstream}/${BUCKET}/${key.join("/")}`, {
    method: request.method,
    headers,
    ...(put ? { body: request.body, duplex: "half" } : {})
  } as RequestInit)
  return { status: response.status, headers: response.headers, body: response.body }
}

const port = Number(process.env.PORT ?? 0)
// `BARE_SERVER=node`: the same pass-through behind the proxy's own node:http server (../src/platform/bun/httpServer.ts),
// the floor for a Bun proxy that keeps Content-Length on streamed bodies.
const server = process.env.BARE_SERVER === "node"
  // The node:http server is handed the backend's stream as a Reply, so it pipes it as the proxy's does (a Response would be read whole).
  ? await listen({ port, hostname: "127.0.0.1", idleTimeoutSeconds: 120, maxRequestBodySize: 5 * 1024 ** 3, fetch: passOn })
  : Bun.serve({
    port,
    hostname: "127.0.0.1",
    idleTimeout: 120,
    maxRequestBodySize: 5 * 1024 ** 3,
    fetch: async (request) => {
      const { status, headers, body } = await passOn(request)
      return new Response(body, { status, headers })
    }
  })

console.log(`passthrough listening on http://127.0.0.1:${server.port}`)

const stop = () => {
  void server.stop()
  process.exit(0)
}
process.on("SIGINT", stop)
process.on("SIGTERM", stop)
