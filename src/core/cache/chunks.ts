import type { ByteRange } from "../s3/range.js"

/** ADR-009: 4 MiB chunks, aligned on multiples of the chunk size from the object's first byte. */
export const DEFAULT_CHUNK_SIZE = 4 * 1024 * 1024

/** One aligned chunk a request covers, and the part of it the client gets: bytes [from, to) of the chunk. */
export interface ChunkSlice {
  readonly index: number
  /** The chunk's own length: `chunkSize`, or less for the object's last chunk. */
  readonly length: number
  readonly from: number
  readonly to: number
}

/** Consecutive missing chunks, fetched with one ranged request for the object's bytes start..end (inclusive). */
export interface ChunkRun {
  readonly slices: ReadonlyArray<ChunkSlice>
  readonly start: number
  readonly end: number
}

/** The bytes an object of `size` answers for `range` (start..end inclusive) and the chunks they lie in. */
export interface ChunkPlan {
  readonly start: number
  readonly end: number
  readonly slices: ReadonlyArray<ChunkSlice>
}

/** The object's bytes of chunk `index`, start..end inclusive. */
export const chunkBounds = (index: number, size: number, chunkSize: number) => {
  const start = index * chunkSize
  return { start, end: Math.min(size, start + chunkSize) - 1 }
}

/**
 * The chunks covering a satisfiable range (as `resolveRange` gives it) of an object of `size` bytes. A Full
 * range of an empty object covers no chunk.
 */
export const planChunks = (
  size: number,
  range: Exclude<ByteRange, { readonly _tag: "Unsatisfiable" }>,
  chunkSize: number = DEFAULT_CHUNK_SIZE
): ChunkPlan => {
  const start = range._tag === "Full" ? 0 : range.start
  const end = range._tag === "Full" ? size - 1 : Math.min(range.end, size - 1)
  const slices: Array<ChunkSlice> = []
  if (end < start) return { start, end, slices }
  for (let index = Math.floor(start / chunkSize); index * chunkSize <= end; index++) {
    const bounds = chunkBounds(index, size, chunkSize)
    slices.push({
      index,
      length: bounds.end - bounds.start + 1,
      from: Math.max(start, bounds.start) - bounds.start,
      to: Math.min(end, bounds.end) + 1 - bounds.start
    })
  }
  return { start, end, slices }
}

/** The slices `isCached` says are absent, grouped into runs of consecutive chunks, in order. */
export const missingRuns = (
  slices: ReadonlyArray<ChunkSlice>,
  isCached: (index: number) => boolean,
  chunkSize: number = DEFAULT_CHUNK_SIZE
): ReadonlyArray<ChunkRun> => {
  const runs: Array<{ readonly slices: Array<ChunkSlice>; readonly start: number; end: number; next: number }> = []
  for (const slice of slices) {
    if (isCached(slice.index)) continue
    const end = slice.index * chunkSize + slice.length - 1
    const last = runs[runs.length - 1]
    if (last !== undefined && last.next === slice.index) {
      last.slices.push(slice)
      last.end = end
      last.next = slice.index + 1
    } else {
      runs.push({ slices: [slice], start: slice.index * chunkSize, end, next: slice.index + 1 })
    }
  }
  return runs.map(({ slices, start, end }) => ({ slices, start, end }))
}
