import { BackendInvalidResponse, BackendUnavailable } from "../s3/errors.js"
import type { ChunkSlice } from "./chunks.js"

/**
 * Where the next bytes of a body come from, in order: bytes already taken from the cache (exactly the part the
 * client gets, owned by the body from now on), or a backend body holding the whole chunks `slices` back to back.
 */
export type ChunkSource =
  | { readonly _tag: "Cached"; readonly bytes: Uint8Array<ArrayBuffer> }
  | { readonly _tag: "Backend"; readonly body: ReadableStream<Uint8Array>; readonly slices: ReadonlyArray<ChunkSlice> }

/** Called once per backend chunk received whole, with a buffer the body never touches again. */
export type StoreChunk = (index: number, bytes: Uint8Array<ArrayBuffer>) => void

/**
 * The client's body: each source's part of the requested bytes, in order. A backend body is read as the client
 * pulls (never ahead), its pieces passed on as they arrive and copied into the one chunk being filled, which
 * goes to `store` once whole; so at most one chunk is held besides the cached bytes. The client's body ends with
 * its last byte: the rest of the last chunk is read after it by work handed to `detach` (the request's own
 * work, Workers' `waitUntil`), so a small range does not wait for a whole chunk. A backend body that ends early
 * or runs long errors the stream (or, once the client is served, stores nothing more), and no partial chunk is
 * stored. Cancelling the body cancels every backend body not yet read to its end.
 */
export const assemble = (
  sources: ReadonlyArray<ChunkSource>,
  store: StoreChunk,
  detach: (work: Promise<void>) => void
): ReadableStream<Uint8Array> => {
  /** The client's bytes not yet enqueued. */
  let owed = sources.reduce((n, source) =>
    n + (source._tag === "Cached" ? source.bytes.length : source.slices.reduce((m, slice) => m + slice.to - slice.from, 0)), 0)
  let next = 0
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined
  let slices: ReadonlyArray<ChunkSlice> = []
  let position = 0
  let buffer: Uint8Array<ArrayBuffer> | undefined
  let filled = 0

  /** The backend bodies not yet read to their end, the one being read included. */
  const releaseAll = async (reason: unknown) => {
    const pending = sources.slice(next).flatMap((source) => source._tag === "Backend" ? [source.body] : [])
    const current = reader
    reader = undefined
    next = sources.length
    await Promise.all([
      ...(current === undefined ? [] : [current.cancel(reason)]),
      ...pending.filter((body) => !body.locked).map((body) => body.cancel(reason))
    ]).catch(() => undefined)
  }

  /** Copies `value` into the chunks of the current run and enqueues the part the client asked for. */
  const take = (value: Uint8Array, controller: ReadableStreamDefaultController<Uint8Array>) => {
    let enqueued = false
    let offset = 0
    while (offset < value.length) {
      const slice = slices[position]
      if (slice === undefined) throw new BackendInvalidResponse({ reason: "the backend sent more bytes than the range" })
      buffer ??= new Uint8Array(slice.length)
      const count = Math.min(value.length - offset, slice.length - filled)
      buffer.set(value.subarray(offset, offset + count), filled)
      const from = Math.max(filled, slice.from)
      const to = Math.min(filled + count, slice.to)
      if (from < to) {
        controller.enqueue(value.subarray(offset + from - filled, offset + to - filled))
        owed -= to - from
        enqueued = true
      }
      filled += count
      offset += count
      if (filled === slice.length) {
        store(slice.index, buffer)
        buffer = undefined
        filled = 0
        position++
      }
    }
    return enqueued
  }

  const pull = async (controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> => {
    for (;;) {
      if (reader === undefined) {
        const source = sources[next]
        if (source === undefined) return controller.close()
        if (source._tag === "Cached") {
          next++
          if (source.bytes.length === 0) continue
          owed -= source.bytes.length
          controller.enqueue(source.bytes)
          if (owed === 0) controller.close()
          return
        }
        reader = source.body.getReader()
        slices = source.slices
        position = 0
        filled = 0
        buffer = undefined
      }
      const { done, value } = await reader.read()
      if (done) {
        if (position < slices.length) throw new BackendUnavailable({ reason: "the backend body ended before the range" })
        reader.releaseLock()
        reader = undefined
        next++
        continue
      }
      if (take(value, controller)) {
        if (owed === 0) finish(controller)
        return
      }
    }
  }

  /** The client has every byte: close its body and read the rest of the current run's last chunk apart. */
  const finish = (controller: ReadableStreamDefaultController<Uint8Array>) => {
    controller.close()
    const current = reader
    if (current === undefined) return
    reader = undefined
    next = sources.length
    detach((async () => {
      for (;;) {
        const { done, value } = await current.read()
        if (done) return
        take(value, controller)
      }
    })().catch(async (error: unknown) => {
      buffer = undefined
      await current.cancel(error).catch(() => undefined)
    }))
  }

  return new ReadableStream<Uint8Array>({
    pull: (controller) =>
      pull(controller).catch(async (error: unknown) => {
        buffer = undefined
        await releaseAll(error)
        throw error
      }),
    cancel: releaseAll
  }, { highWaterMark: 0 })
}
