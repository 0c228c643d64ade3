import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, FastCheck as fc } from "effect"
import { authorize, ceilingAllows, decide, type ActionClass, type AuthzRequest } from "../../src/core/authz/authorize.js"
import { covers, objectUrn, productUrn } from "../../src/core/authz/urn.js"
import { anonymous, type Identity } from "../../src/core/authz/Identity.js"
import type { SessionClaims, Permission } from "../../src/core/session/SessionClaims.js"

/**
 * The pure authorizer (docs/authorization.md#the-decision) against a reference model that never looks at URN
 * strings: a pattern is kept as the structure it was built from, a resource as (account, product, key?), and
 * coverage is decided by comparing fields, with `key.split("/")` for the prefix form.
 */

type Resource = { readonly account: string; readonly product: string; readonly key?: string | undefined }

type Pattern =
  | { readonly kind: "all" }
  | { readonly kind: "account"; readonly account: string }
  | { readonly kind: "product"; readonly account: string; readonly product: string }
  | { readonly kind: "productAll"; readonly account: string; readonly product: string }
  | { readonly kind: "prefix"; readonly account: string; readonly product: string; readonly prefix: string }
  | { readonly kind: "key"; readonly account: string; readonly product: string; readonly key: string }

const render = (p: Pattern): string => {
  switch (p.kind) {
    case "all":
      return "*"
    case "account":
      return `sc::${p.account}::product/*`
    case "product":
      return `sc::${p.account}::product/${p.product}`
    case "productAll":
      return `sc::${p.account}::product/${p.product}/*`
    case "prefix":
      return `sc::${p.account}::product/${p.product}/${p.prefix}/*`
    case "key":
      return `sc::${p.account}::product/${p.product}/${p.key}`
  }
}

const urnOf = (r: Resource): string => r.key === undefined ? productUrn(r.account, r.product) : objectUrn(r.account, r.product, r.key)

/** Segment-wise: `prefix` (one or more segments) is a whole-segment prefix of `key` with something after it. */
const underPrefix = (prefix: string, key: string): boolean => {
  const want = prefix.split("/")
  const have = key.split("/")
  return have.length > want.length && want.every((segment, i) => have[i] === segment)
}

const modelCovers = (p: Pattern, r: Resource): boolean => {
  switch (p.kind) {
    case "all":
      return true
    case "account":
      return p.account === r.account
    case "product":
      return p.account === r.account && p.product === r.product
    case "productAll":
      return p.account === r.account && p.product === r.product && r.key !== undefined
    case "prefix":
      return p.account === r.account && p.product === r.product && r.key !== undefined && underPrefix(p.prefix, r.key)
    case "key":
      return p.account === r.account && p.product === r.product && r.key === p.key
  }
}

// Near-misses throughout: `a`/`ab`/`a-b`, `cogs`/`cogs-private`, `dir`/`dir-x`/`dirx`, keys that look like products.
const accounts = fc.constantFrom("a", "ab", "a-b", "acme")
const products = fc.constantFrom("p", "p2", "cogs", "cogs-private")
const segments = fc.constantFrom("dir", "dir-x", "dirx", "sub", "x", "cogs", "cogs-private", "a b", "k=v", "é", "x.bin", "p")
const keyArb = fc.array(segments, { minLength: 1, maxLength: 4 }).map((s) => s.join("/"))
const prefixArb = fc.array(segments, { minLength: 1, maxLength: 3 }).map((s) => s.join("/"))

const resourceArb: fc.Arbitrary<Resource> = fc.record({
  account: accounts,
  product: products,
  key: fc.option(keyArb, { nil: undefined })
})

const patternArb: fc.Arbitrary<Pattern> = fc.oneof(
  fc.constant<Pattern>({ kind: "all" }),
  accounts.map((account): Pattern => ({ kind: "account", account })),
  fc.tuple(accounts, products).map(([account, product]): Pattern => ({ kind: "product", account, product })),
  fc.tuple(accounts, products).map(([account, product]): Pattern => ({ kind: "productAll", account, product })),
  fc.tuple(accounts, products, prefixArb).map(([account, product, prefix]): Pattern => ({ kind: "prefix", account, product, prefix })),
  fc.tuple(accounts, products, keyArb).map(([account, product, key]): Pattern => ({ kind: "key", account, product, key }))
)

