import * as Effect from "effect/Effect"
import { BoundedMap } from "../shared/boundedMap.js"
import { type Bytes, Hmac } from "../services/Hmac.js"
import { encoder } from "./encoding.js"
import { type CredentialScope, TERMINATOR } from "./stringToSign.js"

/** kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request"). */
export const deriveSigningKey = (secret: string, scope: CredentialScope): Effect.Effect<Bytes, never, Hmac> =>
  Effect.flatMap(Hmac, (hmac) =>
    hmac.sha256(encoder.encode("AWS4" + secret), scope.date).pipe(
      Effect.flatMap((kDate) => hmac.sha256(kDate, scope.region)),
      Effect.flatMap((kRegion) => hmac.sha256(kRegion, scope.service)),
      Effect.flatMap((kService) => hmac.sha256(kService, TERMINATOR))
    ))

/**
 * Derived signing keys per (access key id, secret, date, region, service): finished values only, in a bounded
 * Map evicted least-recently-used first (P10: nothing in flight is shared; two requests missing together both
 * derive). The secret is stored next to the key and compared on a hit rather than being part of the Map key.
 */
export class SigningKeyCache {
  private readonly entries: BoundedMap<string, { readonly secret: string; readonly key: Bytes }>
  constructor(readonly maxEntries: number = 1024) {
    this.entries = new BoundedMap(maxEntries)
  }

  get size(): number {
    return this.entries.size
  }

  get(accessKeyId: string, secret: string, scope: CredentialScope): Bytes | undefined {
    const id = cacheId(accessKeyId, scope)
    const hit = this.entries.get(id)
    return hit === undefined || hit.secret !== secret ? undefined : hit.key
  }

  set(accessKeyId: string, secret: string, scope: CredentialScope, key: Bytes): void {
    this.entries.set(cacheId(accessKeyId, scope), { secret, key })
  }

  clear(): void {
    this.entries.clear()
  }
}

const cacheId = (accessKeyId: string, scope: CredentialScope) =>
  `${accessKeyId}\n${scope.date}\n${scope.region}\n${scope.service}`

/** The isolate-wide cache `verifyRequest` uses unless given another. */
export const defaultSigningKeyCache = new SigningKeyCache()

export const signingKey = (
  cache: SigningKeyCache,
  accessKeyId: string,
  secret: string,
  scope: CredentialScope
): Effect.Effect<Bytes, never, Hmac> =>
  Effect.suspend(() => {
    const hit = cache.get(accessKeyId, secret, scope)
    return hit !== undefined
      ? Effect.succeed(hit)
      : Effect.tap(deriveSigningKey(secret, scope), (key) => cache.set(accessKeyId, secret, scope, key))
  })
