import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { BoundedMap } from "../core/shared/boundedMap.js"
import { OidcProvider } from "../core/services/OidcProvider.js"
import { AccessDenied, BackendAuthenticationFailed, BackendUnavailable } from "../core/s3/errors.js"
import { AppConfig } from "../core/services/AppConfig.js"
import { EdgeCache } from "../core/services/EdgeCache.js"
import { responseText, Upstream } from "../core/services/Upstream.js"
import { discard } from "../core/backends/answer.js"
import { Federation } from "../core/backends/s3/Federation.js"
import { type IssuedCredentials, readStsAnswer } from "../core/backends/s3/stsResponse.js"

/** Renew this long before expiry; meanwhile the old credentials keep serving. */
const REFRESH_LEAD = 60_000
/** Never sign with credentials this close to expiry: mint instead. */
const MIN_REMAINING = 5_000
/** A renewal claimed longer ago than this is presumed dead and may be taken over. */
const STALE_CLAIM = 30_000
/** The shared (L2) copy expires this long before the credentials do. */
const L2_MARGIN = 300_000
/** An AssumeRoleWithWebIdentity answer is about 2 KiB; anything past this is not one. */
export const STS_ANSWER_MAX_BYTES = 64 * 1024
/** Credentials kept in the isolate at most (one entry per role, subject and audience). */
const MAX_ENTRIES = 1024

interface Entry {
  readonly credentials: IssuedCredentials
  /** When a request took on the renewal; only finished values live here, never a promise. */
  claimedAt: number | undefined
}

/** `[A-Za-z0-9+=,.@_-]{2,64}`, as AWS requires of RoleSessionName. */
export const roleSessionName = (subject: string): string => {
  const name = subject.replace(/[^A-Za-z0-9+=,.@_-]/g, "_").slice(0, 64)
  return name.length < 2 ? "s3-proxy" : name
}

const Cached = Schema.parseJson(Schema.Struct({
  accessKeyId: Schema.String,
  secretAccessKey: Schema.String,
  sessionToken: Schema.String,
  expiresAt: Schema.Number
}))

/**
 * AssumeRoleWithWebIdentity with the proxy's own assertion, cached per (role, subject, audience): in the isolate,
 * where exactly one request renews inside the refresh lead while the others keep using the still-valid credentials
 * and nobody waits on anybody (docs/runtimes.md#no-request-waits-on-another), and in the shared EdgeCache.
 */
export const StsFederation = Layer.effect(
  Federation,
  Effect.gen(function*() {
    const upstream = yield* Upstream
    const oidc = yield* OidcProvider
    const cache = yield* EdgeCache
    const config = yield* AppConfig
    const entries = new BoundedMap<string, Entry>(MAX_ENTRIES)

    const mint = Effect.fnUntraced(function*(roleArn: string, subject: string, audience: string) {
      const assertion = yield* oidc.sign({ sub: subject, aud: audience, ttlSeconds: 60 }).pipe(
        Effect.mapError(() => new BackendAuthenticationFailed({ code: "ProviderKeyError" }))
      )
      const body = new URLSearchParams({
        Action: "AssumeRoleWithWebIdentity",
        Version: "2011-06-15",
        RoleArn: roleArn,
        RoleSessionName: roleSessionName(subject),
        WebIdentityToken: assertion
      }).toString()
      const response = yield* upstream.fetch({
        method: "POST",
        url: config.awsStsEndpoint,
        headers: new Headers({ "content-type": "application/x-www-form-urlencoded; charset=utf-8" }),
        body,
        timeout: config.federationTimeout
      }).pipe(Effect.mapError((f) => new BackendUnavailable({ reason: `STS ${f.reason}: ${f.detail}` })))
      if (response.status >= 300 && response.status < 400) {
        yield* discard(response)
        return yield* new BackendUnavailable({ reason: `STS answered ${response.status}: redirects are not followed` })
      }
      const text = yield* responseText(response, STS_ANSWER_MAX_BYTES).pipe(
        Effect.mapError((error) =>
          error._tag === "BodyTooLarge"
            ? new BackendAuthenticationFailed({ code: "StsAnswerTooLarge" })
            : new BackendUnavailable({ reason: "STS answer could not be read" })
        ),
        Effect.timeoutFail({
          duration: config.federationTimeout,
          onTimeout: () => new BackendUnavailable({ reason: "STS answer did not finish in time" })
        })
      )
      const answer = yield* readStsAnswer(text)
      switch (answer._tag) {
        case "Issued":
          return answer.credentials
        case "Refused":
          yield* Effect.logWarning("outbound federation refused", { roleArn, subject, code: answer.code })
          return yield* answer.code === "AccessDenied"
            ? new AccessDenied({ reason: "STS refused the role" })
            : new BackendAuthenticationFailed({ code: answer.code })
        case "Unreadable":
          return yield* new BackendUnavailable({ reason: `STS answered ${response.status} with an unreadable body` })
      }
    })

    const remember = Effect.fnUntraced(function*(key: string, credentials: IssuedCredentials) {
      entries.set(key, { credentials, claimedAt: undefined })
      const shareFor = credentials.expiresAt - (yield* Clock.currentTimeMillis) - L2_MARGIN
      if (shareFor > 0) yield* cache.set(`sts-creds:${key}`, JSON.stringify(credentials), Duration.millis(shareFor))
    })

    /** A cold isolate first looks in the shared cache; an unreadable or short-lived entry is a miss. */
    const shared = (key: string, now: number) =>
      Effect.map(cache.get(`sts-creds:${key}`), (hit) =>
        Option.flatMap(hit, (text) => Option.filter(Schema.decodeOption(Cached)(text), (c) => c.expiresAt - now > REFRESH_LEAD))
      )

    const renew = (key: string, roleArn: string, subject: string, audience: string) =>
      mint(roleArn, subject, audience).pipe(
        Effect.tap((credentials) => remember(key, credentials)),
        Effect.tapError(() =>
          Effect.sync(() => {
            const entry = entries.get(key)
            if (entry !== undefined) entry.claimedAt = undefined // let the next request try
          })
        )
      )

    return Federation.of({
      credentials: Effect.fnUntraced(
        function*({ roleArn, subject, audience }) {
          const key = `${roleArn}\u001f${subject}\u001f${audience}`
          const now = yield* Clock.currentTimeMillis
          const entry = entries.get(key)
          if (entry !== undefined) {
            const left = entry.credentials.expiresAt - now
            if (left > REFRESH_LEAD) return entry.credentials
            if (left > MIN_REMAINING) {
              const claimLive = entry.claimedAt !== undefined && now - entry.claimedAt < STALE_CLAIM
              if (claimLive) return entry.credentials // someone else is renewing: keep serving
              entry.claimedAt = now // this request renews; the others keep serving meanwhile
            }
            return yield* renew(key, roleArn, subject, audience)
          }
          const fromShared = yield* shared(key, now)
          if (Option.isSome(fromShared)) {
            entries.set(key, { credentials: fromShared.value, claimedAt: undefined })
            return fromShared.value
          }
          return yield* renew(key, roleArn, subject, audience)
        })
    })
  })
)
