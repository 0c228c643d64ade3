import { createHash, type Hash } from "node:crypto"
import { createReadStream } from "node:fs"
import { type FileHandle, mkdir, open } from "node:fs/promises"
import { dirname } from "node:path"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { type BackendUnavailable, InvalidRequest } from "../../../core/s3/errors.js"
import { disk, probe } from "./disk.js"

/**
 * Bytes into files: an upload body streamed to disk (a failing or short body is the client's InvalidRequest),
 * files copied into one another. Interrupting the write stops it between two chunks; the file is closed
 * whatever happens, and removing it is the caller's (`withTempFiles`).
 */

/**
 * The new file `path` (its directory made), open for writing while `use` runs. Closing it is part of the write
 * (a failing close fails it); after a failure it is closed all the same.
 */
const withNewFile = <A, E>(path: string, use: (handle: FileHandle) => Effect.Effect<A, E>): Effect.Effect<A, E | BackendUnavailable> =>
  Effect.zipRight(
    disk(() => mkdir(dirname(path), { recursive: true })),
    Effect.acquireUseRelease(
      disk(() => open(path, "wx")),
      (handle) => Effect.zipLeft(use(handle), disk(() => handle.close())),
      (handle, exit) => (Exit.isSuccess(exit) ? Effect.void : probe(() => handle.close()))
    )
  )

/**
 * The chunks of `body`, one at a time, into `each` until it answers false; the reader's lock is released at
 * the end, the body left to its owner (a failed write does not cancel it).
 */
const eachChunk = <E>(
  body: ReadableStream<Uint8Array>,
  each: (chunk: Uint8Array, reader: ReadableStreamDefaultReader<Uint8Array>) => Effect.Effect<boolean, E>
): Effect.Effect<void, E | InvalidRequest> =>
  Effect.acquireUseRelease(
    Effect.sync(() => body.getReader()),
    Effect.fnUntraced(
      function*(reader) {
        for (;;) {
          const chunk = yield* Effect.tryPromise({
            try: () => reader.read(),
            catch: (cause) => new InvalidRequest({ message: `the body failed: ${String(cause)}` })
          })
          if (chunk.done || !(yield* each(chunk.value, reader))) return
        }
      }),
    (reader) => Effect.sync(() => reader.releaseLock())
  )

/** Streams `body` into the new file `path`, hashing it; fails when the stream errors or its length is not `expectedLength`. */
export const streamToFile: (
  body: ReadableStream<Uint8Array> | null,
  path: string,
  expectedLength: number | undefined
) => Effect.Effect<{ readonly size: number; readonly md5: string }, InvalidRequest | BackendUnavailable> = Effect.fnUntraced(
  function*(body: ReadableStream<Uint8Array> | null, path: string, expectedLength: number | undefined) {
    const hash = createHash("md5")
    let size = 0
    yield* withNewFile(path, (handle) =>
      body === null ? Effect.void : eachChunk(body, (chunk) => {
        hash.update(chunk)
        size += chunk.length
        return Effect.as(disk(() => handle.write(chunk)), true)
      }))
    if (expectedLength !== undefined && size !== expectedLength) {
      return yield* new InvalidRequest({ message: `the body had ${size} bytes, ${expectedLength} declared` })
    }
    return { size, md5: hash.digest("hex") }
  }
)

/** Whether `body` holds any byte (read until the first one, then cancelled). */
export const hasBytes: (
  body: ReadableStream<Uint8Array> | null
) => Effect.Effect<boolean, InvalidRequest> = Effect.fnUntraced(
  function*(body: ReadableStream<Uint8Array> | null) {
    if (body === null) return false
    let found = false
    yield* eachChunk(body, (chunk, reader) => {
      if (chunk.length === 0) return Effect.succeed(true)
      found = true
      return Effect.as(probe(() => reader.cancel()), false)
    })
    return found
  }
)

/** Writes the files `sources` one after the other into the new file `to`, feeding `hash` the bytes if given. */
export const concatenate = (sources: ReadonlyArray<string>, to: string, hash?: Hash): Effect.Effect<void, BackendUnavailable> =>
  withNewFile(to, (out) =>
    Effect.forEach(sources, (source) =>
      Effect.acquireUseRelease(
        Effect.sync(() => createReadStream(source, { highWaterMark: 1024 * 1024 })[Symbol.asyncIterator]()),
        Effect.fnUntraced(
          function*(chunks) {
            for (;;) {
              const next = yield* disk(() => chunks.next())
              if (next.done === true) return
              const chunk = next.value as Uint8Array
              hash?.update(chunk)
              yield* disk(() => out.write(chunk))
            }
          }),
        (chunks) => probe(async () => chunks.return?.())
      ), { discard: true }))
