import type { ManagedRuntime } from "effect"
import type { Reply } from "../core/http/Reply.js"
import { type AppServices, handle } from "../core/pipeline.js"

/** The one translation between web Request/Response and core values, shared by both shells. */
export const toResponse = (reply: Reply): Response =>
  new Response(reply.body, { status: reply.status, headers: reply.headers })

const requestIdOf = (request: Request): string => request.headers.get("cf-ray") ?? crypto.randomUUID()

/** A reply for when the runtime itself could not be built (bad configuration): XML, never a stack trace. */
const startupFailure = (requestId: string): Response =>
  new Response(
    `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InternalError</Code><Message>Internal server error</Message>`
      + `<Resource/><RequestId>${requestId}</RequestId></Error>`,
    { status: 500, headers: { "content-type": "application/xml", "x-amz-request-id": requestId, "access-control-allow-origin": "*" } }
  )

export const serve = async (
  runtime: ManagedRuntime.ManagedRuntime<AppServices, unknown>,
  request: Request
): Promise<Response> => {
  const requestId = requestIdOf(request)
  const url = new URL(request.url)
  const program = handle({ method: request.method, url, headers: request.headers, body: request.body, requestId })
  try {
    return toResponse(await runtime.runPromise(program, { signal: request.signal }))
  } catch (cause) {
    console.error("request failed outside the pipeline (runtime could not be built?)", cause)
    return startupFailure(requestId)
  }
}
