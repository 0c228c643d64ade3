import * as Effect from "effect/Effect"
import { Catalog } from "../catalog/Catalog.js"
import { DEFAULT_ROLE, type IdentityConstraint, type Role } from "../catalog/schema.js"
import { StsAccessDenied, StsInternalFailure, StsServiceUnavailable } from "./errors.js"
import { API_KEY_IDP, SOURCE_COOP_IDP, type StsConfig, StsSettings } from "./StsSettings.js"

const apiKeyBinding = (account: string, settings: StsConfig): IdentityConstraint => ({
  idp: API_KEY_IDP,
  audience: `${settings.proxyIssuer}/.sts`,
  claim_constraints: [{ claim: "sub", operator: "equals", value: account }]
})

/**
 * The built-in `_default` Role of an account (docs/sts.md#the-built-in-default-role): trusted by the `source-coop`
 * IdP for each `AUTH_AUDIENCE` (none when unset: fail closed) and by the proxy's own issuer for the account's API
 * keys (`sub` must be the account), ceiling read+write on everything, `STS_MAX_SESSION_DURATION_SECS`. Without an
 * account (the Rust proxy's bare `RoleArn=_default`) there is no API-key binding: a key names its account.
 */
export const defaultRole = (account: string | undefined, settings: StsConfig): Role => ({
  name: DEFAULT_ROLE,
  max_session_duration: settings.defaultMaxSessionSeconds,
  identity_constraints: [
    ...settings.authAudiences.map((audience): IdentityConstraint => ({
      idp: SOURCE_COOP_IDP,
      audience,
      claim_constraints: []
    })),
    ...(account === undefined ? [] : [apiKeyBinding(account, settings)])
  ],
  permissions: [{ actions: ["read", "write"], resources: ["*"] }]
})

/**
 * The Role named by the RoleArn: as the catalog has it, the built-in default for an undefined `_default`
 * (always, without an account), and AccessDenied for anything else it does not know (no hint whether the
 * role exists).
 */
export const resolveRole = (account: string | undefined, name: string) =>
  account === undefined
    ? Effect.map(StsSettings, (settings) => defaultRole(undefined, settings))
    : Effect.flatMap(Catalog, (catalog) => catalog.role(account, name)).pipe(
      Effect.catchTags({
        NoSuchRole: () =>
          name === DEFAULT_ROLE
            ? Effect.map(StsSettings, (settings) => defaultRole(account, settings))
            : Effect.fail(new StsAccessDenied({ reason: "no such role" })),
        AccessDenied: (e) => Effect.fail(new StsAccessDenied({ reason: e.reason })),
        NoSuchBucket: () => Effect.fail(new StsAccessDenied({ reason: "no such account" })),
        CatalogUnavailable: (e) => Effect.fail(new StsServiceUnavailable({ reason: e.reason })),
        CatalogFailure: (e) => Effect.fail(new StsInternalFailure({ reason: e.reason })),
        BackendInvalidResponse: (e) => Effect.fail(new StsInternalFailure({ reason: e.reason }))
      })
    )
