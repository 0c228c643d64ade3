import * as Effect from "effect/Effect"
import { BackendUnavailable } from "../../s3/errors.js"
import type { UpstreamRequest } from "../../services/Upstream.js"
import { discard, documentText } from "../answer.js"
import { blockId } from "./blockIds.js"
import { parseUncommittedBlocks, type StagedBlock } from "./blockList.js"
import { type AzureWriterOptions, blobUrl } from "./blobService.js"
import { answeredAt, refusal } from "./writeAnswers.js"

/** The block requests multipart makes on one blob: Get Block List (uncommitted) and Put Block. */
export const blockRequests = ({ base, send }: AzureWriterOptions) => {
  /** The blob's uncommitted blocks, in Azure's order, and when Azure answered; none when the blob does not exist. */
  const stagedBlocks = Effect.fnUntraced(function*(key: string) {
    const response = yield* send("GET", `${blobUrl(base, key)}?comp=blocklist&blocklisttype=uncommitted`, new Headers())
    const at = yield* answeredAt(response)
    if (response.status === 404) {
      yield* discard(response)
      return { staged: [] as ReadonlyArray<StagedBlock>, at }
    }
    if (response.status !== 200) return yield* refusal(response, "Get Block List")
    const text = yield* documentText(response, "block list")
    const staged = parseUncommittedBlocks(text)
    if (staged === undefined) return yield* new BackendUnavailable({ reason: "unexpected Get Block List document" })
    return { staged, at }
  })

  /** The blob's uncommitted block names; none when the blob does not exist. */
  const uncommitted = (key: string) => Effect.map(stagedBlocks(key), ({ staged }) => new Set(staged.map((block) => block.name)))

  /** Put Block: the body streamed under the block id `id`. */
  const putBlockNamed = Effect.fnUntraced(function*(key: string, id: string, body: UpstreamRequest["body"], length: number, md5: string | null) {
    const headers = new Headers({ "content-length": String(length) })
    // fetch labels a string body text/plain on its own; set here, it is signed.
    if (typeof body === "string") headers.set("content-type", "application/octet-stream")
    if (md5 !== null) headers.set("content-md5", md5)
    const url = `${blobUrl(base, key)}?comp=block&blockid=${encodeURIComponent(id)}`
    const response = yield* send("PUT", url, headers, body)
    if (response.status !== 201) return yield* refusal(response, "Put Block")
    yield* discard(response)
  })

  /** Put Block under `tag`'s block id. */
  const putBlock = (key: string, tag: string, body: UpstreamRequest["body"], length: number, md5: string | null) =>
    putBlockNamed(key, blockId(tag), body, length, md5)

  return { stagedBlocks, uncommitted, putBlock, putBlockNamed }
}

export type BlockRequests = ReturnType<typeof blockRequests>
