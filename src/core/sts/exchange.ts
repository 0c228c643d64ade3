import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type { JWTPayload } from "jose"
import { firstSatisfied } from "../authz/claimConstraints.js"
import type { Catalog } from "../catalog/Catalog.js"
import type { IdentityConstraint } from "../catalog/schema.js"
import { peekIdentityToken, verifyIdentityToken } from "./identityToken.js"
import { isAllowedIssuerUrl, JwksCache } from "./JwksCache.js"
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
import { trustedIdps } from "./idps.js"
import { resolveRole } from "./roles.js"
import { type IssuedSession, SessionKeys } from "../session/SessionKeys.js"
import { normalizeIssuer, StsSettings } from "./StsSettings.js"

/** What `/.sts` needs besides the request. */
export type StsServices = Catalog | StsSettings | JwksCache | SessionKeys | Revocations

/**
 * What the audit event reports, filled in as the exchange gets that far (request-scoped, never shared).
 * Never the token itself.
 */
export interface AuditFacts {
  roleArn?: string
  /** Undefined for the bare `_default` (no account). */
  account?: string | undefined
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
 * AssumeRoleWithWebIdentity (docs/decisions.md#adr-004-sts-and-roles flow): RoleArn → Role → its bindings' IdPs
 * (platform, or registered by the Role's account) → the token's (unverified) issuer picks the bindings → keys
 * (discovery or the IdP's `jwks_uri`) → signature/exp/nbf → audience → API-key checks → claim constraints (AND
 * within a binding, OR across) → DurationSeconds → credentials.
 */
export const exchange: (
  raw: RawParams,
  audit: AuditFacts
) => Effect.Effect<Exchanged, StsError, StsServices> = Effect.fnUntraced(
  function*(raw: RawParams, audit: AuditFacts) {
    const params = yield* decodeStsParams(raw)
    const { account, name } = params.role
    // The bare `_default` names no account: its sessions have an empty account_id (docs/sts.md#role-arn).
    const accountId = account ?? ""
    audit.roleArn = params.roleArn
    audit.account = account
    audit.role = name
    const role = yield* resolveRole(account, name)
    const settings = yield* StsSettings
    const token = Redacted.value(params.token)

    const peeked = yield* peekIdentityToken(token)
    const issuer = normalizeIssuer(peeked.issuer)
    audit.issuer = issuer
    const idps = yield* trustedIdps(account, role)
    const trusting = role.identity_constraints.flatMap((binding) => {
      const idp = idps.get(binding.idp)
      return idp !== undefined && idp.issuer === issuer ? [{ binding, jwksUri: idp.jwksUri }] : []
    })
    if (trusting.length === 0) return yield* invalid("The token's issuer is not trusted by this role")
    if (!isAllowedIssuerUrl(issuer)) return yield* invalid("The token's issuer must be an https URL")
    const sources = [...new Set(trusting.map((t) => t.jwksUri))]
    if (!sources.every((uri) => uri === undefined || isAllowedIssuerUrl(uri))) {
      return yield* invalid("The identity provider's jwks_uri must be an https URL")
    }

    const cache = yield* JwksCache
    const noKid = () => invalid("No key of the issuer matches the token's kid")
    const verifyWith = (jwksUri: string | undefined) =>
      Effect.flatMap(cache.keys(peeked.issuer, jwksUri), (jwks) =>
        verifyIdentityToken(token, jwks, peeked.issuer).pipe(
          Effect.catchTag("UnknownKid", () =>
            Effect.flatMap(cache.refresh(peeked.issuer, jwksUri), Option.match({
              onNone: () => Effect.fail(noKid()),
              onSome: (fresh) =>
                verifyIdentityToken(token, fresh, peeked.issuer).pipe(Effect.catchTag("UnknownKid", () => Effect.fail(noKid())))
            }))),
          Effect.map((payload) => ({ payload, jwksUri }))
        ))
    // Bindings of one issuer may keep their keys in different places: the first source that verifies wins,
    // and only its bindings count.
    const verified = yield* Effect.firstSuccessOf(sources.map(verifyWith))
    const payload = verified.payload

    const audiences = audiencesOf(payload)
    const bindings = trusting
      .filter((t) => t.jwksUri === verified.jwksUri && audiences.includes(t.binding.audience))
      .map((t) => t.binding)
    if (bindings.length === 0) return yield* invalid("The token's audience is not accepted by this role")
    if (typeof payload.sub !== "string" || payload.sub === "") return yield* invalid("The token has no sub claim")
    const subject = payload.sub
    audit.subject = subject

    if (issuer === normalizeIssuer(settings.proxyIssuer)) {
      // API keys (docs/decisions.md#adr-008-api-keys): only tokens minted as such, each with a jti that has not
      // been revoked.
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
      sub: `sc::${accountId}::role/${role.name}`,
      account_id: accountId,
      role_name: role.name,
      assumed_by: subject,
      assumed_by_issuer: peeked.issuer,
      session_name: sessionName,
      permissions: role.permissions,
      durationSeconds
    }).pipe(Effect.mapError((e) => new StsInternalFailure({ reason: `session signing: ${e.reason}` })))
    audit.jti = session.claims.jti
    return { session, account: accountId, role: role.name, sessionName, subject, issuer: peeked.issuer, audience: binding.audience }
  }
)
