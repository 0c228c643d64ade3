import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { Catalog } from "../catalog/Catalog.js"
import type { Role } from "../catalog/schema.js"
import { StsInternalFailure, StsServiceUnavailable } from "./errors.js"
import { DEFAULT_ROLE } from "../catalog/schema.js"
import { normalizeIssuer, StsSettings } from "./StsSettings.js"

/** An IdP a binding names, resolved: whose tokens it takes and where their keys are. */
export interface TrustedIdp {
  /** Normalized (`normalizeIssuer`). */
  readonly issuer: string
  /** An account IdP's registered `jwks_uri`; undefined: the issuer's discovery document says. */
  readonly jwksUri: string | undefined
}

/**
 * The IdPs a Role's bindings name, by name (the two tiers of docs/sts.md#identity-providers). A platform IdP's
 * name always means the platform IdP: an account cannot shadow it. Any other name is an IdP the Role's own account
 * registered, so an account's IdPs serve only its own Roles; a name nobody registered is absent and its bindings
 * cannot match. Account IdPs are never consulted for a `_default` Role or a RoleArn without an account: that
 * session's principal is the user who signed in, whom only a platform IdP may vouch for. An account IdP that
 * claims a platform IdP's issuer is absent too: with its own `jwks_uri` it could mint tokens that read as the
 * platform's users in the audit trail and the Source API's claims.
 */
export const trustedIdps: (
  account: string | undefined,
  role: Role
) => Effect.Effect<ReadonlyMap<string, TrustedIdp>, StsServiceUnavailable | StsInternalFailure, Catalog | StsSettings> = Effect.fnUntraced(
  function*(account: string | undefined, role: Role) {
    const settings = yield* StsSettings
    const platformIssuers = new Set([...settings.idps.values()].map(normalizeIssuer))
    const names = [...new Set(role.identity_constraints.map((binding) => binding.idp))]
    const resolved = yield* Effect.forEach(names, (name) => {
      const platform = settings.idps.get(name)
      if (platform !== undefined) {
        return Effect.succeed(Option.some([name, { issuer: normalizeIssuer(platform), jwksUri: undefined }] as const))
      }
      if (account === undefined || role.name === DEFAULT_ROLE) return Effect.succeed(Option.none())
      return Effect.flatMap(Catalog, (catalog) => catalog.idp(account, name)).pipe(
        Effect.map((idp) => {
          const issuer = normalizeIssuer(idp.issuer)
          return platformIssuers.has(issuer) ? Option.none() : Option.some([name, { issuer, jwksUri: idp.jwks_uri }] as const)
        }),
        Effect.catchTags({
          NoSuchIdp: () => Effect.succeed(Option.none()),
          NoSuchBucket: () => Effect.succeed(Option.none()),
          CatalogUnavailable: (e) => Effect.fail(new StsServiceUnavailable({ reason: `idp ${name}: ${e.reason}` })),
          AccessDenied: (e) => Effect.fail(new StsInternalFailure({ reason: `idp ${name}: ${e.reason}` })),
          CatalogFailure: (e) => Effect.fail(new StsInternalFailure({ reason: `idp ${name}: ${e.reason}` })),
          BackendInvalidResponse: (e) => Effect.fail(new StsInternalFailure({ reason: `idp ${name}: ${e.reason}` }))
        })
      )
    }, { concurrency: "unbounded" })
    return new Map(resolved.flatMap(Option.toArray))
  }
)
