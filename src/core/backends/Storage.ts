import * as Effect from "effect/Effect"
import { UnsupportedProvider } from "../s3/errors.js"
import type { DataConnection } from "./connection.js"
import { type ObjectStore, type Providers, Storage } from "./ObjectStore.js"

/**
 * A Storage that picks the provider constructor by `details.provider` (case-insensitive). A store is a function
 * of its connection and this layer's services only, so each connection value is opened once: the catalog hands
 * back the same value while it holds the answer, and a new answer is a new value, opened afresh. Building a store
 * (closures, endpoint check, credential plan) on every request cost CPU, and JIT work with it (issue #11).
 */
export const storageOf = (providers: Providers) => {
  const opened = new WeakMap<DataConnection, ObjectStore>()
  return Storage.of({
    open: (connection) => {
      const known = opened.get(connection)
      if (known !== undefined) return Effect.succeed(known)
      const provider = connection.details.provider.toLowerCase()
      const make = providers[provider]
      if (make === undefined) return Effect.fail(new UnsupportedProvider({ provider }))
      return Effect.tap(make(connection), (store) => Effect.sync(() => opened.set(connection, store)))
    }
  })
}
