/** `YYYYMMDDTHHMMSSZ` (ISO 8601 basic, UTC) → epoch milliseconds, or undefined if it is not a valid instant. */
export const parseAmzDate = (text: string): number | undefined => {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text)
  if (m === null) return undefined
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number]
  const ms = Date.UTC(y, mo - 1, d, h, mi, s)
  return formatAmzDate(ms) === text ? ms : undefined
}

/** Epoch milliseconds → `YYYYMMDDTHHMMSSZ`. */
export const formatAmzDate = (ms: number): string => new Date(ms).toISOString().replace(/[-:]|\.\d{3}/g, "")

/** A `Date:` header (RFC 7231, e.g. `Tue, 27 Mar 2007 19:36:42 GMT`) → epoch milliseconds. */
export const parseHttpDate = (text: string): number | undefined => {
  if (!/GMT$|UTC$|[+-]0000$/.test(text.trim())) return undefined
  const ms = Date.parse(text)
  return Number.isNaN(ms) ? undefined : ms - (ms % 1000)
}
