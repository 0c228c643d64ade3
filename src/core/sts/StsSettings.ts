import * as Context from "effect/Context"

/** The platform IdP names Roles refer to (docs/sts.md#identity-providers). */
export const SOURCE_COOP_IDP = "source-coop"
export const API_KEY_IDP = "api-key"

export const MIN_SESSION_SECONDS = 900

export interface StsConfig {
  /** Platform IdPs by name → issuer (as configured, compared after `normalizeIssuer`). */
  readonly idps: ReadonlyMap<string, string>
  /** `AUTH_AUDIENCE`, split on commas; empty → the `source-coop` IdP accepts no token (fail closed). */
  readonly authAudiences: ReadonlyArray<string>
  /** The proxy's own issuer (API keys): its keys are read in-process, never over HTTP. */
  readonly proxyIssuer: string
  /** `STS_MAX_SESSION_DURATION_SECS`: the built-in `_default` role's maximum. */
  readonly defaultMaxSessionSeconds: number
}

/** STS settings, read once per isolate/process (docs/runtimes.md#configuration). */
export class StsSettings extends Context.Tag("sdp/StsSettings")<StsSettings, StsConfig>() {}

/** Issuers compare without trailing slashes (Auth0 issues `https://tenant/`). */
export const normalizeIssuer = (issuer: string): string => issuer.trim().replace(/\/+$/, "")