/** A pattern and a resource that share as much as possible, so that the near-misses are what is tested. */
const nearArb: fc.Arbitrary<readonly [Pattern, Resource]> = fc.tuple(patternArb, fc.option(keyArb, { nil: undefined }), segments,
  fc.boolean()).map(([pattern, otherKey, extra, reuse]): readonly [Pattern, Resource] => {
    if (pattern.kind === "all" || pattern.kind === "account") return [pattern, { account: pattern.kind === "all" ? "a" : pattern.account, product: "p", key: otherKey }]
    const base = pattern.kind === "prefix" ? pattern.prefix : pattern.kind === "key" ? pattern.key : undefined
    // The pattern's own prefix or key, with a segment appended, or glued on without a `/`, or as is.
    const key = base === undefined || !reuse ? otherKey : otherKey === undefined ? base : `${base}${extra.length % 2 === 0 ? "/" : ""}${extra}`
    return [pattern, { account: pattern.account, product: pattern.product, key }]
  })

const actionArb = fc.constantFrom<ActionClass>("read", "write")
const statementArb: fc.Arbitrary<Permission> = fc.record({
  actions: fc.subarray<"read" | "write">(["read", "write"]),
  resources: fc.array(patternArb.map(render), { maxLength: 3 })
})
const permissionStrings = fc.array(fc.constantFrom("read", "write", "READ", "Write", "WRITE", "admin", "", "writer", "read "), { maxLength: 3 })

const claimsOf = (account: string, permissions: ReadonlyArray<Permission>): SessionClaims => ({
  iss: "https://proxy.test",
  sub: `sc::${account}::role/test`,
  aud: "https://proxy.test",
  account_id: account,
  role_name: "test",
  assumed_by: "user-1",
  assumed_by_issuer: "https://idp.test",
  session_name: "s",
  access_key_id: "SCSTS1TEST",
  permissions,
  iat: 0,
  nbf: 0,
  exp: 1,
  jti: "jti-1"
})
const session = (permissions: ReadonlyArray<Permission>, account = "acme"): Identity => ({ _tag: "Session", claims: claimsOf(account, permissions) })

/**
 * The intersection, read straight from docs/authorization.md#principal-permissions: write needs `write`; read
 * needs public, `read` or `write`.
 */
const modelDecide = (
  identity: Identity,
  statements: ReadonlyArray<{ readonly actions: ReadonlyArray<ActionClass>; readonly patterns: ReadonlyArray<Pattern> }>,
  action: ActionClass,
  resource: Resource,
  publicRead: boolean,
  principalPermissions: ReadonlyArray<string> | undefined
): boolean => {
  if (identity._tag === "Anonymous") return action === "read" && publicRead
  const ceiling = statements.some((s) => s.actions.includes(action) && s.patterns.some((p) => modelCovers(p, resource)))
  const granted = new Set((principalPermissions ?? []).map((p) => p.toLowerCase()))
  const account = action === "write" ? granted.has("write") : publicRead || granted.has("read") || granted.has("write")
  return ceiling && account
}

