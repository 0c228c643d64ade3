import { Effect, Layer } from "effect"
import type { Providers } from "../core/backends/ObjectStore.js"
import { Storage } from "../core/backends/ObjectStore.js"
import { S3Provider } from "../core/backends/s3/S3Store.js"
import { storageOf } from "../core/backends/Storage.js"

/** The providers every runtime has: those reached over HTTP. */
export const RemoteProviders = Effect.map(S3Provider, (s3): Providers => ({ s3 }))

export const RemoteStorage = Layer.effect(Storage, Effect.map(RemoteProviders, storageOf))
