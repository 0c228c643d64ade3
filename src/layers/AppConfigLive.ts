import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { AppConfig, type AppSettings } from "../core/services/AppConfig.js"

const millis = (name: string, fallback: number) =>
  Config.integer(name).pipe(Config.withDefault(fallback), Config.map(Duration.millis))

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
      allowPrivateEndpoints: Config.boolean("ALLOW_PRIVATE_ENDPOINTS").pipe(Config.withDefault(defaults.allowPrivateEndpoints))
    }),
    (settings): AppSettings => settings
  )
)

/** Production defaults (Workers): connection endpoints on private networks are refused. */
export const AppConfigLive = appConfigFrom({ allowPrivateEndpoints: false })
