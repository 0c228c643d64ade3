import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"

export interface ApiResponse {
  readonly status?: number
  /** A string is sent as is (so broken JSON can be served); anything else is JSON-encoded. */
  readonly body?: unknown
  /** Wait this long before answering (to exercise SOURCE_API_TIMEOUT_MS). */
  readonly delayMs?: number
}

/**
 * A fixed answer, or one chosen by the how-many-th request to its path this is (1-based) and, when it
 * matters (an `Authorization` header), by the request itself.
 */
export type ApiRoute = ApiResponse | ((call: number, request: RecordedRequest) => ApiResponse)

export interface RecordedRequest {
  readonly method: string
  readonly path: string
  readonly headers: IncomingMessage["headers"]
}

export interface RunningSourceApi {
  /** `http://127.0.0.1:PORT`, the value for SOURCE_API_URL. */
  readonly url: string
  /** Set (or replace) the answer for an exact path such as `/api/v1/products/acct/prod`. */
  set(path: string, response: ApiRoute): void
  /** How many requests this path received so far. */
  hits(path: string): number
  readonly requests: ReadonlyArray<RecordedRequest>
  stop(): Promise<void>
}

/**
 * A stand-in for the Source API: a route table keyed by exact path (the query is ignored), every unknown
 * path answers 404 `{}` like the reference stub. Mutable while the proxy runs.
 */
export const startSourceApi = async (routes: Record<string, ApiRoute> = {}): Promise<RunningSourceApi> => {
  const table = new Map<string, ApiRoute>(Object.entries(routes))
  const counts = new Map<string, number>()
  const requests: Array<RecordedRequest> = []
  const timers = new Set<NodeJS.Timeout>()

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? "/", "http://x").pathname
    const call = (counts.get(path) ?? 0) + 1
    counts.set(path, call)
    const recorded = { method: req.method ?? "", path, headers: req.headers }
    requests.push(recorded)
    const entry = table.get(path) ?? { status: 404, body: {} }
    const route = typeof entry === "function" ? entry(call, recorded) : entry
    const send = () => {
      const body = typeof route.body === "string" ? route.body : JSON.stringify(route.body ?? {})
      res.writeHead(route.status ?? 200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) })
      res.end(body)
    }
    req.resume()
    if (route.delayMs !== undefined && route.delayMs > 0) {
      const timer = setTimeout(() => {
        timers.delete(timer)
        if (!res.destroyed) send()
      }, route.delayMs)
      timers.add(timer)
    } else {
      send()
    }
  })
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, "127.0.0.1", resolve)
  })
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    set: (path, response) => void table.set(path, response),
    hits: (path) => counts.get(path) ?? 0,
    requests,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const timer of timers) clearTimeout(timer)
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}

/** The Source API routes of one account's catalog: its product list, each product, each data connection. */
export const catalogRoutes = (
  account: string,
  products: ReadonlyArray<{ readonly product_id: string }>,
  connections: ReadonlyArray<{ readonly data_connection_id: string }>
): Record<string, ApiResponse> => {
  const routes: Record<string, ApiResponse> = { [`/api/v1/products/${account}`]: { body: { products } } }
  for (const p of products) routes[`/api/v1/products/${account}/${p.product_id}`] = { body: p }
  for (const c of connections) routes[`/api/v1/data-connections/${c.data_connection_id}`] = { body: c }
  return routes
}
