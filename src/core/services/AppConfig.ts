import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"

export interface AppSettings {
  /** Unset under `bun run dev`: the embedded catalog is used instead. */
  readonly sourceApiUrl: Option.Option<string>
  readonly sourceApiTimeout: Duration.Duration
  readonly backendTimeout: Duration.Duration
  /** Where outbound federation calls AssumeRoleWithWebIdentity. */
  readonly awsStsEndpoint: string
  readonly federationTimeout: Duration.Duration
  /** Whether data connection endpoints may be loopback or private addresses (local backends in development). */
  readonly allowPrivateEndpoints: boolean
}

/** Settings read once per isolate/process from the environment (TARGET §1), never per request. */
export class AppConfig extends Context.Tag("sdp/AppConfig")<AppConfig, AppSettings>() {}

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
