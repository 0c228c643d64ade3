import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { exportJWK, importPKCS8, SignJWT } from "jose"
import { OidcProvider, type PublicJwk, SigningFailed } from "../core/services/OidcProvider.js"
import { memoizeValue } from "./memoizeValue.js"
import { describeCause } from "../core/shared/describeCause.js"
import { normalizeIssuer } from "../core/sts/StsSettings.js"


/** Public half of an RSA key, members in the order the Rust proxy writes them. */
const publicJwk = async (key: CryptoKey, kid: string): Promise<PublicJwk> => {
  const { n, e } = await exportJWK(key)
  if (n === undefined || e === undefined) throw new Error("not an RSA key")
  return { alg: "RS256", e, kid, kty: "RSA", n, use: "sig" }
}

/**
 * The OIDC provider over jose with `OIDC_PROVIDER_*` (PKCS#8 RSA PEM). Keys are imported on first use and
 * kept as finished values for the isolate (memoizeValue).
 */
export const JoseOidcProvider = Layer.effect(
  OidcProvider,
  Effect.gen(function*() {
    const issuer = normalizeIssuer(yield* Config.string("OIDC_PROVIDER_ISSUER"))
    const kid = (yield* Config.string("OIDC_PROVIDER_KID")).trim()
    const pem = yield* Config.redacted("OIDC_PROVIDER_KEY").pipe(
      Config.validate({ message: "OIDC_PROVIDER_KEY is empty", validation: (key) => Redacted.value(key).trim() !== "" })
    )
    const previousKid = yield* Config.option(Config.string("OIDC_PROVIDER_KID_PREVIOUS"))
    const previousPem = yield* Config.option(Config.redacted("OIDC_PROVIDER_KEY_PREVIOUS"))
    if (Option.isSome(previousPem) && Option.isNone(previousKid)) {
      yield* Effect.logWarning("OIDC_PROVIDER_KEY_PREVIOUS is set without OIDC_PROVIDER_KID_PREVIOUS: it is not published")
    }

    const activeKey = memoizeValue(Effect.tryPromise({
      try: () => importPKCS8(Redacted.value(pem), "RS256", { extractable: true }),
      catch: (cause) => new SigningFailed({ reason: `OIDC_PROVIDER_KEY: ${describeCause(cause)}` })
    }))

    const previousJwk = Option.isSome(previousPem) && Option.isSome(previousKid)
      ? Effect.tryPromise(async () =>
        publicJwk(await importPKCS8(Redacted.value(previousPem.value), "RS256", { extractable: true }), previousKid.value)
      ).pipe(
        Effect.map(Option.some),
        Effect.catchAll((cause) =>
          Effect.as(Effect.logWarning("OIDC_PROVIDER_KEY_PREVIOUS does not parse: it is not published", cause), Option.none())
        )
      )
      : Effect.succeed(Option.none<PublicJwk>())

    return OidcProvider.of({
      issuer,
      sign: Effect.fnUntraced(
        function*({ sub, aud, ttlSeconds, extra }) {
          const key = yield* activeKey
          const now = Math.floor((yield* Clock.currentTimeMillis) / 1000)
          return yield* Effect.tryPromise({
            try: () =>
              new SignJWT({ ...extra })
                .setProtectedHeader({ alg: "RS256", kid, typ: "JWT" })
                .setIssuer(issuer)
                .setSubject(sub)
                .setAudience(aud)
                .setIssuedAt(now)
                .setNotBefore(now)
                .setExpirationTime(now + ttlSeconds)
                .setJti(crypto.randomUUID())
                .sign(key),
            catch: (cause) => new SigningFailed({ reason: describeCause(cause) })
          })
        }),
      publicKeys: memoizeValue(Effect.gen(function*() {
        const key = yield* activeKey
        const current = yield* Effect.tryPromise({
          try: () => publicJwk(key, kid),
          catch: (cause) => new SigningFailed({ reason: describeCause(cause) })
        })
        return [current, ...Option.toArray(yield* previousJwk)]
      }))
    })
  })
)
