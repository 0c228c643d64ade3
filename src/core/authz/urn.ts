/**
 * Resource URNs (docs/authorization.md#role-ceiling): `sc::{account}::product/{product}[/{key}]`, and the patterns a
 * Role's permission statements use: `*`, `sc::{a}::product/*`, `…/{p}` (the product and all it holds),
 * `…/{p}/*`, `…/{p}/{prefix}/*`, and `…/{p}/{key}` (that object only).
 */
export const productUrn = (account: string, product: string): string => `sc::${account}::product/${product}`

export const objectUrn = (account: string, product: string, key: string): string =>
  `${productUrn(account, product)}/${key}`

/** Whether `pattern` covers the resource `urn`. A `/*` pattern stops at a `/` boundary: `…/cogs/*` never covers `…/cogs-private/x`. */
export const covers = (pattern: string, urn: string): boolean => {
  if (pattern === "*") return true
  if (pattern.endsWith("/*")) return urn.startsWith(pattern.slice(0, -1))
  if (pattern === urn) return true
  // A bare product pattern covers everything in the product.
  return /^sc::[^:]+::product\/[^/]+$/.test(pattern) && urn.startsWith(`${pattern}/`)
}

/**
 * Whether some key under `prefix` (an object URN prefix within a product) could be covered by `pattern`:
 * used to keep a listing's common prefixes that lead towards what the ceiling allows.
 */
export const leadsInto = (pattern: string, prefixUrn: string): boolean =>
  covers(pattern, prefixUrn) || (pattern.endsWith("/*") ? pattern.slice(0, -1) : pattern).startsWith(prefixUrn)
