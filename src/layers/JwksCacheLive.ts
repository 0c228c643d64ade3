import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type { JSONWebKeySet } from "jose"
import { readBounded } from "../core/http/readBounded.js"
import { Upstream } from "../core/services/Upstream.js"
import { IDPCommunicationError, StsInternalFailure } from "../core/sts/errors.js"
import { JWKS_FETCH_TIMEOUT, JWKS_MAX_BYTES, JWKS_STALE, JWKS_TTL, JwksCache, UNKNOWN_KID_INTERVAL, isAllowedIssuerUrl } from "../core/sts/JwksCache.js"
import { normalizeIssuer } from "../core/sts/StsSettings.js"
import { OidcProvider } from "../core/services/OidcProvider.js"
import { discardBody } from "../core/http/discard.js"

/** While one request renews an expired entry, others serve the stale copy for up to this long. */
const RENEWAL_CLAIM = Duration.seconds(10)

interface Entry {
  readonly jwks: JSONWebKeySet
  readonly fetchedAt: number
  /** When a request took on renewing this (expired) entry; a finished timestamp, never a promise. */
  renewingSince: number | undefined
}

const isJwks = (value: unknown): value is JSONWebKeySet =>
  typeof value === "object" && value !== null && Array.isArray((value as { keys?: unknown }).keys)
  && (value as { keys: Array<unknown> }).keys.every((k) => typeof k === "object" && k !== null && !Array.isArray(k))

