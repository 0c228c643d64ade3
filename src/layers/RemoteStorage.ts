import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { AzureProvider } from "../core/backends/azure/AzureStore.js"
import type { Providers } from "../core/backends/ObjectStore.js"
import { Storage } from "../core/backends/ObjectStore.js"
import { GcsProvider, S3Provider } from "../core/backends/s3/S3Store.js"
import { storageOf } from "../core/backends/Storage.js"

/** The providers every runtime has: those reached over HTTP. */
export const RemoteProviders = Effect.map(
  Effect.all({ s3: S3Provider, gcs: GcsProvider, az: AzureProvider }),
  ({ s3, gcs, az }): Providers => ({ s3, gcs, gs: gcs, az, azure: az })
)

/** Storage over the remote providers and a runtime's own (`bun run dev`'s local directories). */
export const remoteStorageWith = (own: Providers = {}) =>
  Layer.effect(Storage, Effect.map(RemoteProviders, (remote) => storageOf({ ...remote, ...own })))

export const RemoteStorage = remoteStorageWith()
