import { Effect, Option, Redacted } from "effect"
import type { JWTPayload } from "jose"
import { firstSatisfied } from "../authz/claimConstraints.js"
import type { Catalog } from "../catalog/Catalog.js"
import type { IdentityConstraint } from "../catalog/schema.js"
import { peekIdentityToken, verifyIdentityToken } from "../oidc/identityToken.js"
import { isAllowedIssuerUrl, JwksCache } from "../oidc/JwksCache.js"
import { Revocations } from "../services/Revocations.js"
import {
  IDPRejectedClaim,
  InvalidIdentityToken,
  type StsError,
  StsInternalFailure,
  StsServiceUnavailable,
  ValidationError
} from "./errors.js"
import { decodeStsParams, type RawParams, sessionNameFor } from "./params.js"
import { resolveRole } from "./roles.js"
import { type IssuedSession, SessionKeys } from "./SessionKeys.js"
import { normalizeIssuer, StsSettings } from "./StsSettings.js"

/** What `/.sts` needs besides the request. */
export type StsServices = Catalog | StsSettings | JwksCache | SessionKeys | Revocations

/**
 * What the audit event reports, filled in as the exchange gets that far (request-scoped, never shared).
 * Never the token itself.
 */
export interface AuditFacts {
  roleArn?: string
  account?: string
  role?: string
  /** As the token claims it; verified once `subject` is set. */
  issuer?: string
  idp?: string
  subject?: string
  sessionName?: string
  jti?: string
  durationSeconds?: number
}

export interface Exchanged {
  readonly session: IssuedSession
  readonly account: string
  readonly role: string
  readonly sessionName: string
  readonly subject: string
  readonly issuer: string
  readonly audience: string
}

const invalid = (message: string) => new InvalidIdentityToken({ message })

const audiencesOf = (payload: JWTPayload): ReadonlyArray<string> =>
  typeof payload.aud === "string" ? [payload.aud] : Array.isArray(payload.aud) ? payload.aud : []

/**
 * AssumeRoleWithWebIdentity (ADR-004 flow): RoleArn → Role → the token's (unverified) issuer picks the
 * Role's bindings → keys → signature/exp/nbf → audience → API-key checks → claim constraints (AND within a
 * binding, OR across) → DurationSeconds → credentials.
 */
export const exchange = (raw: RawParams, audit: AuditFacts): Effect.Effect<Exchanged, StsError, StsServices> =>
  Effect.gen(function*() {
    const params = yield* decodeStsParams(raw)
    const { account, name } = params.role
    audit.roleArn = params.roleArn
    audit.account = account
    audit.role = name
    const role = yield* resolveRole(account, name)
    const settings = yield* StsSettings
    const token = Redacted.value(params.token)

    const peeked = yield* peekIdentityToken(token)
    const issuer = normalizeIssuer(peeked.issuer)
    audit.issuer = issuer
    const trusting = role.identity_constraints.filter((binding) => {
      const idpIssuer = settings.idps.get(binding.idp)
      return idpIssuer !== undefined && normalizeIssuer(idpIssuer) === issuer
    })
    if (trusting.length === 0) return yield* invalid("The token's issuer is not trusted by this role")
    if (!isAllowedIssuerUrl(issuer)) return yield* invalid("The token's issuer must be an https URL")

    const cache = yield* JwksCache
    const jwks = yield* cache.keys(peeked.issuer)
    const payload = yield* verifyIdentityToken(token, jwks, peeked.issuer).pipe(
      Effect.catchTag("UnknownKid", () =>
        Effect.flatMap(cache.refresh(peeked.issuer), Option.match({
          onNone: () => Effect.fail(invalid("No key of the issuer matches the token's kid")),
          onSome: (fresh) =>
            verifyIdentityToken(token, fresh, peeked.issuer).pipe(
              Effect.catchTag("UnknownKid", () => Effect.fail(invalid("No key of the issuer matches the token's kid")))
            )
        })))
    )

    const audiences = audiencesOf(payload)
    const bindings = trusting.filter((binding) => audiences.includes(binding.audience))
    if (bindings.length === 0) return yield* invalid("The token's audience is not accepted by this role")
    if (typeof payload.sub !== "string" || payload.sub === "") return yield* invalid("The token has no sub claim")
    const subject = payload.sub
    audit.subject = subject

    if (issuer === normalizeIssuer(settings.proxyIssuer)) {
      // API keys (ADR-008): only tokens minted as such, each with a jti that has not been revoked.
      if (payload["type"] !== "api_key" || typeof payload.jti !== "string" || payload.jti === "") {
        return yield* invalid("The token is not an API key")
      }
      const revoked = yield* Effect.flatMap(Revocations, (r) => r.isRevoked(payload.jti!)).pipe(
        Effect.mapError((e) => new StsServiceUnavailable({ reason: `revocations: ${e.reason}` }))
      )
      if (revoked) return yield* invalid("The API key has been revoked")
    }

    const binding: IdentityConstraint | undefined = firstSatisfied(payload, bindings)
    if (binding === undefined) return yield* new IDPRejectedClaim()
    audit.idp = binding.idp

    const durationSeconds = Option.getOrElse(params.durationSeconds, () => Math.min(3600, role.max_session_duration))
    if (durationSeconds > role.max_session_duration) {
      return yield* new ValidationError({
        message: `DurationSeconds exceeds the role's maximum session duration (${role.max_session_duration} seconds)`
      })
    }
    audit.durationSeconds = durationSeconds
    const sessionName = Option.getOrElse(params.sessionName, () => sessionNameFor(subject))
    audit.sessionName = sessionName

    const keys = yield* SessionKeys
    const session = yield* keys.issue({
      sub: `sc::${account}::role/${role.name}`,
      account_id: account,
      role_name: role.name,
      assumed_by: subject,
      assumed_by_issuer: peeked.issuer,
      session_name: sessionName,
      permissions: role.permissions,
      durationSeconds
    }).pipe(Effect.mapError((e) => new StsInternalFailure({ reason: `session signing: ${e.reason}` })))
    audit.jti = session.claims.jti
    return { session, account, role: role.name, sessionName, subject, issuer: peeked.issuer, audience: binding.audience }
  })