describe("covers (URN patterns)", () => {
  it.prop("agrees with the reference model on arbitrary patterns and resources", [patternArb, resourceArb], ([pattern, resource]) => {
    expect(covers(render(pattern), urnOf(resource))).toBe(modelCovers(pattern, resource))
  }, { fastCheck: { numRuns: 2000 } })

  it.prop("agrees with the reference model on near-misses of the pattern's own account, product and prefix", [nearArb], ([[pattern, resource]]) => {
    expect(covers(render(pattern), urnOf(resource))).toBe(modelCovers(pattern, resource))
  }, { fastCheck: { numRuns: 2000 } })

  it("examples: boundaries at `/`, other accounts, bare product", () => {
    expect(covers("*", objectUrn("x", "y", "z"))).toBe(true)
    expect(covers("sc::a::product/*", productUrn("a", "p"))).toBe(true)
    expect(covers("sc::a::product/*", objectUrn("ab", "p", "k"))).toBe(false)
    expect(covers("sc::a::product/cogs", objectUrn("a", "cogs", "k/x"))).toBe(true)
    expect(covers("sc::a::product/cogs", productUrn("a", "cogs"))).toBe(true)
    expect(covers("sc::a::product/cogs", objectUrn("a", "cogs-private", "k"))).toBe(false)
    expect(covers("sc::a::product/cogs", productUrn("a", "cogs-private"))).toBe(false)
    expect(covers("sc::a::product/cogs/*", objectUrn("a", "cogs-private", "x"))).toBe(false)
    expect(covers("sc::a::product/cogs/*", objectUrn("a", "cogs", "x"))).toBe(true)
    expect(covers("sc::a::product/cogs/*", productUrn("a", "cogs"))).toBe(false)
    expect(covers("sc::a::product/p/dir/*", objectUrn("a", "p", "dir/x"))).toBe(true)
    expect(covers("sc::a::product/p/dir/*", objectUrn("a", "p", "dir-x/y"))).toBe(false)
    expect(covers("sc::a::product/p/dir/*", objectUrn("a", "p", "dir"))).toBe(false)
    expect(covers("sc::a::product/p/k.bin", objectUrn("a", "p", "k.bin"))).toBe(true)
    expect(covers("sc::a::product/p/k.bin", objectUrn("a", "p", "k.bin/x"))).toBe(false)
    expect(covers("sc::a::product/p/k.bin", objectUrn("a", "p", "k.bin2"))).toBe(false)
  })
})

describe("decide (Role ceiling ∩ account permissions)", () => {
  const modelStatementArb = fc.record({
    actions: fc.subarray<ActionClass>(["read", "write"]),
    patterns: fc.array(patternArb, { maxLength: 3 })
  })
  it.prop(
    "agrees with the reference model of the intersection",
    [fc.boolean(), fc.array(modelStatementArb, { maxLength: 3 }), actionArb, resourceArb, fc.boolean(), fc.option(permissionStrings, { nil: undefined })],
    ([isAnonymous, statements, action, resource, publicRead, principalPermissions]) => {
      const permissions = statements.map((s) => ({ actions: s.actions, resources: s.patterns.map(render) }))
      const identity = isAnonymous ? anonymous : session(permissions)
      const request: AuthzRequest = { action, resource: urnOf(resource), publicRead, principalPermissions }
      expect(decide(identity, request)).toBe(modelDecide(identity, statements, action, resource, publicRead, principalPermissions))
    },
    { fastCheck: { numRuns: 2000 } }
  )

  it.prop("the ceiling alone: granted iff some statement has the action and a covering pattern", [fc.array(statementArb, { maxLength: 3 }), actionArb, resourceArb], ([ceiling, action, resource]) => {
    const expected = ceiling.some((s) => s.actions.includes(action) && s.resources.some((r) => covers(r, urnOf(resource))))
    expect(ceilingAllows(ceiling, action, urnOf(resource))).toBe(expected)
  })

  it.prop("anonymous callers never write, whatever else is true", [fc.boolean(), fc.option(permissionStrings, { nil: undefined }), resourceArb], ([publicRead, principalPermissions, resource]) => {
    expect(decide(anonymous, { action: "write", resource: urnOf(resource), publicRead, principalPermissions })).toBe(false)
  })
})

