import * as FiberRef from "effect/FiberRef"
import * as FiberRefs from "effect/FiberRefs"
import * as HashMap from "effect/HashMap"
import type * as ManagedRuntime from "effect/ManagedRuntime"
import * as Runtime from "effect/Runtime"
import type { Reply } from "../core/http/Reply.js"
import { observe } from "../core/observability/observe.js"
import { type AppServices, handle } from "../core/pipeline.js"
import { escapeXml } from "../core/s3/xml.js"
import { WaitUntil } from "../core/services/WaitUntil.js"

/**
 * The one translation between web Request/Response and core values: both shells hand the core a web Request;
 * Workers sends the Reply as a web Response, the Bun shell writes it itself (`bun/httpServer.ts`).
 */
export const toResponse = (reply: Reply, declareLength?: DeclareLength): Response =>
  new Response(
    reply.length !== undefined && declareLength !== undefined && reply.body instanceof ReadableStream
      ? declareLength(reply.body, reply.length)
      : reply.body,
    { status: reply.status, headers: reply.headers }
  )

/**
 * How a runtime that sends a script's stream chunked gives it a Content-Length (Workers: a FixedLengthStream):
 * used for the bodies the core assembles itself (`Reply.length`).
 */
export type DeclareLength = (body: ReadableStream<Uint8Array>, length: number) => ReadableStream<Uint8Array>

/** Where a request's id (`x-amz-request-id`, `<RequestId>`) comes from: only the shell knows what it can trust. */
export type RequestIdSource = (request: Request) => string

/** A fresh random id: any header a client sent could have been chosen by it. */
export const randomRequestId: RequestIdSource = () => crypto.randomUUID()

/** Behind Cloudflare's edge, which sets `cf-ray` on every request it forwards: logs and the id then agree. */
export const cfRayRequestId: RequestIdSource = (request) => request.headers.get("cf-ray") ?? crypto.randomUUID()

/** A reply for when the runtime itself could not be built (bad configuration): XML, never a stack trace. */
const startupFailure = (requestId: string): Reply => ({
  status: 500,
  headers: new Headers({ "content-type": "application/xml", "x-amz-request-id": requestId, "access-control-allow-origin": "*" }),
  body: `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InternalError</Code><Message>Internal server error</Message>`
    + `<Resource/><RequestId>${escapeXml(requestId)}</RequestId></Error>`
})

/**
 * The runtime one request runs in: its log lines annotated with its id and, when the shell has one, its own
 * `waitUntil`. Set on the runtime rather than with `Effect.annotateLogs` / `provideService` around the
 * program, which wrap it in scoped steps: about 20 µs less CPU per request in bench section 3's `serve()` case.
 */
const requestRuntime = <R>(base: Runtime.Runtime<R>, requestId: string, waitUntil: ((work: Promise<unknown>) => void) | undefined) => {
  const annotations = FiberRefs.getOrDefault(base.fiberRefs, FiberRef.currentLogAnnotations)
  const annotated = Runtime.setFiberRef(base, FiberRef.currentLogAnnotations, HashMap.set(annotations, "requestId", requestId))
  return waitUntil === undefined ? annotated : Runtime.provideService(annotated, WaitUntil, waitUntil)
}

/**
 * The core's Reply to a web Request, for a shell that writes Replies to the wire itself. Work the reply need
 * not wait for (edge cache puts, then the response's telemetry) goes to `waitUntil`; without one it runs on
 * unawaited (`WaitUntil`'s default).
 */
export const answer = async <E>(
  runtime: ManagedRuntime.ManagedRuntime<AppServices, E>,
  request: Request,
  requestIdOf: RequestIdSource,
  waitUntil?: (work: Promise<unknown>) => void
): Promise<Reply> => {
  const requestId = requestIdOf(request)
  const url = new URL(request.url)
  const started = performance.now()
  const program = handle({ method: request.method, url, headers: request.headers, body: request.body, requestId })
  const detach = waitUntil ?? WaitUntil.defaultValue()
  try {
    const run = Runtime.runPromise(requestRuntime(await runtime.runtime(), requestId, waitUntil))
    const reply = await run(program, { signal: request.signal })
    // The log line, the analytics data point and the location broadcast never hold the response back.
    const exchange = {
      method: request.method,
      url,
      requestHeaders: request.headers,
      status: reply.status,
      responseHeaders: reply.headers,
      durationMs: performance.now() - started,
      cf: (request as { readonly cf?: Readonly<Record<string, unknown>> }).cf
    }
    detach(run(observe(exchange)))
    return reply
  } catch (cause) {
    // One JSON line, like every other log entry (the stack stays inside its string).
    console.error(JSON.stringify({
      time: new Date().toISOString(),
      level: "error",
      message: "request failed outside the pipeline (runtime could not be built?)",
      requestId,
      cause: cause instanceof Error ? cause.stack ?? cause.message : String(cause)
    }))
    return startupFailure(requestId)
  }
}

/** The core's answer to a web Request as a web Response, for a shell whose runtime sends Responses. */
export const serve = async <E>(
  runtime: ManagedRuntime.ManagedRuntime<AppServices, E>,
  request: Request,
  requestIdOf: RequestIdSource,
  waitUntil?: (work: Promise<unknown>) => void,
  declareLength?: DeclareLength
): Promise<Response> => toResponse(await answer(runtime, request, requestIdOf, waitUntil), declareLength)
