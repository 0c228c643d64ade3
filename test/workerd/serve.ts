/**
 * Runs the built Worker bundle in workerd through Miniflare, under Bun (miniflare 4 needs Node ≥ 22; the
 * tests run on Node 20 and spawn this script). Usage:
 *
 *   SDP_WORKERD_BINDINGS='{"SOURCE_API_URL":"http://127.0.0.1:1234"}' bun test/workerd/serve.ts <main.js> <compatibility date>
 *
 * Prints `READY <url>` on stdout once workerd listens on 127.0.0.1 (a free port), then serves until
 * SIGTERM/SIGINT or until its stdin closes (the parent died), and disposes workerd before exiting.
 * SDP_WORKERD_CACHE_PERSIST=<dir> keeps the Cache API on disk (default: in memory, per process).
 */
import { Log, LogLevel, Miniflare } from "miniflare"

const [scriptPath, compatibilityDate] = process.argv.slice(2)
if (scriptPath === undefined || compatibilityDate === undefined) {
  console.error("usage: bun test/workerd/serve.ts <main.js> <compatibility date>")
  process.exit(2)
}
const bindings = JSON.parse(process.env.SDP_WORKERD_BINDINGS ?? "{}") as Record<string, string>
/** A directory for the Cache API's entries, so that a later workerd (a fresh isolate) finds them. */
const cachePersist = process.env.SDP_WORKERD_CACHE_PERSIST

const mf = new Miniflare({
  modules: true,
  scriptPath,
  compatibilityDate,
  bindings,
  // The jti deny-list binding (wrangler.toml), in Miniflare's in-memory KV.
  kvNamespaces: ["REVOCATIONS"],
  host: "127.0.0.1",
  port: 0,
  // Never fetch the Request.cf placeholder from the internet: the tests run on loopback only.
  cf: false,
  ...(cachePersist === undefined || cachePersist === "" ? {} : { cachePersist }),
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
