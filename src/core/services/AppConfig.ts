import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
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

/**
 * Settings read once per isolate/process from the environment (docs/runtimes.md#configuration), never per request.
 */
export class AppConfig extends Context.Tag("sdp/AppConfig")<AppConfig, AppSettings>() {}
