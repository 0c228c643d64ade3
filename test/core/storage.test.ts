import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import type { DataConnection } from "../../src/core/backends/connection.js"
import type { ObjectStore } from "../../src/core/backends/ObjectStore.js"
import { storageOf } from "../../src/core/backends/Storage.js"
import { CatalogFailure } from "../../src/core/s3/errors.js"
import { memoryStore } from "../fixtures/memoryStore.js"

const connection = (bucket: string, provider = "Memory"): DataConnection => ({
  data_connection_id: "c",
  read_only: true,
  details: { provider, bucket },
  authentication: { type: "unsigned" }
})

describe("storageOf", () => {
  it.effect("opens a connection value once; another value (a new catalog answer) is opened afresh", () =>
    Effect.gen(function*() {
      const opened: Array<string> = []
      const storage = storageOf({
        memory: (c) => Effect.sync((): ObjectStore => (opened.push(c.details.bucket ?? ""), memoryStore([])))
      })
      const first = connection("one")
      const store = yield* storage.open(first)
      expect(yield* storage.open(first)).toBe(store)
      const renewed = connection("two")
      expect(yield* storage.open(renewed)).not.toBe(store)
      expect(opened).toStrictEqual(["one", "two"])
    }))

  it.effect("a failed open is not remembered: the next request tries again", () =>
    Effect.gen(function*() {
      let attempts = 0
      const storage = storageOf({
        memory: () => ++attempts === 1 ? Effect.fail(new CatalogFailure({ reason: "no bucket" })) : Effect.succeed(memoryStore([]))
      })
      const c = connection("one")
      expect((yield* Effect.flip(storage.open(c)))._tag).toBe("CatalogFailure")
      yield* storage.open(c)
      expect(attempts).toBe(2)
    }))

  it.effect("an unknown provider is UnsupportedProvider, named in lower case", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(storageOf({}).open(connection("one", "FTP")))
      expect(error).toMatchObject({ _tag: "UnsupportedProvider", provider: "ftp" })
    }))
})