describe("the truth table of docs/authorization.md#the-decision", () => {
  const A = "acme"
  const everything: ReadonlyArray<Permission> = [{ actions: ["read", "write"], resources: ["*"] }]
  const dir: ReadonlyArray<Permission> = [{ actions: ["read", "write"], resources: [`sc::${A}::product/p/dir/*`] }]
  const readOnly: ReadonlyArray<Permission> = [{ actions: ["read"], resources: ["*"] }]
  const req = (action: ActionClass, key: string, publicRead: boolean, principalPermissions?: ReadonlyArray<string>, product = "p"): AuthzRequest =>
    ({ action, resource: objectUrn(A, product, key), publicRead, principalPermissions })

  const cases: ReadonlyArray<readonly [string, Identity, AuthzRequest, boolean]> = [
    ["anonymous reads a public product", anonymous, req("read", "k", true), true],
    ["anonymous reads a restricted product", anonymous, req("read", "k", false), false],
    ["anonymous writes a public product", anonymous, req("write", "k", true), false],
    ["anonymous writes even with write permissions passed", anonymous, req("write", "k", true, ["read", "write"]), false],
    ["ceiling * + [read]: read restricted", session(everything), req("read", "k", false, ["read"]), true],
    ["ceiling * + [read]: write", session(everything), req("write", "k", false, ["read"]), false],
    ["ceiling * + [read, write]: write", session(everything), req("write", "k", false, ["read", "write"]), true],
    ["ceiling * + []: read restricted", session(everything), req("read", "k", false, []), false],
    ["ceiling * + no permissions fetched: read public", session(everything), req("read", "k", true, undefined), true],
    ["ceiling * + no permissions fetched: write", session(everything), req("write", "k", true, undefined), false],
    ["ceiling p/dir/* + [read, write]: write p/dir/x", session(dir), req("write", "dir/x", false, ["read", "write"]), true],
    ["ceiling p/dir/* + [read, write]: write p/dir/sub/x", session(dir), req("write", "dir/sub/x", false, ["read", "write"]), true],
    ["ceiling p/dir/* + [read, write]: write p/other", session(dir), req("write", "other", false, ["read", "write"]), false],
    ["ceiling p/dir/* + [read, write]: write p/dir-x/y", session(dir), req("write", "dir-x/y", false, ["read", "write"]), false],
    ["ceiling p/dir/* + [read, write]: write p/dir (no slash)", session(dir), req("write", "dir", false, ["read", "write"]), false],
    ["ceiling p/dir/* + [read, write]: write p2/dir/x", session(dir), req("write", "dir/x", false, ["read", "write"], "p2"), false],
    ["ceiling p/dir/*: read public p/other", session(dir), req("read", "other", true, undefined), false],
    ["read-only ceiling + account write: write", session(readOnly), req("write", "k", false, ["read", "write"]), false],
    ["read-only ceiling + account write: read", session(readOnly), req("read", "k", false, ["write"]), true],
    ["permissions case-insensitive: [WRITE]", session(everything), req("write", "k", false, ["WRITE"]), true],
    ["permissions case-insensitive: [Read]", session(everything), req("read", "k", false, ["Read"]), true],
    ["permission strings are whole words: [writer]", session(everything), req("write", "k", false, ["writer"]), false],
    ["ceiling for another account", session([{ actions: ["read", "write"], resources: ["sc::other::product/*"] }]), req("write", "k", false, ["read", "write"]), false],
    ["ceiling for another account: read public", session([{ actions: ["read", "write"], resources: ["sc::other::product/*"] }]), req("read", "k", true), false],
    ["empty ceiling", session([]), req("read", "k", true, ["read", "write"]), false],
    ["statement with no actions", session([{ actions: [], resources: ["*"] }]), req("read", "k", true, ["read"]), false]
  ]

  for (const [name, identity, request, allowed] of cases) {
    it(`${name} → ${allowed ? "allow" : "deny"}`, () => {
      expect(decide(identity, request)).toBe(allowed)
    })
  }

  it.effect("authorize: a denial is AccessDenied, whatever the cause; an allow is void", () =>
    Effect.gen(function*() {
      const denials = cases.filter(([, , , allowed]) => !allowed)
      for (const [, identity, request] of denials) {
        const exit = yield* Effect.exit(authorize(identity, request))
        expect(Exit.isFailure(exit)).toBe(true)
        if (Exit.isFailure(exit)) {
          const error = exit.cause._tag === "Fail" ? exit.cause.error : undefined
          expect(error?._tag).toBe("AccessDenied")
        }
      }
      yield* authorize(session(everything), req("write", "k", false, ["write"]))
    }))
})
