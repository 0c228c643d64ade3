/**
 * Section 8's yardstick: the least a Worker can do, passOn.ts as a module Worker with the upstream in its
 * `UPSTREAM` binding. Its CPU per request in workerd is the platform's part of the proxy's (the HTTP server, the
 * subrequest, the isolate's entry); the proxy's cost above it is ours.
 */
import { passOn } from "./passOn.js"

export default {
  async fetch(request: Request, env: { readonly UPSTREAM: string }): Promise<Response> {
    const { status, headers, body } = await passOn(env.UPSTREAM, request)
    return new Response(body, { status, headers })
  }
}
