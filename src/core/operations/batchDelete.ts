import * as Effect from "effect/Effect"
import type { ObjectWriter, Storage } from "../backends/ObjectStore.js"
import { forgetObject } from "../cache/objectCache.js"
import type { Catalog } from "../catalog/Catalog.js"
import { writable } from "../authz/enforce.js"
import type { Identity } from "../authz/Identity.js"
import { xmlReply, type Reply } from "../http/Reply.js"
import type { Payload } from "../identity/resolveIdentity.js"
import { AccessDenied, InvalidArgument, type S3Error } from "../s3/errors.js"
import { keyProblem } from "../s3/keys.js"
import { codeOf, messageOf } from "../s3/renderError.js"
import type { EdgeCache } from "../services/EdgeCache.js"
import { type DeleteOutcome, deleteResultXml, parseDeleteRequest } from "../s3/writeXml.js"
import { readXmlBody } from "./xmlBody.js"

/** A key's failure as DeleteObjects reports it: the code and message the error table gives it. */
const failed = (key: string, error: S3Error): DeleteOutcome => ({ key, error: { code: codeOf(error), message: messageOf(error) } })

/**
 * DeleteObjects: every key resolved to its product and authorized on its own; a key that may not be deleted
 * is reported in the result, and the others are deleted, one backend call per product.
 */
export const deleteObjects: (
  identity: Identity,
  account: string,
  product: string | undefined,
  payload: Payload
) => Effect.Effect<Reply, S3Error, Catalog | Storage | EdgeCache> = Effect.fnUntraced(
  function*(identity: Identity, account: string, product: string | undefined, payload: Payload) {
    const { keys, quiet } = yield* Effect.flatMap(readXmlBody(payload), parseDeleteRequest)
    const outcomes = new Map<number, DeleteOutcome>()
    const byProduct = new Map<string, Array<{ readonly index: number; readonly key: string }>>()
    keys.forEach((clientKey, index) => {
      const slash = clientKey.indexOf("/")
      const [p, key] = product !== undefined ? [product, clientKey] : [clientKey.slice(0, slash), clientKey.slice(slash + 1)]
      if ((product === undefined && slash <= 0) || keyProblem(key)) {
        outcomes.set(index, failed(clientKey, new InvalidArgument({ message: "Invalid object key" })))
      } else {
        byProduct.set(p, [...(byProduct.get(p) ?? []), { index, key }])
      }
    })
    for (const [p, entries] of byProduct) {
      const allowed: Array<{ readonly index: number; readonly key: string; readonly backend: string }> = []
      let writer: ObjectWriter | undefined
      for (const entry of entries) {
        const found = yield* Effect.either(writable(identity, { account, product: p, key: entry.key }))
        if (found._tag === "Left") {
          // Whatever kept the key from its product, the client learns only that it is missing or denied.
          const error = found.left._tag === "NoSuchBucket" ? found.left : new AccessDenied({ reason: "delete" })
          outcomes.set(entry.index, failed(keys[entry.index]!, error))
        } else {
          writer = found.right.writer
          allowed.push({ index: entry.index, key: entry.key, backend: found.right.key })
        }
      }
      if (writer !== undefined && allowed.length > 0) {
        const results = yield* writer.deleteMany(allowed.map((a) => a.backend))
        yield* Effect.forEach(allowed, (a) => forgetObject({ account, product: p, key: a.key }), { discard: true })
        results.forEach((result, i) => {
          const entry = allowed[i]!
          outcomes.set(entry.index, { key: keys[entry.index]!, error: result.error })
        })
      }
    }
    return xmlReply(deleteResultXml(keys.map((key, index) => outcomes.get(index) ?? { key, error: undefined }), quiet))
  }
)
