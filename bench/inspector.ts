/**
 * workerd's V8 inspector, for bench/workerdProfile.ts: one Chrome DevTools Protocol session over
 * its WebSocket, CPU profiles, and the functions with most self time in them.
 */
import { originalPositionFor, TraceMap } from "@jridgewell/trace-mapping"
import { existsSync, readFileSync } from "node:fs"
import { createServer } from "node:net"
import { round } from "./stats.js"

export interface CallFrame {
  readonly functionName: string
  readonly url: string
  readonly lineNumber: number
  readonly columnNumber: number
}
export interface ProfileNode {
  readonly id: number
  readonly callFrame: CallFrame
}
export interface Profile {
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly samples: ReadonlyArray<number>
}

/** Profiles what `work` makes the isolate do, sampling every `intervalMicros`. */
export const profiled = async (
  session: Inspector,
  work: () => Promise<void>,
  intervalMicros = 100
): Promise<Profile> => {
  await session.call("Profiler.enable")
  await session.call("Profiler.setSamplingInterval", { interval: intervalMicros })
  await session.call("Profiler.start")
  await work()
  const { profile } = await session.call("Profiler.stop") as { readonly profile: Profile }
  return profile
}

/** A free loopback port (for the inspector; workerd takes a fixed one). */
export const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => (typeof address === "object" && address !== null ? resolve(address.port) : reject(new Error("no port"))))
    })
  })

export interface Inspector {
  readonly call: (method: string, params?: Record<string, unknown>) => Promise<unknown>
  readonly close: () => void
}

/** One Chrome DevTools Protocol session over the inspector's WebSocket, on the target named `proxy`. */
export const inspect = async (port: number): Promise<Inspector> => {
  const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json() as ReadonlyArray<{
    readonly title?: string
    readonly webSocketDebuggerUrl: string
  }>
  const target = targets.find((t) => (t.title ?? "").includes("proxy")) ?? targets[0]
  if (target === undefined) throw new Error("workerd's inspector lists no target")
  const socket = new WebSocket(target.webSocketDebuggerUrl)
  await new Promise((resolve, reject) => {
    socket.onopen = resolve
    socket.onerror = reject
  })
  let next = 0
  const waiting = new Map<number, (result: unknown) => void>()
  socket.onmessage = (event) => {
    const message = JSON.parse(String(event.data)) as { readonly id?: number; readonly result?: unknown }
    if (message.id !== undefined) waiting.get(message.id)?.(message.result)
  }
  return {
    call: (method: string, params: Record<string, unknown> = {}) =>
      new Promise<unknown>((resolve) => {
        const id = ++next
        waiting.set(id, resolve)
        socket.send(JSON.stringify({ id, method, params }))
      }),
    close: () => socket.close()
  }
}

/** A frame as `name source:line`, through the source map of its bundle when there is one. */
const namer = () => {
  const maps = new Map<string, TraceMap | undefined>()
  const mapOf = (url: string) => {
    if (!maps.has(url)) {
      const file = `${url.replace(/^file:\/\//, "")}.map`
      maps.set(url, existsSync(file) ? new TraceMap(readFileSync(file, "utf8")) : undefined)
    }
    return maps.get(url)
  }
  return (frame: CallFrame) => {
    const map = frame.url === "" ? undefined : mapOf(frame.url)
    const at = map === undefined ? undefined : originalPositionFor(map, { line: frame.lineNumber + 1, column: frame.columnNumber })
    if (at?.source == null) {
      const file = frame.url.split("/").pop() ?? ""
      return `${frame.functionName || "(anonymous)"} ${file}${file === "" ? "" : `:${frame.lineNumber + 1}`}`
    }
    const source = at.source.replace(/^.*?(node_modules\/|src\/)/, "$1")
    return `${at.name ?? (frame.functionName || "(anonymous)")} ${source}:${at.line}`
  }
}

export const topSelf = (profile: Profile, rows: number) => {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const nameOf = namer()
  const self = new Map<string, number>()
  for (const id of profile.samples) {
    const frame = byId.get(id)?.callFrame
    if (frame === undefined) continue
    const name = nameOf(frame)
    self.set(name, (self.get(name) ?? 0) + 1)
  }
  const total = profile.samples.length
  return [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, rows)
    .map(([name, n]) => `${String(round((100 * n) / total, 1)).padStart(5)} %  ${name}`)
}
