import type { DataConnection } from "../../src/core/backends/connection.js"
import { createReadStream } from "node:fs"
import { Readable } from "node:stream"

/**
 * The local directory provider streams with `Bun.file(…).slice(…).stream()`; under vitest on Node there is
 * no `Bun`, so this installs a stand-in with exactly that surface (over node:fs). No-op under Bun.
 */
interface BunFileSurface {
  readonly file: (path: string) => { slice: (start: number, end: number) => { stream: () => ReadableStream<Uint8Array> } }
}

export const installBunFileStandIn = (): void => {
  const globals = globalThis as { Bun?: unknown }
  if (globals.Bun !== undefined) return
  const surface: BunFileSurface = {
    file: (path) => ({
      slice: (start, end) => ({
        stream: () =>
          end <= start
            ? new ReadableStream<Uint8Array>({ start: (controller) => controller.close() })
            : (Readable.toWeb(createReadStream(path, { start, end: end - 1 })) as unknown as ReadableStream<Uint8Array>)
      })
    })
  }
  globals.Bun = surface
}

/** A writable `local` connection over the directory `data` beside the store's root, for the local-store suites. */
export const localConnection: DataConnection = {
  data_connection_id: "local",
  read_only: false,
  details: { provider: "local", path: "data" },
  authentication: { type: "unsigned" }
}
