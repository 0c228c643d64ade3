import { BoundedMap } from "../core/shared/boundedMap.js"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Encoding from "effect/Encoding"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { errors, exportJWK, importJWK, importPKCS8, jwtVerify, SignJWT } from "jose"
import type { PublicJwk } from "../core/services/OidcProvider.js"
import { InvalidAccessKeyId } from "../core/s3/errors.js"
import { Hmac } from "../core/services/Hmac.js"
import { SessionClaims } from "../core/session/SessionClaims.js"
import { ExpiredSessionToken, InvalidSessionToken, SessionKeys, SessionSigningFailed } from "../core/session/SessionKeys.js"
import { memoizeValue } from "./memoizeValue.js"
import { describeCause } from "../core/shared/describeCause.js"
import { normalizeIssuer } from "../core/sts/StsSettings.js"

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
/** `SCSTS` + key version digit + random uppercase alphanumerics (docs/session-credentials.md#access-key-id). */
const ACCESS_KEY_ID = /^SCSTS([0-9])[A-Z0-9]{16,}$/
const KEY_VERSION = "1"
const decodeClaims = Schema.decodeUnknownEither(SessionClaims)
/** How many verified session tokens an isolate remembers. */
const VERIFIED_TOKENS = 2_000

/**
 * Session credentials over jose (ES256, `SESSION_SIGNING_KEY`/`_KID`) and the Hmac capability
 * (`SESSION_TOKEN_KEY`, base64 of 32 bytes, key version 1). Issuer and audience are the proxy's own issuer.
 */
export const JoseSessionKeys = Layer.effect(
  SessionKeys,
  Effect.gen(function*() {
    const hmac = yield* Hmac
    const issuer = normalizeIssuer(yield* Config.string("OIDC_PROVIDER_ISSUER"))
    const kid = (yield* Config.string("SESSION_SIGNING_KID")).trim()
    const signingPem = yield* Config.redacted("SESSION_SIGNING_KEY").pipe(
      Config.validate({ message: "SESSION_SIGNING_KEY is empty", validation: (key) => Redacted.value(key).trim() !== "" })
    )
    const hmacKey = yield* Config.redacted("SESSION_TOKEN_KEY").pipe(
      Config.mapOrFail((raw): Either.Either<Uint8Array<ArrayBuffer>, ConfigError.ConfigError> => {
        const bytes = Encoding.decodeBase64(Redacted.value(raw).trim())
        return Either.isRight(bytes) && bytes.right.length === 32
          ? Either.right(new Uint8Array(bytes.right))
          : Either.left(ConfigError.InvalidData([], "SESSION_TOKEN_KEY must be the base64 of 32 bytes"))
      })
    )

    const privateKey = memoizeValue(Effect.tryPromise({
      try: () => importPKCS8(Redacted.value(signingPem), "ES256", { extractable: true }),
      catch: (cause) => new SessionSigningFailed({ reason: `SESSION_SIGNING_KEY: ${describeCause(cause)}` })
    }))
    const publicJwk = memoizeValue(Effect.flatMap(privateKey, (key) =>
      Effect.tryPromise({
        try: async (): Promise<PublicJwk> => {
          const { crv, x, y } = await exportJWK(key)
          if (crv === undefined || x === undefined || y === undefined) throw new Error("not an EC key")
          return { alg: "ES256", crv, kid, kty: "EC", use: "sig", x, y }
        },
        catch: (cause) => new SessionSigningFailed({ reason: describeCause(cause) })
      })))

    const verifyKey = memoizeValue(Effect.flatMap(publicJwk, (jwk) =>
      Effect.tryPromise({
        try: () => importJWK({ ...jwk }, "ES256"),
        catch: (cause) => new SessionSigningFailed({ reason: describeCause(cause) })
      })))

    /**
     * Tokens whose signature verified, oldest first: finished values only
     * (docs/runtimes.md#no-request-waits-on-another).
     */
    const verified = new BoundedMap<string, SessionClaims>(VERIFIED_TOKENS)

    const secretFor = (accessKeyId: string) => {
      const match = ACCESS_KEY_ID.exec(accessKeyId)
      return match === null || match[1] !== KEY_VERSION
        ? Effect.fail(new InvalidAccessKeyId())
        : Effect.map(hmac.sha256(hmacKey, accessKeyId), (mac) => Encoding.encodeBase64Url(mac))
    }

    const newAccessKeyId = Effect.gen(function*() {
      let id = `SCSTS${KEY_VERSION}`
      for (let i = 0; i < 20; i++) id += ALPHABET[yield* Effect.randomWith((r) => r.nextIntBetween(0, ALPHABET.length))]
      return id
    })

    return SessionKeys.of({
      secretFor,
      issue: Effect.fnUntraced(
        function*({ durationSeconds, ...grant }) {
          const accessKeyId = yield* newAccessKeyId
          const secretAccessKey = yield* Effect.orDie(secretFor(accessKeyId)) // an id made just above always parses
          const now = Math.floor((yield* Clock.currentTimeMillis) / 1000)
          const claims: SessionClaims = {
            ...grant,
            access_key_id: accessKeyId,
            iss: issuer,
            aud: issuer,
            iat: now,
            nbf: now,
            exp: now + durationSeconds,
            jti: crypto.randomUUID()
          }
          const key = yield* privateKey
          const sessionToken = yield* Effect.tryPromise({
            try: () => new SignJWT({ ...claims }).setProtectedHeader({ alg: "ES256", kid, typ: "JWT" }).sign(key),
            catch: (cause) => new SessionSigningFailed({ reason: describeCause(cause) })
          })
          return { accessKeyId, secretAccessKey, sessionToken, claims }
        }),
      verify: Effect.fnUntraced(function*(sessionToken: string) {
        const now = yield* Clock.currentTimeMillis
        // The same token signs many requests: once its signature has verified, only its time window is
        // checked again (the whole token is the key, so a changed byte is a miss).
        const known = verified.get(sessionToken)
        if (known !== undefined) {
          if (now >= known.exp * 1000) return yield* new ExpiredSessionToken()
          if (now >= known.nbf * 1000) return known
        }
        const key = yield* Effect.mapError(verifyKey, (e) => new InvalidSessionToken({ reason: e.reason }))
        const { payload } = yield* Effect.tryPromise({
          try: () =>
            jwtVerify(sessionToken, key, {
              algorithms: ["ES256"],
              issuer,
              audience: issuer,
              currentDate: new Date(now)
            }),
          catch: (cause) =>
            cause instanceof errors.JWTExpired
              ? new ExpiredSessionToken()
              : new InvalidSessionToken({ reason: cause instanceof errors.JOSEError ? cause.code : describeCause(cause) })
        })
        const claims = yield* Either.mapLeft(decodeClaims(payload), () => new InvalidSessionToken({ reason: "claims" }))
        verified.set(sessionToken, claims)
        return claims
      }),
      publicKeys: Effect.map(publicJwk, (key) => [key])
    })
  })
)
