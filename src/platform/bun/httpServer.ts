/**
 * The Bun shell's HTTP server: node:http (as Bun implements it), not `Bun.serve`. Bun.serve sends every
 * response whose body is a stream chunked and drops its Content-Length (oven-sh/bun#10507, still so in Bun
 * 1.4.5); node:http keeps a declared Content-Length and writes the body raw. So a GET carries the backend's
 * length (SDKs' `ContentLength`, progress bars), and the body is still streamed, never buffered.
 */
import { createServer, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import type { Reply } from "../../core/http/Reply.js"

/** What a handler answers: a core Reply (its stream piped as is), or a small Response of the shell's own (read whole). */
export type Answer = Reply | Response

export interface ServerOptions {
  readonly port: number
  readonly hostname: string
  /** Seconds a connection may stay idle, between requests or within one, before it is closed. */
  readonly idleTimeoutSeconds: number
  /** The largest request body taken: a longer declared one is refused (413), a longer chunked one cut off. */
  readonly maxRequestBodySize: number
  readonly fetch: (request: Request) => Answer | Promise<Answer>
}

export interface RunningServer {
  readonly hostname: string
  readonly port: number
  /** Stops listening and closes every connection, in-flight requests included. */
  stop(): void
}

/** Bun.serve's rule, kept: GET and HEAD never have a body, nor does a request that declares none. */
const hasBody = (incoming: IncomingMessage) =>
  incoming.method !== "GET" && incoming.method !== "HEAD"
  && (incoming.headers["transfer-encoding"] !== undefined || Number(incoming.headers["content-length"] ?? "0") > 0)

/**
 * The request body as a web stream, the socket paused while the consumer lags. Cancelling discards the rest
 * without closing the connection, so the reply can still be sent; a connection lost mid-body errors it.
 */
const bodyOf = (incoming: IncomingMessage, limit: number): ReadableStream<Uint8Array> => {
  let received = 0
  let settled = false
  let onData: ((chunk: Buffer) => void) | undefined
  return new ReadableStream<Uint8Array>({
    start(controller) {
      const fail = (error: Error) => {
        if (settled) return
        settled = true
        controller.error(error)
      }
      onData = (chunk) => {
        received += chunk.byteLength
        if (received > limit) {
          fail(new Error(`request body over ${limit} bytes`))
          incoming.destroy()
          return
        }
        // A plain Uint8Array view: `slice` then copies, as on any web stream (Buffer's would alias).
        controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength))
        if ((controller.desiredSize ?? 1) <= 0) incoming.pause()
      }
      incoming.on("data", onData)
      incoming.once("end", () => {
        if (settled) return
        settled = true
        controller.close()
      })
      incoming.once("error", fail)
      incoming.once("close", () => fail(new Error("the connection closed before the request body was complete")))
    },
    pull() {
      incoming.resume()
    },
    cancel() {
      settled = true
      if (onData !== undefined) incoming.off("data", onData)
      incoming.resume()
    }
  }, { highWaterMark: 4 })
}

const toRequest = (incoming: IncomingMessage, host: string, signal: AbortSignal, limit: number): Request => {
  const headers = new Headers()
  const raw = incoming.rawHeaders
  for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i]!, raw[i + 1]!)
  const target = incoming.url ?? "/"
  const url = target.startsWith("/") ? `http://${incoming.headers.host ?? host}${target}` : target
  const method = incoming.method ?? "GET"
  return hasBody(incoming)
    ? new Request(url, { method, headers, signal, body: bodyOf(incoming, limit), duplex: "half" } as RequestInit)
    : new Request(url, { method, headers, signal })
}

const outgoing = (headers: Headers): OutgoingHttpHeaders => {
  const out: OutgoingHttpHeaders = {}
  headers.forEach((value, name) => {
    out[name] = value
  })
  const cookies = headers.getSetCookie()
  if (cookies.length > 0) out["set-cookie"] = cookies
  return out
}

/** A status whose response never has a body, so never a Content-Length either. */
const bodiless = (status: number) => status === 204 || status === 304 || status < 200

/**
 * A body held whole: sent with its length (HEAD: the length alone). Text is handed to the socket as it is, its
 * UTF-8 length counted without encoding it first: Bun writes a string in one native step, where a `Buffer` of a
 * 180 KB listing first was a copy of its own (bench/).
 */
