import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { AppConfig, type AppSettings, type ChunkCacheSettings, DEFAULT_CHUNK_CACHE } from "../core/services/AppConfig.js"

const millis = (name: string, fallback: number) =>
  Config.integer(name).pipe(Config.withDefault(fallback), Config.map(Duration.millis))

const seconds = (name: string, fallback: Duration.Duration) =>
  Config.integer(name).pipe(Config.withDefault(Duration.toSeconds(fallback)), Config.validate({ message: `${name} must be at least 1`, validation: (n) => n >= 1 }),
    Config.map(Duration.seconds))

/** The chunk cache's settings (docs/caching.md#the-chunk-cache): on unless `CHUNK_CACHE=false`. */
const chunkCache: Config.Config<Option.Option<ChunkCacheSettings>> = Config.all({
  enabled: Config.boolean("CHUNK_CACHE").pipe(Config.withDefault(true)),
  chunkSize: Config.integer("CHUNK_CACHE_CHUNK_BYTES").pipe(
    Config.withDefault(DEFAULT_CHUNK_CACHE.chunkSize),
    // Below 64 KiB the per-chunk cost dominates; above 64 MiB a chunk outgrows a Worker isolate's memory.
    Config.validate({ message: "CHUNK_CACHE_CHUNK_BYTES must be between 65536 and 67108864", validation: (n) => n >= 65_536 && n <= 67_108_864 })
  ),
  ttl: seconds("CHUNK_CACHE_TTL_S", DEFAULT_CHUNK_CACHE.ttl),
  metaTtl: seconds("CHUNK_CACHE_META_TTL_S", DEFAULT_CHUNK_CACHE.metaTtl),
  maxChunks: Config.integer("CHUNK_CACHE_MAX_CHUNKS").pipe(
    Config.withDefault(DEFAULT_CHUNK_CACHE.maxChunks),
    Config.validate({ message: "CHUNK_CACHE_MAX_CHUNKS must be between 1 and 16", validation: (n) => n >= 1 && n <= 16 })
  )
}).pipe(Config.map(({ enabled, ...settings }) => enabled ? Option.some(settings) : Option.none()))

/** What a shell assumes where a variable is unset and the shells differ. */
export interface ShellDefaults {
  readonly allowPrivateEndpoints: boolean
}

export const appConfigFrom = (defaults: ShellDefaults) => Layer.effect(
  AppConfig,
  Effect.map(
    Config.all({
      sourceApiUrl: Config.option(Config.string("SOURCE_API_URL")).pipe(
        Config.map(Option.filter((url) => url.trim() !== "")),
        Config.map(Option.map((url) => url.trim().replace(/\/+$/, "")))
      ),
      sourceApiTimeout: millis("SOURCE_API_TIMEOUT_MS", 5_000),
      backendTimeout: millis("BACKEND_TIMEOUT_MS", 15_000),
      awsStsEndpoint: Config.string("AWS_STS_ENDPOINT").pipe(
        Config.withDefault("https://sts.amazonaws.com"),
        Config.map((url) => url.trim().replace(/\/+$/, ""))
      ),
      federationTimeout: millis("FEDERATION_TIMEOUT_MS", 10_000),
      allowPrivateEndpoints: Config.boolean("ALLOW_PRIVATE_ENDPOINTS").pipe(Config.withDefault(defaults.allowPrivateEndpoints)),
      chunkCache
    }),
    (settings): AppSettings => settings
  )
)

/** Production defaults (Workers): connection endpoints on private networks are refused. */
export const AppConfigLive = appConfigFrom({ allowPrivateEndpoints: false })
