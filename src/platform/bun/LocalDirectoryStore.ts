import { resolve } from "node:path"
import * as Effect from "effect/Effect"
import type { DataConnection } from "../../core/backends/connection.js"
import type { ObjectStore } from "../../core/backends/ObjectStore.js"
import { type ListingFs, nodeListingFs } from "./directoryWalk.js"
import { listObjects } from "./localStore/listing.js"
import { multipartWrites } from "./localStore/multipart.js"
import { multipartListing } from "./localStore/multipartListing.js"
import { objectWrites } from "./localStore/objectWrites.js"
import { readObject } from "./localStore/reads.js"

/**
 * The `local` provider of the embedded default (`bun run dev`): a directory is a bucket, files are objects
 * (docs/backends.md#writes). Range and preconditions are evaluated here as S3 would; bodies stream from disk.
 * Every path is fenced inside the directory (`localStore/paths.ts`); what the store keeps for itself lives
 * under reserved top-level names, never objects.
 */
export const LocalDirectoryProvider = (catalogDir: string, fs: ListingFs = nodeListingFs) => (connection: DataConnection) =>
  Effect.sync((): ObjectStore => {
    const root = resolve(catalogDir, connection.details.path ?? connection.details.bucket ?? ".")
    return {
      read: readObject(root),
      list: listObjects(root, fs),
      writer: { ...objectWrites(root), ...multipartWrites(root), ...multipartListing(root) }
    }
  })
