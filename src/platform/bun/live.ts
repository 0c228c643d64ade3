import { resolve } from "node:path"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Storage } from "../../core/backends/ObjectStore.js"
import { StsFederation } from "../../core/backends/s3/StsFederation.js"
import { storageOf } from "../../core/backends/Storage.js"
import { appConfigFrom } from "../../core/services/AppConfig.js"
import { FetchUpstream } from "../../layers/FetchUpstream.js"
import { JwksCacheLive } from "../../core/oidc/JwksCache.js"
import { StsSettingsLive } from "../../core/sts/StsSettings.js"
import { JoseOidcProvider } from "../../layers/JoseOidcProvider.js"
import { JoseSessionKeys } from "../../layers/JoseSessionKeys.js"
import { type CatalogDocument, LocalCatalog } from "../../layers/LocalCatalog.js"
import { JsonLinesLogger } from "../../layers/jsonLogger.js"
import { MemoryEdgeCache } from "../../layers/MemoryEdgeCache.js"
import { RemoteProviders } from "../../layers/RemoteStorage.js"
import { SourceApiCatalog } from "../../layers/SourceApiCatalog.js"
import { LocalDirectoryProvider } from "./LocalDirectoryStore.js"
import { NodeCryptoHmac } from "./NodeCryptoHmac.js"
import { SqliteRevocations } from "./SqliteRevocations.js"

/** The jti deny-list `bun run dev` and `bun run revoke` share (git-ignored). */
export const DEFAULT_REVOCATIONS_DB = resolve(import.meta.dir, "../../../.dev/revocations.sqlite")

/** The embedded default: a catalog document and the directory its `local` connections are relative to. */
export interface LocalCatalogFile {
  readonly document: CatalogDocument
  readonly directory: string
}

/** Everything the pipeline needs under Bun, over the platform capabilities (config, fetch, cache, crypto). */
export const BunServices = (local: LocalCatalogFile | undefined, revocationsDb: string) => {
  const storage = Layer.effect(
    Storage,
    Effect.map(RemoteProviders, (remote) =>
      storageOf(local === undefined ? remote : { ...remote, local: LocalDirectoryProvider(local.directory) }))
  )
  return Layer.mergeAll(
    local === undefined ? SourceApiCatalog : LocalCatalog(local.document),
    storage.pipe(Layer.provide(StsFederation)),
    // STS (/.sts): settings, identity providers' keys, session credentials, the jti deny-list.
    StsSettingsLive,
    JwksCacheLive,
    JoseSessionKeys,
    SqliteRevocations(revocationsDb)
  ).pipe(Layer.provideMerge(JoseOidcProvider))
}

/**
 * Bun's capabilities: env config, fetch that keeps encoded bodies, an in-memory cache, node:crypto. Development
 * backends (moto, Azurite, the tests' servers) listen on loopback, so ALLOW_PRIVATE_ENDPOINTS defaults to on.
 */
export const BunPlatform = Layer.mergeAll(
  appConfigFrom({ allowPrivateEndpoints: true }),
  FetchUpstream({ supportsCacheOption: false, keepEncodedBodies: true }),
  MemoryEdgeCache(10_000),
  NodeCryptoHmac,
  JsonLinesLogger
)
