import { join } from "node:path"
import * as Effect from "effect/Effect"
import { namesImpossiblePosition, pageBuilder, tokenIssuedFor } from "../../../core/backends/listSorted.js"
import type { ObjectStore } from "../../../core/backends/ObjectStore.js"
import { BackendUnavailable, InvalidArgument } from "../../../core/s3/errors.js"
import { type ListingFs, walkKeys } from "../directoryWalk.js"
import { probe } from "./disk.js"
import { isReserved, markerOf, within } from "./paths.js"
import { EMPTY_ETAG, recordOf } from "./records.js"

/**
 * One page, walking the tree lazily in byte order from the prefix's directory: subtrees the page cannot use
 * (outside the prefix, before start-after, under a prefix already rolled up) are never read, and the walk
 * stops at the key past max-keys. Only listed files (and the markers of empty folders) are stat'ed; one removed
 * meanwhile is left out. A token this store did not issue is refused (one naming an impossible position is
 * answered below, as such).
 */
export const listObjects = (root: string, fs: ListingFs): ObjectStore["list"] => {
  /** Whether the folder `dirKey` (ending in `/`) has a marker: asked by the walk of an empty directory only. */
  const isMarked = (dirKey: string) => {
    const marker = markerOf(root, dirKey)
    return marker === undefined ? Promise.resolve(false) : fs.stat(marker.record).then((i) => i.isFile(), () => false)
  }

  return Effect.fnUntraced(
    function*(request) {
      if (!namesImpossiblePosition(request) && !tokenIssuedFor(request)) {
        return yield* new InvalidArgument({ message: "The continuation token provided is incorrect" })
      }
      const builder = pageBuilder(request)
      const dir = request.prefix.slice(0, request.prefix.lastIndexOf("/") + 1)
      if (namesImpossiblePosition(request) || within(root, dir) === undefined || isReserved(dir) || builder.skips(dir)) {
        return builder.page()
      }
      yield* Effect.acquireUseRelease(
        Effect.sync(() => walkKeys(fs, root, dir, builder.skips, isReserved, isMarked)),
        Effect.fnUntraced(
          function*(keys) {
            for (;;) {
              const next = yield* Effect.tryPromise({
                try: () => keys.next(),
                catch: (cause) => new BackendUnavailable({ reason: `local listing failed: ${String(cause)}` })
              })
              if (next.done === true) return
              const key = next.value
              const placed = builder.place(key)
              if (placed === "full") return
              if (placed !== "object") continue
              const marker = markerOf(root, key)
              const info = yield* probe(() => fs.stat(marker?.record ?? join(root, key)))
              if (info?.isFile() === true) {
                const etag = marker === undefined ? (yield* recordOf(root, key, info)).etag : EMPTY_ETAG
                builder.add({ key, size: info.size, lastModified: info.mtime, etag })
              }
            }
          }),
        (keys) => probe(() => keys.return(undefined))
      )
      return builder.page()
    })
}
