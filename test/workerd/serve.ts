/**
 * Runs the built Worker bundle in workerd through Miniflare, under Bun (miniflare 4 needs Node ≥ 22; the
 * tests run on Node 20 and spawn this script). Usage:
 *
 *   SDP_WORKERD_BINDINGS='{"SOURCE_API_URL":"http://127.0.0.1:1234"}' bun test/workerd/serve.ts <main.js> <compatibility date>
 *
 * Prints `READY <url>` on stdout once workerd listens on 127.0.0.1 (a free port), then serves until
 * SIGTERM/SIGINT or until its stdin closes (the parent died), and disposes workerd before exiting.
 * SDP_WORKERD_CACHE_PERSIST=<dir> keeps the Cache API on disk (default: in memory, per process).
 * SDP_WORKERD_TELEMETRY binds ANALYTICS and PUBLIC_LOG_STREAM (wrangler.toml): `miniflare` with Miniflare's own
 * Analytics Engine (which keeps nothing), `record` with a dataset that prints each data point as a line
 * `ANALYTICS <json>`; with either, the log stream prints each call as `PUBLIC_LOG_STREAM <method> <url> <body>`.
 * SDP_WORKERD_INSPECTOR_PORT=<port> opens workerd's V8 inspector there (bench/workerdProfile.ts takes CPU profiles).
 */
import { Log, LogLevel, Miniflare, type Request as MiniflareRequest, Response as MiniflareResponse, type WorkerOptions } from "miniflare"

const [scriptPath, compatibilityDate, flags] = process.argv.slice(2)
if (scriptPath === undefined || compatibilityDate === undefined) {
  console.error("usage: bun test/workerd/serve.ts <main.js> <compatibility date> [<compatibility flags, JSON>]")
  process.exit(2)
}
const compatibilityFlags = JSON.parse(flags ?? "[]") as Array<string>
const bindings = JSON.parse(process.env.SDP_WORKERD_BINDINGS ?? "{}") as Record<string, string>
/** A directory for the Cache API's entries, so that a later workerd (a fresh isolate) finds them. */
const cachePersist = process.env.SDP_WORKERD_CACHE_PERSIST
const telemetry = process.env.SDP_WORKERD_TELEMETRY ?? ""
const inspectorPort = Number(process.env.SDP_WORKERD_INSPECTOR_PORT ?? "")

/** A wrapped binding with the Analytics Engine dataset's method, run inside the Worker's isolate. */
const RECORDER = `export default function () {
  return { writeDataPoint(point) { console.log("ANALYTICS " + JSON.stringify(point)) } }
}`

const telemetryBindings: WorkerOptions = telemetry === ""
  ? {}
  : {
    ...(telemetry === "record"
      ? { wrappedBindings: { ANALYTICS: "analytics-recorder" } }
      : { analyticsEngineDatasets: { ANALYTICS: { dataset: "source_data_proxy_test" } } }),
    serviceBindings: {
      PUBLIC_LOG_STREAM: async (request: MiniflareRequest) => {
        process.stdout.write(`PUBLIC_LOG_STREAM ${request.method} ${request.url} ${await request.text()}\n`)
        return new MiniflareResponse(null, { status: 204 })
      }
    }
  }

const mf = new Miniflare({
  workers: [
    {
      name: "proxy",
      modules: true,
      scriptPath,
      compatibilityDate,
      compatibilityFlags,
      bindings,
      // The jti deny-list binding (wrangler.toml), in Miniflare's in-memory KV.
      kvNamespaces: ["REVOCATIONS"],
      ...telemetryBindings
    },
    ...(telemetry === "record" ? [{ name: "analytics-recorder", modules: true, script: RECORDER }] : [])
  ],
  host: "127.0.0.1",
  port: 0,
  // Never fetch the Request.cf placeholder from the internet: the tests run on loopback only.
  cf: false,
  ...(cachePersist === undefined || cachePersist === "" ? {} : { cachePersist }),
  ...(inspectorPort > 0 ? { inspectorPort, inspectorHost: "127.0.0.1" } : {}),
  // The Worker's own console output is always forwarded; this is Miniflare's own log.
  log: new Log(LogLevel.WARN)
})

let stopping: Promise<void> | undefined
const stop = (code: number) => {
  stopping ??= mf.dispose().catch(() => undefined).then(() => process.exit(code))
  return stopping
}
process.on("SIGTERM", () => void stop(0))
process.on("SIGINT", () => void stop(0))
process.stdin.on("end", () => void stop(0))
process.stdin.on("close", () => void stop(0))
process.stdin.resume()

try {
  const url = await mf.ready
  process.stdout.write(`READY ${url.origin}\n`)
} catch (cause) {
  console.error("workerd did not start:", cause)
  await stop(1)
}
