import { expect, layer } from "@effect/vitest"
import { Effect, type Layer } from "effect"
import { Catalog } from "../../src/core/catalog/Catalog.js"
import type { CatalogDocument } from "../../src/layers/LocalCatalog.js"
import { catalogDocument } from "../fixtures/catalog.js"

/** The shared catalog plus connections whose `authentication` each decode one way. */
export const contractDocument: CatalogDocument = {
  ...catalogDocument,
  roles: [
    {
      account_id: "demo",
      name: "ci-reader",
      max_session_duration: 7200,
      identity_constraints: [{
        idp: "github",
        audience: "sts.source.coop",
        claim_constraints: [{ claim: "repository", operator: "starts_with", value: "demo/" }]
      }],
      permissions: [{ actions: ["read"], resources: ["sc::demo::product/sample/*"] }]
    }
  ],
  idps: [
    { account_id: "demo", name: "ci", issuer: "https://ci.demo.test" },
    { account_id: "demo", name: "pinned", issuer: "https://pinned.test", jwks_uri: "https://keys.pinned.test/jwks.json" }
  ],
  data_connections: [
    ...catalogDocument.data_connections,
    {
      data_connection_id: "keys",
      read_only: false,
      details: { provider: "s3", bucket: "b", region: "eu-west-1", base_prefix: "x/" },
      authentication: { type: "s3_access_key", access_key_id: "AKID", secret_access_key: "secret" }
    },
    {
      data_connection_id: "garbage-auth",
      read_only: true,
      details: { provider: "s3", bucket: "b" },
      authentication: "garbage"
    },
    {
      data_connection_id: "null-auth",
      read_only: true,
      details: { provider: "s3", bucket: "b" },
      authentication: null
    }
  ]
}

/** What every Catalog must do, whichever Layer is behind it. */
export const catalogContract = (name: string, live: Layer.Layer<Catalog>) =>
  layer(live)(`Catalog contract: ${name}`, (it) => {
    it.effect("an unknown product is NoSuchBucket, not a defect", () =>
      Effect.gen(function*() {
        const catalog = yield* Catalog
        expect((yield* Effect.flip(catalog.product("demo", "nope")))._tag).toBe("NoSuchBucket")
        expect((yield* Effect.flip(catalog.product("nobody", "sample")))._tag).toBe("NoSuchBucket")
      }))

    it.effect("a product comes back with its visibility and mirrors", () =>
      Effect.gen(function*() {
        const product = yield* (yield* Catalog).product("demo", "sample")
        expect(product.product_id).toBe("sample")
        expect(product.visibility).toBe("public")
        expect(product.disabled).toBe(false)
        expect(product.metadata).toStrictEqual({
          primary_mirror: "main",
          mirrors: { main: { connection_id: "mem", prefix: "demo/sample/" } }
        })
        // A restricted product is shown to its own account's sessions (the Source API decides; LocalCatalog agrees).
        const owner = { principal: "demo", accountId: "demo", roleName: "reader", assumedBy: "someone", assumedByIssuer: "https://idp" }
        const restricted = yield* (yield* Catalog).product("demo", "private", owner)
        expect(restricted.visibility).toBe("restricted")
      }))

    it.effect("the products of an account, and none for an empty account", () =>
      Effect.gen(function*() {
        const catalog = yield* Catalog
        const ids = (yield* catalog.products("demo")).map((p) => p.product_id)
        expect(ids).toStrictEqual(contractDocument.products.filter((p) => p.account_id === "demo").map((p) => p.product_id))
        expect(yield* catalog.products("empty-account")).toStrictEqual([])
      }))

    it.effect("the product list of an unknown account is NoSuchBucket", () =>
      Effect.gen(function*() {
        expect((yield* Effect.flip((yield* Catalog).products("nobody")))._tag).toBe("NoSuchBucket")
      }))

    it.effect("a data connection decodes with its details and authentication", () =>
      Effect.gen(function*() {
        const catalog = yield* Catalog
        expect(yield* catalog.dataConnection("keys")).toStrictEqual({
          data_connection_id: "keys",
          read_only: false,
          details: { provider: "s3", bucket: "b", region: "eu-west-1", base_prefix: "x/" },
          authentication: { type: "s3_access_key", access_key_id: "AKID", secret_access_key: "secret" }
        })
        expect((yield* catalog.dataConnection("mem")).authentication).toStrictEqual({ type: "unsigned" })
        expect((yield* catalog.dataConnection("null-auth")).authentication).toStrictEqual({ type: "unsigned" })
        expect((yield* catalog.dataConnection("s3-az-auth")).authentication).toStrictEqual({ type: "az_sas", sas_token: "sv=1" })
        expect((yield* catalog.dataConnection("garbage-auth")).authentication).toStrictEqual({ type: "unsupported" })
      }))

    it.effect("an unknown data connection is NoSuchBucket", () =>
      Effect.gen(function*() {
        expect((yield* Effect.flip((yield* Catalog).dataConnection("nope")))._tag).toBe("NoSuchBucket")
      }))

    it.effect("a role decodes with its bindings, claim constraints and permissions", () =>
      Effect.gen(function*() {
        const role = yield* (yield* Catalog).role("demo", "ci-reader")
        expect(role).toStrictEqual({
          name: "ci-reader",
          max_session_duration: 7200,
          identity_constraints: [{
            idp: "github",
            audience: "sts.source.coop",
            claim_constraints: [{ claim: "repository", operator: "starts_with", value: "demo/" }]
          }],
          permissions: [{ actions: ["read"], resources: ["sc::demo::product/sample/*"] }]
        })
      }))

    it.effect("an IdP an account registered decodes with its issuer and, when given, its jwks_uri", () =>
      Effect.gen(function*() {
        const catalog = yield* Catalog
        expect(yield* catalog.idp("demo", "ci")).toStrictEqual({ name: "ci", issuer: "https://ci.demo.test" })
        expect(yield* catalog.idp("demo", "pinned")).toStrictEqual({
          name: "pinned",
          issuer: "https://pinned.test",
          jwks_uri: "https://keys.pinned.test/jwks.json"
        })
      }))

    it.effect("an unknown IdP, another account's IdP and an unknown account's are NoSuchIdp", () =>
      Effect.gen(function*() {
        const catalog = yield* Catalog
        expect((yield* Effect.flip(catalog.idp("demo", "nope")))._tag).toBe("NoSuchIdp")
        expect((yield* Effect.flip(catalog.idp("empty-account", "ci")))._tag).toBe("NoSuchIdp")
        expect((yield* Effect.flip(catalog.idp("nobody", "ci")))._tag).toBe("NoSuchIdp")
      }))

    it.effect("an unknown role, another account's role and an undefined _default are NoSuchRole", () =>
      Effect.gen(function*() {
        const catalog = yield* Catalog
        expect((yield* Effect.flip(catalog.role("demo", "nope")))._tag).toBe("NoSuchRole")
        expect((yield* Effect.flip(catalog.role("other", "ci-reader")))._tag).toBe("NoSuchRole")
        expect((yield* Effect.flip(catalog.role("demo", "_default")))._tag).toBe("NoSuchRole")
      }))
  })
