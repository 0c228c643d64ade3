import { resolve } from "node:path"
import { Effect, Layer, LogLevel, ManagedRuntime } from "effect"
import { Storage } from "../../core/backends/ObjectStore.js"
import { storageOf } from "../../core/backends/Storage.js"
import { AppConfigLive } from "../../core/services/AppConfig.js"
import { FetchUpstream } from "../../layers/FetchUpstream.js"
import { LocalCatalog } from "../../layers/LocalCatalog.js"
import { minimumLogLevel } from "../../layers/logLevel.js"
import { MemoryEdgeCache } from "../../layers/MemoryEdgeCache.js"
import { RemoteProviders } from "../../layers/RemoteStorage.js"
import { SourceApiCatalog } from "../../layers/SourceApiCatalog.js"
import { serve } from "../web.js"
import { DEFAULT_CATALOG, loadCatalogFile } from "./localCatalog.js"
import { LocalDirectoryProvider } from "./LocalDirectoryStore.js"

const env = process.env
const port = Number(env.PORT ?? 8787)
const hostname = env.HOST ?? "127.0.0.1"
const useSourceApi = (env.SOURCE_API_URL ?? "").trim() !== ""

const catalogPath = resolve(env.CATALOG ?? DEFAULT_CATALOG)
const local = useSourceApi ? undefined : await loadCatalogFile(catalogPath).catch((cause: unknown) => {
  console.error(`cannot load the catalog file ${catalogPath}: ${String(cause)}`)
  process.exit(1)
})

const BunStorage = Layer.effect(
  Storage,
  Effect.map(RemoteProviders, (remote) =>
    storageOf(local === undefined ? remote : { ...remote, local: LocalDirectoryProvider(local.directory) }))
)

const Platform = Layer.mergeAll(AppConfigLive, FetchUpstream({ supportsCacheOption: false, keepEncodedBodies: true }), MemoryEdgeCache(10_000))

const BunLive = Layer.mergeAll(
  local === undefined ? SourceApiCatalog : LocalCatalog(local.document),
  BunStorage
).pipe(Layer.provide(Platform), Layer.provide(minimumLogLevel(env.LOG_LEVEL, LogLevel.Info)))

const runtime = ManagedRuntime.make(BunLive)
// Build the services now, so a bad setting stops the process with its reason instead of failing requests.
await runtime.runtime().catch((cause: unknown) => {
  console.error(`invalid configuration: ${String(cause)}`)
  process.exit(1)
})

const server = Bun.serve({
  port,
  hostname,
  idleTimeout: 120,
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
