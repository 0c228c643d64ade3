import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { AppConfig } from "../../core/services/AppConfig.js"
import { AppConfigLive } from "../../layers/AppConfigLive.js"
import { appLayer } from "../../layers/appLayer.js"
import { FetchUpstream } from "../../layers/FetchUpstream.js"
import { minimumLogLevel } from "../../layers/logLevel.js"
import { RemoteStorage } from "../../layers/RemoteStorage.js"
import { SourceApiCatalog } from "../../layers/SourceApiCatalog.js"
import { WebCryptoHmac } from "../../layers/WebCryptoHmac.js"
import { JsonLinesLogger } from "../../layers/jsonLogger.js"
import { cfRayRequestId, type DeclareLength, serve } from "../web.js"
import { AnalyticsEngine } from "./AnalyticsEngine.js"
import { CacheApiEdgeCache } from "./CacheApiEdgeCache.js"
import { type KvNamespace, KvRevocations } from "./KvRevocations.js"

type Env = Readonly<Record<string, unknown>>

/** Plain-text vars and secrets of the Worker env, as the config source (bindings are not strings). */
const stringVars = (env: Env) =>
  new Map(Object.entries(env).flatMap(([name, value]) => (typeof value === "string" ? [[name, value] as const] : [])))

/** workerd's FixedLengthStream global (not in the DOM types). */
const fixedLengthStream = () =>
  (globalThis as unknown as { FixedLengthStream?: new (length: number) => TransformStream<Uint8Array, Uint8Array> })
    .FixedLengthStream

/** workerd sends a script's stream chunked unless it passes through a FixedLengthStream. */
const declareLength: DeclareLength = (body, length) => {
  const Fixed = fixedLengthStream()
  return Fixed === undefined ? body : body.pipeThrough(new Fixed(length))
}

/** A KV namespace binding, or undefined when the binding is missing (then signed requests are refused). */
const kvNamespaceOf = (binding: unknown): KvNamespace | undefined =>
  typeof binding === "object" && binding !== null && "get" in binding && "put" in binding
    ? (binding as KvNamespace)
    : undefined

/** Production has no embedded catalog: without SOURCE_API_URL every request answers 500 and logs why. */
const RequireSourceApi = Layer.effectDiscard(
  Effect.flatMap(AppConfig, (config) =>
    config.sourceApiUrl._tag === "Some" ? Effect.void : Effect.dieMessage("SOURCE_API_URL is not set"))
)

const WorkersLive = (env: Env) => {
  const vars = stringVars(env)
  return Layer.mergeAll(
    appLayer({
      catalog: Layer.merge(SourceApiCatalog, RequireSourceApi),
      storage: RemoteStorage,
      revocations: KvRevocations(kvNamespaceOf(env.REVOCATIONS)),
      platform: Layer.mergeAll(
        AppConfigLive,
        FetchUpstream({ supportsCacheOption: true, keepEncodedBodies: false, fixedLengthStreams: fixedLengthStream() }),
        CacheApiEdgeCache,
        WebCryptoHmac
      )
    }),
    AnalyticsEngine(env.ANALYTICS, env.PUBLIC_LOG_STREAM)
  ).pipe(
    Layer.provide(minimumLogLevel(vars.get("LOG_LEVEL"))),
    Layer.provide(JsonLinesLogger),
    Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(vars)))
  )
}

type WorkersServices = Layer.Layer.Success<ReturnType<typeof WorkersLive>>
type WorkersError = Layer.Layer.Error<ReturnType<typeof WorkersLive>>

/** Built once per isolate, on the first request, from env alone (no I/O while building). */
let runtime: ManagedRuntime.ManagedRuntime<WorkersServices, WorkersError> | undefined

/** The part of the Workers ExecutionContext the Worker uses. */
interface ExecutionContext {
  waitUntil(work: Promise<unknown>): void
}

export default {
  fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    runtime ??= ManagedRuntime.make(WorkersLive(env))
    return serve(runtime, request, cfRayRequestId, (work) => ctx.waitUntil(work), declareLength)
  }
}
