import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import { allSatisfied, claimSatisfies, firstSatisfied } from "../../src/core/authz/claimConstraints.js"
import type { ClaimConstraint } from "../../src/core/catalog/schema.js"

/** The reference model, written as plainly as possible: a table lookup and two string tests. */
const model = (claims: ReadonlyArray<readonly [string, unknown]>, bindings: ReadonlyArray<ReadonlyArray<ClaimConstraint>>) =>
  bindings.some((constraints) =>
    constraints.every(({ claim, operator, value }) => {
      const entry = claims.find(([name]) => name === claim)
      if (entry === undefined || typeof entry[1] !== "string") return false
      return operator === "equals" ? entry[1] === value : entry[1].slice(0, value.length) === value
    })
  )

const names = fc.constantFrom("sub", "repository", "ref", "email", "aud", "__proto__", "toString")
const text = fc.constantFrom("", "a", "ab", "abc", "b", "demo/", "demo/x", "refs/heads/main")
const claimValue = fc.oneof(text, fc.integer(), fc.boolean(), fc.constant(null), fc.array(text, { maxLength: 2 }))
const constraint: fc.Arbitrary<ClaimConstraint> = fc.record({
  claim: names,
  operator: fc.constantFrom("equals" as const, "starts_with" as const),
  value: text
})
const claimsArb = fc.uniqueArray(fc.tuple(names, claimValue), { selector: ([name]) => name, maxLength: 5 })
const bindingsArb = fc.array(fc.array(constraint, { maxLength: 3 }), { maxLength: 3 })

const toRecord = (claims: ReadonlyArray<readonly [string, unknown]>) => {
  const record: Record<string, unknown> = {}
  for (const [name, value] of claims) Object.defineProperty(record, name, { value, enumerable: true })
  return record
}

describe("claim constraints", () => {
  it.prop("agree with the reference model: AND within a binding, OR across bindings", [claimsArb, bindingsArb], ([claims, bindings]) => {
    const bound = bindings.map((claim_constraints) => ({ claim_constraints }))
    expect(firstSatisfied(toRecord(claims), bound) !== undefined).toBe(model(claims, bindings))
  })

  it.prop("a missing claim never matches, whatever the operator and value", [constraint], ([c]) => {
    expect(claimSatisfies({}, c)).toBe(false)
  })

  it("examples", () => {
    const claims = { sub: "repo:demo/x", repository: "demo/x", run: 3, groups: ["demo/x"] }
    expect(claimSatisfies(claims, { claim: "repository", operator: "starts_with", value: "demo/" })).toBe(true)
    expect(claimSatisfies(claims, { claim: "repository", operator: "equals", value: "demo/" })).toBe(false)
    expect(claimSatisfies(claims, { claim: "run", operator: "equals", value: "3" })).toBe(false) // non-string
    expect(claimSatisfies(claims, { claim: "groups", operator: "equals", value: "demo/x" })).toBe(false)
    expect(claimSatisfies(claims, { claim: "toString", operator: "starts_with", value: "" })).toBe(false) // inherited
    expect(allSatisfied(claims, [])).toBe(true)
    expect(firstSatisfied(claims, [])).toBeUndefined()
  })
})
