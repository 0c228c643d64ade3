import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { type Caller, Catalog } from "../../src/core/catalog/Catalog.js"
import { LocalCatalog } from "../../src/layers/LocalCatalog.js"
import { catalogDocument } from "../fixtures/catalog.js"

/**
 * The embedded catalog answers per principal (docs/catalog.md#the-embedded-catalog), as the Source API does for
 * the JWT's `sub`.
 */
const document = {
  ...catalogDocument,
  users: ["alice", "bob", "carol"],
  permissions: [
    { principal: "alice", product: "demo/*", permissions: ["read", "write"] as const },
    { principal: "carol", product: "demo/private", permissions: ["read"] as const }
  ]
}

const userSession = (user: string, account = "demo"): Caller =>
  ({ principal: user, accountId: account, roleName: "_default", assumedBy: user, assumedByIssuer: "http://127.0.0.1:8787/.dev-idp" })

const run = <A, E>(effect: Effect.Effect<A, E, Catalog>) => effect.pipe(Effect.provide(LocalCatalog(document)))

describe("LocalCatalog: permissions per principal", () => {
  it.effect("an account reads and writes its own products; a member as granted; anyone else nothing", () =>
    run(Effect.gen(function*() {
      const catalog = yield* Catalog
      const account: Caller = { principal: "demo", accountId: "demo", roleName: "publisher", assumedBy: "ci", assumedByIssuer: "https://ci" }
      expect(yield* catalog.permissions("demo", "private", account)).toStrictEqual(["read", "write"])
      expect(yield* catalog.permissions("demo", "private", userSession("alice"))).toStrictEqual(["read", "write"])
      expect(yield* catalog.permissions("demo", "sample", userSession("carol"))).toStrictEqual([])
      expect(yield* catalog.permissions("demo", "private", userSession("carol"))).toStrictEqual(["read"])
      expect(yield* catalog.permissions("demo", "private", userSession("bob"))).toStrictEqual([])
    })))

  it.effect("a restricted product is visible to principals with a grant only, whichever account the session names", () =>
    run(Effect.gen(function*() {
      const catalog = yield* Catalog
      expect((yield* catalog.product("demo", "private", userSession("alice"))).product_id).toBe("private")
      expect((yield* catalog.product("demo", "private", userSession("carol", "empty-account"))).product_id).toBe("private")
      expect((yield* Effect.flip(catalog.product("demo", "private", userSession("bob"))))._tag).toBe("AccessDenied")
      expect((yield* Effect.flip(catalog.product("demo", "private")))._tag).toBe("AccessDenied")
      // The account named in the session is not a principal of a `_default` session: its user is.
      const bobAsDemo: Caller = { ...userSession("bob"), accountId: "demo" }
      expect((yield* Effect.flip(catalog.product("demo", "private", bobAsDemo)))._tag).toBe("AccessDenied")
    })))
})
