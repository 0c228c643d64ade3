import * as Effect from "effect/Effect"
import type { Query } from "../http/query.js"
import { InvalidArgument } from "./errors.js"

/** ListObjects parameters, as the client sent them (in the client's namespace: bucket = account). */
export interface ListParams {
  readonly version: 1 | 2
  readonly prefix: string
  readonly delimiter: string
  readonly maxKeys: number
  /** V2 `continuation-token`: opaque, handed back to whoever issued it; an empty one is no token. */
  readonly continuationToken: string | undefined
  /** V2 `continuation-token` as sent, echoed even when empty, as S3 does (s3-tests `listv2_continuationtoken_empty`). */
  readonly sentContinuationToken: string | undefined
  /** V2 `start-after` or V1 `marker`. */
  readonly startAfter: string | undefined
  readonly encodingType: string | undefined
}

export const MAX_KEYS = 1000

/**
 * Parameters only a listing takes: any of them makes `GET /{account}/{product}` a listing
 * (docs/listing.md#forms-of-a-listing).
 */
const LISTING_PARAMETERS = [
  "list-type", "prefix", "delimiter", "max-keys", "marker", "encoding-type", "continuation-token", "start-after", "fetch-owner"
]

export const asksForListing = (query: Query): boolean => LISTING_PARAMETERS.some((name) => query.has(name))

/** Missing: 1000; larger values are capped (as S3); anything but a non-negative integer is refused (as S3). */
const parseMaxKeys = (raw: string | undefined): Effect.Effect<number, InvalidArgument> =>
  raw === undefined
    ? Effect.succeed(MAX_KEYS)
    : /^\d+$/.test(raw)
    ? Effect.succeed(Math.min(Number(raw), MAX_KEYS))
    : Effect.fail(new InvalidArgument({ message: "Provided max-keys not an integer or within integer range" }))

const nonEmpty = (value: string | undefined) => (value === undefined || value === "" ? undefined : value)

export const parseListParams = (query: Query): Effect.Effect<ListParams, InvalidArgument> =>
  Effect.map(parseMaxKeys(query.get("max-keys")), (maxKeys) => {
    const version = query.get("list-type") === "2" ? 2 : 1
    const sentContinuationToken = version === 2 ? query.get("continuation-token") : undefined
    return {
      version,
      prefix: query.get("prefix") ?? "",
      delimiter: query.get("delimiter") ?? "",
      maxKeys,
      continuationToken: nonEmpty(sentContinuationToken),
      sentContinuationToken,
      startAfter: nonEmpty(version === 2 ? query.get("start-after") : query.get("marker")),
      encodingType: query.get("encoding-type")
    }
  })
