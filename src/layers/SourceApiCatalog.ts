import { BoundedMap } from "../core/shared/boundedMap.js"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { type Caller, Catalog, type CatalogError, NoSuchIdp, NoSuchRole } from "../core/catalog/Catalog.js"
import { OidcProvider } from "../core/services/OidcProvider.js"
import { AccountIdp, Product, ProductList, Role } from "../core/catalog/schema.js"
import { type DataConnection, DataConnectionJson, toDataConnection } from "../core/backends/connection.js"
import { AccessDenied, BackendInvalidResponse, CatalogFailure, CatalogUnavailable, NoSuchBucket } from "../core/s3/errors.js"
import { AppConfig } from "../core/services/AppConfig.js"
import { EdgeCache } from "../core/services/EdgeCache.js"
import { responseText, Upstream } from "../core/services/Upstream.js"

/** Path segments: everything but `A-Za-z0-9-._~` encoded, so `?`, `#`, `/` and spaces cannot inject. */
const segment = (text: string) =>
  UNRESERVED.test(text)
    ? text // account and product ids nearly always are; every lookup builds its URL
    : encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
const UNRESERVED = /^[A-Za-z0-9._~-]*$/

/** The proxy→API JWT lives 60 s (docs/catalog.md#whose-rights-a-lookup-carries). */
const TOKEN_TTL_SECONDS = 60
const MAX_TOKENS = 10_000
const Permissions = Schema.Array(Schema.String)
const MAX_DECODED = 10_000
/** The largest Source API answer read (a product list of a few thousand products); a larger one fails. */
const MAX_ANSWER_BYTES = 1024 * 1024

/**
 * The Source API (docs/catalog.md#source-api-endpoints): GETs with a timeout, JSON decoded at the boundary,
 * successful answers cached as text (products, connections and account IdPs 300 s, product lists and roles 60 s),
 * errors never cached.
 */
