import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { OidcProvider } from "../core/services/OidcProvider.js"
import { API_KEY_IDP, MIN_SESSION_SECONDS, SOURCE_COOP_IDP, StsSettings } from "../core/sts/StsSettings.js"

/** The built-in `_default` Role's maximum session when STS_MAX_SESSION_DURATION_SECS is unset. */
const DEFAULT_MAX_SESSION_SECONDS = 3600

const PlatformIdps = Schema.parseJson(Schema.Array(Schema.Struct({ name: Schema.NonEmptyString, issuer: Schema.NonEmptyString })))

const platformIdps = Config.string("PLATFORM_IDPS").pipe(
  Config.withDefault("[]"),
  Config.mapOrFail((text) =>
    Either.mapLeft(
      Schema.decodeUnknownEither(PlatformIdps)(text.trim() === "" ? "[]" : text),
      () => ConfigError.InvalidData(["PLATFORM_IDPS"], "PLATFORM_IDPS must be a JSON list of {name, issuer}")
    )
  )
)

/** Non-integer → 3600, below 900 → 900, each with a warning (a typo must not lock everyone out). */
const maxSessionSeconds = (raw: Option.Option<string>) => {
  if (Option.isNone(raw) || raw.value.trim() === "") return Effect.succeed(DEFAULT_MAX_SESSION_SECONDS)
  const text = raw.value.trim()
  const n = Number(text)
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n)) {
    return Effect.as(
      Effect.logWarning(`STS_MAX_SESSION_DURATION_SECS is not an integer: using ${DEFAULT_MAX_SESSION_SECONDS}`),
      DEFAULT_MAX_SESSION_SECONDS
    )
  }
  if (n < MIN_SESSION_SECONDS) {
    return Effect.as(
      Effect.logWarning(`STS_MAX_SESSION_DURATION_SECS is below ${MIN_SESSION_SECONDS}: using ${MIN_SESSION_SECONDS}`),
      MIN_SESSION_SECONDS
    )
  }
  return Effect.succeed(n)
}

export const StsSettingsLive = Layer.effect(
  StsSettings,
  Effect.gen(function*() {
    const oidc = yield* OidcProvider
    const authIssuer = yield* Config.option(Config.string("AUTH_ISSUER")).pipe(
      Config.map(Option.filter((issuer) => issuer.trim() !== ""))
    )
    const authAudiences = yield* Config.string("AUTH_AUDIENCE").pipe(
      Config.withDefault(""),
      Config.map((text) => text.split(",").map((a) => a.trim()).filter((a) => a !== ""))
    )
    const extra = yield* platformIdps
    const defaultMaxSessionSeconds = yield* maxSessionSeconds(
      yield* Config.option(Config.string("STS_MAX_SESSION_DURATION_SECS"))
    )
    const idps = new Map<string, string>()
    if (Option.isSome(authIssuer)) idps.set(SOURCE_COOP_IDP, authIssuer.value.trim())
    idps.set(API_KEY_IDP, oidc.issuer)
    for (const { name, issuer } of extra) {
      if (idps.has(name)) {
        return yield* Effect.fail(ConfigError.InvalidData(["PLATFORM_IDPS"], `PLATFORM_IDPS: the IdP name ${name} is taken`))
      }
      idps.set(name, issuer.trim())
    }
    if (Option.isSome(authIssuer) && authAudiences.length === 0) {
      yield* Effect.logWarning("AUTH_AUDIENCE is not set: the source-coop IdP accepts no token")
    }
    return StsSettings.of({ idps, authAudiences, proxyIssuer: oidc.issuer, defaultMaxSessionSeconds })
  })
)
