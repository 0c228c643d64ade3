import { request as httpRequest } from "node:http"
import { createServer, type Socket } from "node:net"
import type { AddressInfo } from "node:net"
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from "node:http"

export interface RunningServer {
  readonly url: string
  stop(): Promise<void>
}

/** An HTTP server listening on a free loopback port; stopping it closes its connections too. */
const listening = async (server: ReturnType<typeof createHttpServer>): Promise<RunningServer> => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}

/** Accepts TCP connections and never answers: a backend that hangs. */
export const startSilentServer = async (): Promise<RunningServer & { readonly connections: () => number }> => {
  const sockets = new Set<Socket>()
  let accepted = 0
  const server = createServer((socket) => {
    accepted++
    sockets.add(socket)
    socket.on("error", () => {})
    socket.on("close", () => sockets.delete(socket))
    socket.resume() // read and drop the request, never write
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    connections: () => accepted,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      })
  }
}

export interface ForwardedRequest {
  readonly method: string
  readonly url: string
  readonly headers: Record<string, string | Array<string> | undefined>
}

/**
 * An HTTP forwarder in front of `target` that records each request it passes on (to see what the proxy
 * sends). With `bodyDelayMs`, the response headers go out at once and the body only after that delay, as
 * a real object store streaming a large object does (the proxy then holds an unfinished body stream).
 */
export const startRecordingForwarder = async (
  target: string,
  options: { readonly bodyDelayMs?: number } = {}
): Promise<RunningServer & { readonly requests: ReadonlyArray<ForwardedRequest> }> => {
  const requests: Array<ForwardedRequest> = []
  const to = new URL(target)
  const server = createHttpServer((req, res) => {
    requests.push({ method: req.method ?? "", url: req.url ?? "", headers: { ...req.headers } })
    const upstream = httpRequest(
      { host: to.hostname, port: to.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers)
        res.flushHeaders()
        if (options.bodyDelayMs === undefined) answer.pipe(res)
        else setTimeout(() => answer.pipe(res), options.bodyDelayMs)
      }
    )
    upstream.on("error", () => {
      if (!res.headersSent) res.writeHead(502)
      res.end()
    })
    req.pipe(upstream)
  })
  return { ...(await listening(server)), requests }
}

/** A server answering with `handler`, recording each request's method and URL (path and query). */
export const startScriptedServer = async (
  handler: (req: IncomingMessage, res: ServerResponse) => void
): Promise<RunningServer & { readonly requests: ReadonlyArray<{ readonly method: string; readonly url: string }> }> => {
  const requests: Array<{ readonly method: string; readonly url: string }> = []
  const server = createHttpServer((req, res) => {
    requests.push({ method: req.method ?? "", url: req.url ?? "" })
    req.resume()
    handler(req, res)
  })
  return { ...(await listening(server)), requests }
}

/** Answers 200 and then writes `prefix` and spaces until the client goes away (a body that never ends). */
export const sendEndlessBody = (res: ServerResponse, prefix: string) => {
  res.writeHead(200, { "content-type": "application/xml" })
  const chunk = Buffer.alloc(256 * 1024, 0x20)
  let open = true
  res.on("close", () => (open = false))
  const pump = () => {
    while (open && res.write(chunk));
    if (open) res.once("drain", pump)
  }
  res.write(prefix)
  pump()
}
