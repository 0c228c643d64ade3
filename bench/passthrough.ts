/**
 * The least a Bun proxy can do, as a yardstick for `bun run bench`: passOn.ts behind `Bun.serve` (`fetch` →
 * `new Response(body)`). The proxy's cost above this line is ours; below it is Bun's.
 *
 * Run: `UPSTREAM=http://127.0.0.1:PORT bun bench/passthrough.ts`; prints `passthrough listening on http://…`.
 */
import { listen } from "../src/platform/bun/httpServer.js"
import { passOn as passOnTo } from "./passOn.js"

const upstream = (process.env.UPSTREAM ?? "").replace(/\/+$/, "")
if (upstream === "") {
  console.error("UPSTREAM is not set")
  process.exit(1)
}
const passOn = (request: Request) => passOnTo(upstream, request)
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
