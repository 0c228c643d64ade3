/**
 * Section 8's yardstick: the least a Worker can do, passOn.ts as a module Worker with the upstream in its
 * `UPSTREAM` binding. Its CPU per request in workerd is the platform's part of the proxy's (the HTTP server, the
 * subrequest, the isolate's entry); the proxy's cost above it is ours. A request with `x-bench-kv` reads one key
 * of the `REVOCATIONS` KV namespace first, as a signed request does: what Miniflare's simulated KV adds.
 */
import { passOn } from "./passOn.js"

interface Env {
  readonly UPSTREAM: string
  readonly REVOCATIONS: { readonly get: (key: string) => Promise<string | null> }
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    if (request.headers.has("x-bench-kv")) await env.REVOCATIONS.get("revoked:bench")
    const { status, headers, body } = await passOn(env.UPSTREAM, request)
    return new Response(body, { status, headers })
  }
}
