/** Query parameters decoded as S3 decodes them (form-urlencoded: `+` is a space). First value wins. */
export interface Query {
  readonly has: (name: string) => boolean
  readonly get: (name: string) => string | undefined
  readonly names: ReadonlyArray<string>
}

export const parseQuery = (search: string): Query => {
  const params = new URLSearchParams(search)
  const first = new Map<string, string>()
  for (const [name, value] of params) if (!first.has(name)) first.set(name, value)
  return { has: (name) => first.has(name), get: (name) => first.get(name), names: [...first.keys()] }
}
