import { resolve } from "node:path"
import { Layer, LogLevel, ManagedRuntime } from "effect"
import { minimumLogLevel } from "../../layers/logLevel.js"
import { serve } from "../web.js"
import { DEV_KEYS_FILE, ensureDevKeys } from "./devKeys.js"
import { BunPlatform, BunServices, DEFAULT_REVOCATIONS_DB } from "./live.js"
import { DEFAULT_CATALOG, loadCatalogFile } from "./localCatalog.js"

const env = process.env
const port = Number(env.PORT ?? 8787)
const hostname = env.HOST ?? "127.0.0.1"
const useSourceApi = (env.SOURCE_API_URL ?? "").trim() !== ""

await ensureDevKeys(env, `http://${hostname === "0.0.0.0" ? "127.0.0.1" : hostname}:${port}`, env.DEV_KEYS ?? DEV_KEYS_FILE)

const catalogPath = resolve(env.CATALOG ?? DEFAULT_CATALOG)
const local = useSourceApi ? undefined : await loadCatalogFile(catalogPath).catch((cause: unknown) => {
  console.error(`cannot load the catalog file ${catalogPath}: ${String(cause)}`)
  process.exit(1)
})

const runtime = ManagedRuntime.make(
  BunServices(local, env.REVOCATIONS_DB ?? DEFAULT_REVOCATIONS_DB).pipe(Layer.provideMerge(BunPlatform), Layer.provide(minimumLogLevel(env.LOG_LEVEL, LogLevel.Info)))
)
// Build the services now, so a bad setting stops the process with its reason instead of failing requests.
await runtime.runtime().catch((cause: unknown) => {
  console.error(`invalid configuration: ${String(cause)}`)
  process.exit(1)
})

const server = Bun.serve({
  port,
  hostname,
  idleTimeout: 120,
  // Bodies stream through, so the only bound is S3's own: 5 GiB for one PUT or part (Bun's default is 128 MiB).
  maxRequestBodySize: 5 * 1024 ** 3,
  fetch: (request) => serve(runtime, request)
})

const origin = `http://${server.hostname}:${server.port}`
console.log(`Source Data Proxy listening on ${origin}; catalog: ${useSourceApi ? env.SOURCE_API_URL : catalogPath}`)
if (local !== undefined) {
  const sample = local.document.products[0]
  if (sample !== undefined) {
    console.log(`  try: aws s3 ls --no-sign-request --endpoint-url ${origin} s3://${sample.account_id}/${sample.product_id}/`)
  }
}

const stop = () => {
  server.stop(true)
  void runtime.dispose().finally(() => process.exit(0))
}
process.on("SIGINT", stop)
process.on("SIGTERM", stop)
