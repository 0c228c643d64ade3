import { Config, Context, Duration, Effect, Layer, Option } from "effect"

export interface AppSettings {
  /** Unset under `bun run dev`: the embedded catalog is used instead. */
  readonly sourceApiUrl: Option.Option<string>
  readonly sourceApiTimeout: Duration.Duration
  readonly backendTimeout: Duration.Duration
  /** Where outbound federation calls AssumeRoleWithWebIdentity. */
  readonly awsStsEndpoint: string
  readonly federationTimeout: Duration.Duration
}

/** Settings read once per isolate/process from the environment (TARGET §1), never per request. */
export class AppConfig extends Context.Tag("sdp/AppConfig")<AppConfig, AppSettings>() {}

const millis = (name: string, fallback: number) =>
  Config.integer(name).pipe(Config.withDefault(fallback), Config.map(Duration.millis))

export const AppConfigLive = Layer.effect(
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
      federationTimeout: millis("FEDERATION_TIMEOUT_MS", 10_000)
    }),
    (settings): AppSettings => settings
  )
)
