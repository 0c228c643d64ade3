import { Duration, Effect, Layer, Option, Schema } from "effect"
import { Catalog, type CatalogError } from "../core/catalog/Catalog.js"
import { DataConnectionJson, Product, ProductList, toDataConnection } from "../core/catalog/schema.js"
import { AccessDenied, CatalogFailure, CatalogUnavailable, NoSuchBucket } from "../core/s3/errors.js"
import { AppConfig } from "../core/services/AppConfig.js"
import { EdgeCache } from "../core/services/EdgeCache.js"
import { Upstream } from "../core/services/Upstream.js"

/** Path segments: everything but `A-Za-z0-9-._~` encoded, so `?`, `#`, `/` and spaces cannot inject. */
const segment = (text: string) =>
  encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)

/**
 * The Source API (reference spec-dsc §3): GETs with a timeout, JSON decoded at the boundary, successful
 * answers cached as text (products and connections 300 s, product lists 60 s), errors never cached.
 */
export const SourceApiCatalog = Layer.effect(
  Catalog,
  Effect.gen(function*() {
    const config = yield* AppConfig
    const upstream = yield* Upstream
    const cache = yield* EdgeCache
    const base = Option.getOrElse(config.sourceApiUrl, () => "")

    const fetchJson = <A, I>(
      path: string,
      schema: Schema.Schema<A, I>,
      ttl: Duration.DurationInput,
      bucket: string
    ): Effect.Effect<A, CatalogError> => {
      const url = `${base}${path}`
      const decode = (text: string) =>
        Effect.try({ try: () => JSON.parse(text) as unknown, catch: () => "invalid JSON" }).pipe(
          Effect.flatMap((json) => Effect.mapError(Schema.decodeUnknown(schema)(json), (e) => e.message)),
          Effect.mapError((reason) => new CatalogFailure({ reason: `${url}: ${reason}` }))
        )
      const fetchFresh = Effect.gen(function*() {
        const response = yield* upstream.fetch({ method: "GET", url, headers: new Headers(), timeout: config.sourceApiTimeout })
          .pipe(Effect.mapError((f) => new CatalogUnavailable({ reason: `${f.reason} ${url}: ${f.detail}` })))
        const text = yield* Effect.tryPromise({
          try: () => response.text(),
          catch: () => new CatalogUnavailable({ reason: `${url}: body could not be read` })
        })
        switch (response.status) {
          case 200: {
            const value = yield* decode(text)
            yield* cache.set(url, text, ttl)
            return value
          }
          case 404:
            return yield* new NoSuchBucket({ bucket })
          case 401:
          case 403:
            return yield* new AccessDenied({ reason: `Source API answered ${response.status}` })
          default:
            return yield* new CatalogFailure({ reason: `API returned ${response.status} for ${url}` })
        }
      }).pipe(
        Effect.timeoutFail({
          duration: config.sourceApiTimeout, // headers and body together
          onTimeout: () => new CatalogUnavailable({ reason: `${url}: no complete answer in time` })
        })
      )
      return Effect.flatMap(cache.get(url), Option.match({ onNone: () => fetchFresh, onSome: decode }))
    }

    return Catalog.of({
      product: (account, product) =>
        fetchJson(`/api/v1/products/${segment(account)}/${segment(product)}`, Product, Duration.minutes(5), account),
      products: (account) =>
        Effect.map(
          fetchJson(`/api/v1/products/${segment(account)}`, ProductList, Duration.minutes(1), account),
          (list) => list.products
        ),
      dataConnection: (id) =>
        Effect.map(
          fetchJson(`/api/v1/data-connections/${segment(id)}`, DataConnectionJson, Duration.minutes(5), id),
          toDataConnection
        )
    })
  })
)
