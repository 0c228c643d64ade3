import * as Effect from "effect/Effect"
import { UnsupportedProvider } from "../s3/errors.js"
import { type Providers, Storage } from "./ObjectStore.js"

/** A Storage that picks the provider constructor by `details.provider` (case-insensitive). */
export const storageOf = (providers: Providers) =>
  Storage.of({
    open: (connection) => {
      const provider = connection.details.provider.toLowerCase()
      const make = providers[provider]
      return make === undefined ? Effect.fail(new UnsupportedProvider({ provider })) : make(connection)
    }
  })
