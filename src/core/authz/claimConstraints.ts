import type { ClaimConstraint } from "../catalog/schema.js"

/** One constraint: the claim must be an own, string-valued member; anything else never matches. */
export const claimSatisfies = (claims: Readonly<Record<string, unknown>>, constraint: ClaimConstraint): boolean => {
  if (!Object.prototype.hasOwnProperty.call(claims, constraint.claim)) return false
  const actual = claims[constraint.claim]
  if (typeof actual !== "string") return false
  switch (constraint.operator) {
    case "equals":
      return actual === constraint.value
    case "starts_with":
      return actual.startsWith(constraint.value)
  }
}

/** A binding's constraints are ANDed (an empty list is satisfied). */
export const allSatisfied = (
  claims: Readonly<Record<string, unknown>>,
  constraints: ReadonlyArray<ClaimConstraint>
): boolean => constraints.every((c) => claimSatisfies(claims, c))

/** Bindings are ORed: the first whose constraints all hold, if any. */
export const firstSatisfied = <B extends { readonly claim_constraints: ReadonlyArray<ClaimConstraint> }>(
  claims: Readonly<Record<string, unknown>>,
  bindings: ReadonlyArray<B>
): B | undefined => bindings.find((b) => allSatisfied(claims, b.claim_constraints))