export const JwksCacheLive = Layer.effect(
  JwksCache,
  Effect.gen(function*() {
    const upstream = yield* Upstream
    const oidc = yield* OidcProvider
    const ownIssuer = normalizeIssuer(oidc.issuer)
    const entries = new Map<string, Entry>()
    const forcedAt = new Map<string, number>()
    const ttl = Duration.toMillis(JWKS_TTL)
    const staleFor = Duration.toMillis(JWKS_STALE)
    const claimFor = Duration.toMillis(RENEWAL_CLAIM)
    const kidInterval = Duration.toMillis(UNKNOWN_KID_INTERVAL)

    const getJson = Effect.fnUntraced(
      function*(issuer: string, url: string) {
        const fail = (reason: string) => new IDPCommunicationError({ issuer, reason: `${reason} (${url})` })
        const response = yield* upstream.fetch({
          method: "GET",
          url,
          headers: new Headers({ accept: "application/json" }),
          timeout: JWKS_FETCH_TIMEOUT
        }).pipe(Effect.mapError((f) => fail(`${f.reason}: ${f.detail}`)))
        if (response.status !== 200 || response.body === null) {
          yield* discardBody(response.body)
          return yield* fail(`status ${response.status}`)
        }
        const bytes = yield* readBounded(response.body, JWKS_MAX_BYTES).pipe(
          Effect.mapError((e) => fail(e._tag === "BodyTooLarge" ? `larger than ${e.limit} bytes` : e.reason))
        )
        return yield* Effect.try({
          try: () => JSON.parse(new TextDecoder().decode(bytes)) as unknown,
          catch: () => fail("not JSON")
        })
      },
      (effect, issuer, url) =>
        Effect.timeoutFail(effect, {
          duration: JWKS_FETCH_TIMEOUT,
          onTimeout: () => new IDPCommunicationError({ issuer, reason: `no complete answer in time (${url})` })
        })
    )

    /** Discovery's `jwks_uri`; it must be https (or loopback http). */
    const discoveredJwksUri = (issuer: string, base: string) =>
      Effect.flatMap(getJson(issuer, `${base}/.well-known/openid-configuration`), (discovery) => {
        const jwksUri = typeof discovery === "object" && discovery !== null
          ? (discovery as { jwks_uri?: unknown }).jwks_uri
          : undefined
        return typeof jwksUri === "string" && isAllowedIssuerUrl(jwksUri)
          ? Effect.succeed(jwksUri)
          : Effect.fail(new IDPCommunicationError({ issuer, reason: "discovery document has no usable jwks_uri" }))
      })

    /** The given `jwks_uri`, or discovery's, → JWKS; both URLs must be https (or loopback http). */
    const fetchJwks = Effect.fnUntraced(function*(issuer: string, given: string | undefined) {
      const base = normalizeIssuer(issuer)
      if (!isAllowedIssuerUrl(base)) return yield* new IDPCommunicationError({ issuer, reason: "issuer is not https" })
      if (given !== undefined && !isAllowedIssuerUrl(given)) {
        return yield* new IDPCommunicationError({ issuer, reason: "jwks_uri is not https" })
      }
      const jwksUri = given ?? (yield* discoveredJwksUri(issuer, base))
      const jwks = yield* getJson(issuer, jwksUri)
      if (!isJwks(jwks)) return yield* new IDPCommunicationError({ issuer, reason: "not a JWK set" })
      return jwks
    })

    /** One cache entry per key source: the issuer (discovery), or the issuer with its registered `jwks_uri`. */
    const sourceOf = (issuer: string, jwksUri: string | undefined) => {
      const id = normalizeIssuer(issuer)
      return jwksUri === undefined ? id : `${id} ${jwksUri}`
    }

    const store = (issuer: string, jwks: JSONWebKeySet, now: number) =>
      void entries.set(issuer, { jwks, fetchedAt: now, renewingSince: undefined })

    const ownKeys = Effect.map(oidc.publicKeys, (keys): JSONWebKeySet => ({ keys: keys.map((k) => ({ ...k })) })).pipe(
      Effect.mapError((e) => new StsInternalFailure({ reason: `own keys: ${e.reason}` }))
    )

    const keys = Effect.fnUntraced(function*(issuer: string, jwksUri?: string) {
      if (normalizeIssuer(issuer) === ownIssuer) return yield* ownKeys
      const id = sourceOf(issuer, jwksUri)
      const now = yield* Clock.currentTimeMillis
      const entry = entries.get(id)
      if (entry !== undefined && now - entry.fetchedAt < ttl) return entry.jwks
      const usable = entry !== undefined && now - entry.fetchedAt < staleFor ? entry : undefined
      if (usable !== undefined && usable.renewingSince !== undefined && now - usable.renewingSince < claimFor) {
        return usable.jwks // another request is renewing: serve the stale copy, wait for nobody
      }
      if (usable !== undefined) usable.renewingSince = now
      return yield* fetchJwks(issuer, jwksUri).pipe(
        Effect.tap((jwks) => Effect.sync(() => store(id, jwks, now))),
        Effect.catchAll((error) =>
          usable === undefined
            ? Effect.fail(error)
            : Effect.as(
              Effect.logWarning("identity provider keys could not be renewed: serving a stale copy", {
                issuer: normalizeIssuer(issuer),
                jwksUri,
                reason: error.reason,
                ageSeconds: Math.floor((now - usable.fetchedAt) / 1000)
              }),
              usable.jwks
            )
        )
      )
    })

    const refresh = Effect.fnUntraced(function*(issuer: string, jwksUri?: string) {
      if (normalizeIssuer(issuer) === ownIssuer) return Option.some(yield* ownKeys)
      const id = sourceOf(issuer, jwksUri)
      const now = yield* Clock.currentTimeMillis
      const last = forcedAt.get(id)
      if (last !== undefined && now - last < kidInterval) return Option.none<JSONWebKeySet>()
      forcedAt.set(id, now)
      return yield* fetchJwks(issuer, jwksUri).pipe(
        Effect.tap((jwks) => Effect.sync(() => store(id, jwks, now))),
        Effect.map(Option.some),
        Effect.catchTag("IDPCommunicationError", (error) =>
          Effect.as(
            Effect.logWarning("identity provider keys could not be refetched for an unknown kid", {
              issuer: normalizeIssuer(issuer),
              jwksUri,
              reason: error.reason
            }),
            Option.none<JSONWebKeySet>()
          ))
      )
    })

    return JwksCache.of({ keys, refresh })
  })
)
