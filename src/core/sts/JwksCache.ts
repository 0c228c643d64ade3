import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { JSONWebKeySet } from "jose"
import { IDPCommunicationError, StsInternalFailure } from "./errors.js"

/** docs/sts.md#jwks-cache: keys are fresh for an hour, a stale copy serves up to a day while the IdP fails. */
export const JWKS_TTL = Duration.hours(1)
export const JWKS_STALE = Duration.hours(24)
/** Each document (discovery, JWKS): headers and body together. */
export const JWKS_FETCH_TIMEOUT = Duration.seconds(3)
/** Bytes read of each document at most; beyond that the IdP answer is refused. */
export const JWKS_MAX_BYTES = 256 * 1024
/** An unknown `kid` refetches at most this often per issuer, so a flood of bad kids cannot hammer the IdP. */
export const UNKNOWN_KID_INTERVAL = Duration.minutes(1)

/**
 * Identity providers' signing keys. Only finished values are shared across requests: no request ever waits on
 * another's fetch (docs/runtimes.md#no-request-waits-on-another); a cold issuer is fetched by each request that
 * needs it.
 *
 * Keys come from the issuer's discovery document, or from `jwksUri` when an account registered its IdP
 * with one. Each source is cached on its own: a `jwks_uri` one account registered for an issuer never
 * answers for another binding of that issuer.
 */
export class JwksCache extends Context.Tag("sdp/JwksCache")<JwksCache, {
  /** The issuer's keys: cached (≤ 1 h), freshly fetched, or, when the IdP fails, a copy ≤ 24 h old. */
  readonly keys: (issuer: string, jwksUri?: string) => Effect.Effect<JSONWebKeySet, IDPCommunicationError | StsInternalFailure>
  /**
   * After a token named a `kid` the keys lack: refetch, at most once per interval per source. None when
   * rate-limited or the fetch failed (the caller keeps what it had).
   */
  readonly refresh: (issuer: string, jwksUri?: string) => Effect.Effect<Option.Option<JSONWebKeySet>, StsInternalFailure>
}>() {}

const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])$/i

/** https, or http only on a loopback host (docs/sts.md#identity-providers). */
export const isAllowedIssuerUrl = (text: string): boolean => {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    return false
  }
  if (url.username !== "" || url.password !== "") return false
  return url.protocol === "https:" || (url.protocol === "http:" && LOOPBACK.test(url.hostname))
}