export const SourceApiCatalog = Layer.effect(
  Catalog,
  Effect.gen(function*() {
    const config = yield* AppConfig
    const upstream = yield* Upstream
    const cache = yield* EdgeCache
    const base = Option.getOrElse(config.sourceApiUrl, () => "")

    const oidc = yield* OidcProvider
    /** The last decoded value of each cache key with the text it came from (finished values only). */
    const decoded = new BoundedMap<string, { readonly text: string; readonly value: unknown }>(MAX_DECODED)
    /** Minted bearer tokens by subject, reused until 10 s before they expire (RSA signing costs ~1 ms). */
    const tokens = new BoundedMap<string, { readonly token: string; readonly until: number }>(MAX_TOKENS)
    /** Each decoded connection answer mapped once, so the Storage opens the same value once (issue #11). */
    const connections = new WeakMap<typeof DataConnectionJson.Type, DataConnection>()
    const connectionOf = (json: typeof DataConnectionJson.Type): DataConnection => {
      const known = connections.get(json)
      if (known !== undefined) return known
      const connection = toDataConnection(json)
      connections.set(json, connection)
      return connection
    }

    const bearerFor = Effect.fnUntraced(function*(caller: Caller, key: string) {
      const now = yield* Clock.currentTimeMillis
      const held = tokens.get(key)
      if (held !== undefined && held.until > now) return Option.some(held.token)
      // `sub` is whose rights apply (docs/catalog.md#whose-rights-a-lookup-carries); the session's account, Role
      // and user ride along as claims.
      const minted = yield* oidc.sign({
        sub: caller.principal,
        aud: base,
        ttlSeconds: TOKEN_TTL_SECONDS,
        extra: {
          account_id: caller.accountId,
          role: caller.roleName,
          assumed_by: caller.assumedBy,
          assumed_by_issuer: caller.assumedByIssuer
        }
      }).pipe(Effect.option)
      if (Option.isSome(minted)) {
        tokens.set(key, { token: minted.value, until: now + (TOKEN_TTL_SECONDS - 10) * 1000 })
      } else {
        // As the Rust proxy: the call still goes out, anonymously, so it can only see less.
        yield* Effect.logWarning("could not sign the Source API token; calling anonymously")
      }
      return minted
    })

    /** One lookup: where it goes, whose rights it carries, and how its answer is kept. */
    interface Lookup<A, I> {
      readonly url: string
      readonly cacheKey: string
      readonly caller: Caller | undefined
      /** The caller's claims as the cache key names them (undefined: anonymous). */
      readonly subject: string | undefined
      readonly schema: Schema.Schema<A, I>
      readonly ttl: Duration.DurationInput
      readonly bucket: string
    }

    const decode = <A, I>(lookup: Lookup<A, I>, text: string): Effect.Effect<A, CatalogFailure> => {
      // A cache hit returns the very text decoded last time: reuse that value (the EdgeCache owns expiry).
      const known = decoded.get(lookup.cacheKey)
      if (known !== undefined && known.text === text) return Effect.succeed(known.value as A)
      return Effect.try({ try: () => JSON.parse(text) as unknown, catch: () => "invalid JSON" }).pipe(
        Effect.flatMap((json) => Effect.mapError(Schema.decodeUnknown(lookup.schema)(json), (e) => e.message)),
        Effect.mapError((reason) => new CatalogFailure({ reason: `${lookup.url}: ${reason}` })),
        Effect.tap((value) =>
          Effect.sync(() => {
            decoded.set(lookup.cacheKey, { text, value })
          })
        )
      )
    }

    // Made once: a cache hit, nearly every lookup, builds nothing of it (two lookups a request, bench section 3).
    const fetchFresh = Effect.fnUntraced(
      function*<A, I>(lookup: Lookup<A, I>) {
        const { url, caller, subject } = lookup
        const headers = new Headers()
        if (caller !== undefined && subject !== undefined) {
          const bearer = yield* bearerFor(caller, subject)
          if (Option.isSome(bearer)) headers.set("authorization", `Bearer ${bearer.value}`)
        }
        const response = yield* upstream.fetch({ method: "GET", url, headers, timeout: config.sourceApiTimeout })
          .pipe(Effect.mapError((f) => new CatalogUnavailable({ reason: `${f.reason} ${url}: ${f.detail}` })))
        const text = yield* responseText(response, MAX_ANSWER_BYTES).pipe(Effect.mapError((e) =>
          e._tag === "BodyTooLarge"
            ? new BackendInvalidResponse({ reason: `${url}: answer larger than ${e.limit} bytes` })
            : new CatalogUnavailable({ reason: `${url}: body could not be read` })
        ))
        switch (response.status) {
          case 200: {
            const value = yield* decode(lookup, text)
            yield* cache.set(lookup.cacheKey, text, lookup.ttl)
            return value
          }
          case 404:
            return yield* new NoSuchBucket({ bucket: lookup.bucket })
          case 401:
          case 403:
            return yield* new AccessDenied({ reason: `Source API answered ${response.status}` })
          default:
            return yield* new CatalogFailure({ reason: `API returned ${response.status} for ${url}` })
        }
      },
      (effect, lookup) =>
        Effect.timeoutFail(effect, {
          duration: config.sourceApiTimeout, // headers and body together
          onTimeout: () => new CatalogUnavailable({ reason: `${lookup.url}: no complete answer in time` })
        })
    )

    const fetchJson = <A, I>(
      path: string,
      schema: Schema.Schema<A, I>,
      ttl: Duration.DurationInput,
      bucket: string,
      caller?: Caller
    ): Effect.Effect<A, CatalogError> => {
      const url = `${base}${path}`
      // Answers differ by principal (and whatever else the token says), so the cache key names all of the
      // token's subject claims (percent-encoded: injective, no collisions).
      const subject = caller === undefined
        ? undefined
        : `principal=${segment(caller.principal)}&account_id=${segment(caller.accountId)}`
          + `&role=${segment(caller.roleName)}&assumed_by=${segment(caller.assumedBy)}`
          + `&assumed_by_issuer=${segment(caller.assumedByIssuer)}`
      const lookup: Lookup<A, I> = { url, cacheKey: subject === undefined ? url : `${url}?${subject}`, caller, subject, schema, ttl, bucket }
      return Effect.flatMap(cache.get(lookup.cacheKey), (hit) => Option.isSome(hit) ? decode(lookup, hit.value) : fetchFresh(lookup))
    }

    return Catalog.of({
      product: (account, product, caller) =>
        fetchJson(`/api/v1/products/${segment(account)}/${segment(product)}`, Product, Duration.minutes(5), account, caller),
      products: (account) =>
        Effect.map(
          fetchJson(`/api/v1/products/${segment(account)}`, ProductList, Duration.minutes(1), account),
          (list) => list.products
        ),
      dataConnection: (id, caller) =>
        Effect.map(
          fetchJson(`/api/v1/data-connections/${segment(id)}`, DataConnectionJson, Duration.minutes(5), id, caller),
          connectionOf
        ),
      permissions: (account, product, caller) =>
        fetchJson(
          `/api/v1/products/${segment(account)}/${segment(product)}/permissions`,
          Permissions,
          Duration.minutes(1),
          account,
          caller
        ),
      role: (account, name) =>
        fetchJson(`/api/v1/accounts/${segment(account)}/roles/${segment(name)}`, Role, Duration.minutes(1), account).pipe(
          Effect.catchTag("NoSuchBucket", () => Effect.fail(new NoSuchRole({ account, role: name })))
        ),
      idp: (account, name) =>
        fetchJson(`/api/v1/accounts/${segment(account)}/idps/${segment(name)}`, AccountIdp, Duration.minutes(5), account).pipe(
          Effect.catchTag("NoSuchBucket", () => Effect.fail(new NoSuchIdp({ account, idp: name })))
        )
    })
  })
)
