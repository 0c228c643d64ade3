import { resolve } from "node:path"
import type * as ConfigError from "effect/ConfigError"
import * as Layer from "effect/Layer"
import { appConfigFrom } from "../../layers/AppConfigLive.js"
import { FetchUpstream } from "../../layers/FetchUpstream.js"
import { type CatalogDocument, LocalCatalog } from "../../layers/LocalCatalog.js"
import { JsonLinesLogger } from "../../layers/jsonLogger.js"
import { MemoryEdgeCacheFromEnv } from "../../layers/MemoryEdgeCache.js"
import { appLayer, type PlatformServices } from "../../layers/appLayer.js"
import { remoteStorageWith } from "../../layers/RemoteStorage.js"
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

/**
 * Bun's capabilities: env config, fetch that keeps encoded bodies, an in-memory cache, node:crypto. Development
 * backends (moto, Azurite, the tests' servers) listen on loopback, so ALLOW_PRIVATE_ENDPOINTS defaults to on.
 * The cache collects garbage synchronously as chunks churn: the asynchronous hint left twice as much behind.
 */
export const BunPlatform = Layer.mergeAll(
  appConfigFrom({ allowPrivateEndpoints: true }),
  FetchUpstream({ supportsCacheOption: false, keepEncodedBodies: true }),
  MemoryEdgeCacheFromEnv(10_000, () => Bun.gc(true)),
  NodeCryptoHmac,
  JsonLinesLogger
)

/** Everything the pipeline needs under Bun: the embedded catalog (or the Source API) and local directories. */
export const BunServices = (
  local: LocalCatalogFile | undefined,
  revocationsDb: string,
  platform: Layer.Layer<PlatformServices, ConfigError.ConfigError> = BunPlatform
) =>
  appLayer({
    catalog: local === undefined ? SourceApiCatalog : LocalCatalog(local.document),
    storage: remoteStorageWith(local === undefined ? {} : { local: LocalDirectoryProvider(local.directory) }),
    revocations: SqliteRevocations(revocationsDb),
    platform
  })

