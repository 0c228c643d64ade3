import type { Dirent, Stats } from "node:fs"
import { readdir, stat } from "node:fs/promises"
import { join } from "node:path"
import { compareUtf8 } from "../../core/shared/utf8.js"

/** The file system calls a listing makes: a seam, so tests can count what a page reads. */
export interface ListingFs {
  readonly readdir: (path: string) => Promise<ReadonlyArray<Dirent>>
  readonly stat: (path: string) => Promise<Stats>
}

export const nodeListingFs: ListingFs = {
  readdir: (path) => readdir(path, { withFileTypes: true }),
  stat: (path) => stat(path)
}

/**
 * The files under `dir` (a key prefix: "" or ending in `/`) of the directory `root`, as keys, lazily and in S3
 * byte order. A directory is read only when the walk reaches it; its entries are ordered as their keys sort, a
 * subdirectory `a` as `a/` (so after `a-b` and `a.txt`, before `a0`); a subdirectory whose keys `skips` rules
 * out is never read. Symbolic links are not followed and `hidden` keys (with what is under them) are left out.
 * A directory that cannot be read has no files. A directory with nothing in it yields its folder marker `dir`
 * when `marked` says it has one (so the folder still lists, as S3 lists a folder that holds only its marker);
 * in a folder with entries the marker is not asked for, as those entries already make the folder.
 */
export async function* walkKeys(
  fs: ListingFs,
  root: string,
  dir: string,
  skips: (keyPrefix: string) => boolean,
  hidden: (key: string) => boolean,
  marked: (dirKey: string) => Promise<boolean>
): AsyncGenerator<string> {
  const entries = await fs.readdir(join(root, dir)).catch(() => [])
  const sorted = entries.flatMap((entry) => {
    const key = dir + entry.name
    if (hidden(key)) return []
    if (entry.isDirectory()) return [{ key: `${key}/`, directory: true }]
    return entry.isFile() ? [{ key, directory: false }] : []
  }).sort((a, b) => compareUtf8(a.key, b.key))
  if (sorted.length === 0 && dir !== "" && await marked(dir)) yield dir
  for (const { key, directory } of sorted) {
    if (skips(key)) continue
    if (directory) yield* walkKeys(fs, root, key, skips, hidden, marked)
    else yield key
  }
}
