import * as Effect from "effect/Effect"
import { AccessDenied, type BackendInvalidResponse, BackendUnavailable } from "../../s3/errors.js"
import { discard, documentText } from "../answer.js"
import type { AzureSend } from "./blobService.js"
import { type AzurePage, parseEnumerationResults } from "./listXml.js"

export interface ListBlobsQuery {
  readonly prefix: string
  /** "" for none. */
  readonly delimiter: string
  readonly maxResults: number
  readonly marker: string | undefined
  /** Lists blobs that have only uncommitted blocks too (`include=uncommittedblobs`). */
  readonly uncommitted: boolean
}

/** One List Blobs call on the container at `base`: its page, decoded. */
export const listBlobs: (
  send: AzureSend,
  base: string,
  { delimiter, marker, maxResults, prefix, uncommitted }: ListBlobsQuery
) => Effect.Effect<AzurePage, AccessDenied | BackendUnavailable | BackendInvalidResponse> = Effect.fnUntraced(
  function*(send: AzureSend, base: string, { delimiter, marker, maxResults, prefix, uncommitted }: ListBlobsQuery) {
    const query: Array<readonly [string, string]> = [["restype", "container"], ["comp", "list"]]
    if (uncommitted) query.push(["include", "uncommittedblobs"])
    if (prefix !== "") query.push(["prefix", prefix])
    if (delimiter !== "") query.push(["delimiter", delimiter])
    query.push(["maxresults", String(maxResults)])
    if (marker !== undefined) query.push(["marker", marker])
    const url = `${base}?${query.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join("&")}`
    const response = yield* send("GET", url, new Headers())
    if (response.status !== 200) {
      yield* discard(response)
      return yield* response.status === 403 || response.status === 401
        ? new AccessDenied({ reason: "backend refused the listing" })
        : new BackendUnavailable({ reason: `backend answered ${response.status} to a listing` })
    }
    const text = yield* documentText(response, "listing")
    return yield* Effect.mapError(parseEnumerationResults(text), (reason) => new BackendUnavailable({ reason }))
  }
)