const sendWhole = (response: ServerResponse, method: string, status: number, headers: OutgoingHttpHeaders, body: Uint8Array | string) => {
  const length = typeof body === "string" ? Buffer.byteLength(body) : body.byteLength
  if (!bodiless(status) && !(method === "HEAD" && headers["content-length"] !== undefined)) {
    headers["content-length"] = String(length)
  }
  response.writeHead(status, headers)
  response.end(method === "HEAD" || length === 0 ? undefined : body)
}

/** Resolves once the socket takes more (`drain`) or is gone (`close`). */
const drained = (response: ServerResponse) =>
  new Promise<void>((resolve) => {
    const done = () => {
      response.off("drain", done)
      response.off("close", done)
      resolve()
    }
    response.once("drain", done)
    response.once("close", done)
  })

/**
 * Streams `body` with write backpressure. A body that ends short of, or runs past, its declared length
 * cuts the connection: the client sees a truncated response, never a hang or a desynchronised connection.
 */
const pipe = async (body: ReadableStream<Uint8Array>, response: ServerResponse, declared: number | undefined) => {
  const reader = body.getReader()
  const onClose = () => void reader.cancel().catch(() => {})
  response.once("close", onClose)
  let sent = 0
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done || response.destroyed) break
      sent += value.byteLength
      if (declared !== undefined && sent > declared) break
      if (!response.write(value)) await drained(response)
    }
    if (declared === undefined || sent === declared) response.end()
    else response.destroy()
  } catch {
    response.destroy()
  } finally {
    response.off("close", onClose)
  }
}

/** A declared `content-length`, when it is one. */
const declaredLength = (headers: Headers): number | undefined => {
  const value = headers.get("content-length")
  return value !== null && /^\d{1,15}$/.test(value) ? Number(value) : undefined
}

const sendReply = async (reply: Reply, response: ServerResponse, method: string) => {
  const headers = outgoing(reply.headers)
  if (typeof reply.body === "string") {
    if (reply.body !== "") headers["content-type"] ??= "text/plain;charset=utf-8" // as `new Response(string)` has it
    return sendWhole(response, method, reply.status, headers, reply.body)
  }
  if (reply.body instanceof Uint8Array) return sendWhole(response, method, reply.status, headers, reply.body)
  if (reply.body === null || method === "HEAD") {
    // HEAD keeps the object's length, and its stream is not read.
    if (reply.body !== null) await reply.body.cancel().catch(() => {})
    return sendWhole(response, method, reply.status, headers, new Uint8Array(0))
  }
  response.writeHead(reply.status, headers)
  await pipe(reply.body, response, declaredLength(reply.headers))
}

const sendAnswer = async (answer: Answer, response: ServerResponse, method: string) =>
  answer instanceof Response
    ? sendWhole(response, method, answer.status, outgoing(answer.headers), new Uint8Array(await answer.arrayBuffer()))
    : sendReply(answer, response, method)

/** A reply of the shell's own, with no body, for a request that never reaches the handler. */
const refuse = (response: ServerResponse, status: number) => {
  response.writeHead(status, { "content-length": "0", connection: "close" })
  response.end()
}

export const listen = (options: ServerOptions): Promise<RunningServer> => {
  let host = `${options.hostname}:${options.port}`
  const server = createServer((incoming, response) => {
    const controller = new AbortController()
    response.once("close", () => {
      if (!response.writableFinished) controller.abort()
    })
    if (Number(incoming.headers["content-length"] ?? "0") > options.maxRequestBodySize) return refuse(response, 413)
    let request: Request
    try {
      request = toRequest(incoming, host, controller.signal, options.maxRequestBodySize)
    } catch {
      return refuse(response, 400)
    }
    Promise.resolve()
      .then(() => options.fetch(request))
      .then((answer) => sendAnswer(answer, response, request.method))
      .catch((cause: unknown) => {
        console.error("request failed in the HTTP server", cause)
        if (response.headersSent) response.destroy()
        else refuse(response, 500)
      })
  })
  const idleMs = options.idleTimeoutSeconds * 1000
  server.keepAliveTimeout = idleMs
  server.timeout = idleMs
  // A long upload is bounded by the idle timeout (no bytes for that long), not by its total duration.
  server.requestTimeout = 0
  return new Promise((resolve, reject) => {
    server.once("error", reject)
    server.listen(options.port, options.hostname, () => {
      server.off("error", reject)
      const { port } = server.address() as AddressInfo
      host = `${options.hostname}:${port}`
      resolve({
        hostname: options.hostname,
        port,
        stop: () => {
          server.close()
          server.closeAllConnections()
        }
      })
    })
  })
}
