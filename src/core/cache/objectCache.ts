import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { Reply } from "../http/Reply.js"
import type { ObjectTarget } from "../s3/keys.js"
import { EdgeCache } from "../services/EdgeCache.js"
import { metaKey } from "./readThrough.js"

/**
 * An object's name in the chunk cache: its address in the proxy, each part percent-encoded so no two objects share
 * one. Its chunks' keys add the ETag (readThrough.ts), so bytes of another object or version are never read.
 */
export const objectCacheKey = (target: ObjectTarget): string =>
  `${encodeURIComponent(target.account)}/${encodeURIComponent(target.product)}/${encodeURIComponent(target.key)}`

/**
 * Drops an object's cached metadata after a write through the proxy, so the writer's next read sees the new
 * object here (docs/caching.md#the-chunk-cache); elsewhere it shows once the metadata's TTL runs out.
 */
export const forgetObject = (target: ObjectTarget): Effect.Effect<void, never, EdgeCache> =>
  Effect.flatMap(EdgeCache, (cache) => cache.set(metaKey(objectCacheKey(target)), "", Duration.zero))

/** What a GET the cache did not answer says of itself (docs/caching.md#the-chunk-cache). */
export const bypassed = (reply: Reply): Reply => {
  reply.headers.set("x-cache", "BYPASS")
  return reply
}
