import type { Query } from "../routing/query.js"

/** ListObjects parameters, as the client sent them (in the client's namespace: bucket = account). */
export interface ListParams {
  readonly version: 1 | 2
  readonly prefix: string
  readonly delimiter: string
  readonly maxKeys: number
  /** V2 `continuation-token`: opaque, handed back to whoever issued it. */
  readonly continuationToken: string | undefined
  /** V2 `start-after` or V1 `marker`. */
  readonly startAfter: string | undefined
  readonly encodingType: string | undefined
}

export const MAX_KEYS = 1000

/** As S3 and the Rust proxy: a missing or unreadable `max-keys` is 1000, larger values are capped. */
const parseMaxKeys = (raw: string | undefined): number => {
  if (raw === undefined || !/^\d+$/.test(raw.trim())) return MAX_KEYS
  return Math.min(Number(raw.trim()), MAX_KEYS)
}

const nonEmpty = (value: string | undefined) => (value === undefined || value === "" ? undefined : value)

export const parseListParams = (query: Query): ListParams => {
  const version = query.get("list-type") === "2" ? 2 : 1
  return {
    version,
    prefix: query.get("prefix") ?? "",
    delimiter: query.get("delimiter") ?? "",
    maxKeys: parseMaxKeys(query.get("max-keys")),
    continuationToken: version === 2 ? nonEmpty(query.get("continuation-token")) : undefined,
    startAfter: nonEmpty(version === 2 ? query.get("start-after") : query.get("marker")),
    encodingType: query.get("encoding-type")
  }
}
