import * as Layer from "effect/Layer"
import type { Storage } from "../core/backends/ObjectStore.js"
import type { Catalog } from "../core/catalog/Catalog.js"
import type { AppServices } from "../core/pipeline.js"
import type { AppConfig } from "../core/services/AppConfig.js"
import type { EdgeCache } from "../core/services/EdgeCache.js"
import type { Hmac } from "../core/services/Hmac.js"
import type { OidcProvider } from "../core/services/OidcProvider.js"
import type { Revocations } from "../core/services/Revocations.js"
import type { Upstream } from "../core/services/Upstream.js"
import type { Federation } from "../core/backends/s3/Federation.js"
import { JoseOidcProvider } from "./JoseOidcProvider.js"
import { JoseSessionKeys } from "./JoseSessionKeys.js"
import { JwksCacheLive } from "./JwksCacheLive.js"
import { StsFederation } from "./StsFederation.js"
import { StsSettingsLive } from "./StsSettingsLive.js"

/** What a runtime provides: its config source read into AppConfig, fetch, an edge cache and HMAC. */
export type PlatformServices = AppConfig | Upstream | EdgeCache | Hmac

/** What the catalog and storage layers may build on. */
type Needs = PlatformServices | OidcProvider | Federation

/** The runtime-specific parts of the application; everything else is the same on every runtime. */
export interface AppParts<EC, ES, ER, EP> {
  /** Products, product lists and data connections: the Source API, or a local catalog file. */
  readonly catalog: Layer.Layer<Catalog, EC, Needs>
  /** The object stores connections open (RemoteStorage, plus a runtime's own providers). */
  readonly storage: Layer.Layer<Storage, ES, Needs>
  /** The session-token deny-list. */
  readonly revocations: Layer.Layer<Revocations, ER>
  readonly platform: Layer.Layer<PlatformServices, EP>
}

/**
 * The one composition root (docs/architecture.md#layers-and-the-composition-root): the services the pipeline
 * needs, over a runtime's parts. Its error is the union of its parts' build errors and ConfigError (the shared
 * layers' bad configuration).
 */
export const appLayer = <EC, ES, ER, EP>(parts: AppParts<EC, ES, ER, EP>) =>
  Layer.mergeAll(
    parts.catalog,
    parts.storage,
    // STS (/.sts): settings, identity providers' keys, session credentials, the jti deny-list.
    StsSettingsLive,
    JwksCacheLive,
    JoseSessionKeys,
    parts.revocations
  ).pipe(
    Layer.provideMerge(StsFederation),
    Layer.provideMerge(JoseOidcProvider),
    Layer.provideMerge(parts.platform)
  ) satisfies Layer.Layer<AppServices, unknown>
