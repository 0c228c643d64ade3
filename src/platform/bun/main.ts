import { resolve } from "node:path"
import type * as ConfigError from "effect/ConfigError"
import * as Layer from "effect/Layer"
import * as LogLevel from "effect/LogLevel"
import * as ManagedRuntime from "effect/ManagedRuntime"
import type { AppServices } from "../../core/pipeline.js"
import { minimumLogLevel } from "../../layers/logLevel.js"
import { answer, randomRequestId } from "../web.js"
import { DEV_IDP_FILE, devIdp, type DevIdp } from "./devIdp.js"
import { DEV_KEYS_FILE, devOrigin, ensureDevKeys } from "./devKeys.js"
import { listen } from "./httpServer.js"
import { BunServices, DEFAULT_REVOCATIONS_DB } from "./live.js"
import { DEFAULT_CATALOG, loadCatalogFile } from "./localCatalog.js"

const env = process.env
const hostname = env.HOST ?? "127.0.0.1"
const useSourceApi = (env.SOURCE_API_URL ?? "").trim() !== ""

const catalogPath = resolve(env.CATALOG ?? DEFAULT_CATALOG)
const local = useSourceApi ? undefined : await loadCatalogFile(catalogPath).catch((cause: unknown) => {
  console.error(`cannot load the catalog file ${catalogPath}: ${String(cause)}`)
  process.exit(1)
})

/** Filled in once the port is known and the services are built; requests before that are told to retry. */
const started: { runtime?: ManagedRuntime.ManagedRuntime<AppServices, ConfigError.ConfigError>; idp?: DevIdp } = {}

// Listening first, so the issuers below name the port actually bound (PORT=0 picks a free one). Nothing is
// answered before the services are built: the address is announced only then.
const server = await listen({
  port: Number(env.PORT ?? 8787),
  hostname,
  idleTimeoutSeconds: 120,
  // Bodies stream through, so the only bound is S3's own: 5 GiB for one PUT or part.
  maxRequestBodySize: 5 * 1024 ** 3,
  fetch: (request) =>
    started.idp?.answer(request)
      ?? (started.runtime === undefined
        ? new Response("starting", { status: 503, headers: { "retry-after": "1" } })
        : answer(started.runtime, request, randomRequestId))
})

const origin = devOrigin(env, server.port)
await ensureDevKeys(env, origin, env.DEV_KEYS ?? DEV_KEYS_FILE)
if (local !== undefined && (env.AUTH_ISSUER ?? "").trim() === "") {
  // The embedded default's users sign in at its own dev IdP (`bun run login`), as production users at AUTH_ISSUER.
  const idp = await devIdp(origin, env.DEV_IDP_KEYS ?? DEV_IDP_FILE)
  env.AUTH_ISSUER = idp.issuer
  env.AUTH_AUDIENCE ||= idp.audience
  started.idp = idp
}

const built = ManagedRuntime.make(
  BunServices(local, env.REVOCATIONS_DB ?? DEFAULT_REVOCATIONS_DB).pipe(Layer.provide(minimumLogLevel(env.LOG_LEVEL, LogLevel.Info)))
)
// Build the services now, so a bad setting stops the process with its reason instead of failing requests.
await built.runtime().catch((cause: unknown) => {
  console.error(`invalid configuration: ${String(cause)}`)
  process.exit(1)
})
started.runtime = built

const listening = `http://${server.hostname}:${server.port}`
console.log(`Source Data Proxy listening on ${listening}; catalog: ${useSourceApi ? env.SOURCE_API_URL : catalogPath}`)
if (local !== undefined) {
  const sample = local.document.products[0]
  if (sample !== undefined) {
    console.log(`  try: aws s3 ls --no-sign-request --endpoint-url ${listening} s3://${sample.account_id}/${sample.product_id}/`)
  }
  if (started.idp !== undefined && (local.document.users ?? []).length > 0) {
    console.log(`  sign in: bun run login ${local.document.users![0]} (users: ${local.document.users!.join(", ")}; see README)`)
  }
}

const stop = () => {
  server.stop()
  void built.dispose().finally(() => process.exit(0))
}
process.on("SIGINT", stop)
process.on("SIGTERM", stop)
