import { type ChildProcess, spawn, type SpawnOptions } from "node:child_process"
import { createServer } from "node:net"

/**
 * Child processes the harness started, killed (whole process group) when the test process exits, so a
 * crashed or interrupted run leaves nothing behind.
 */
const live = new Set<ChildProcess>()

const killGroup = (child: ChildProcess, signal: NodeJS.Signals) => {
  if (child.pid === undefined) return
  try {
    process.kill(-child.pid, signal)
  } catch {
    try {
      child.kill(signal)
    } catch {
      // already gone
    }
  }
}

const killAll = () => {
  for (const child of live) killGroup(child, "SIGKILL")
}
process.once("exit", killAll)
// Vitest ends its fork workers with SIGTERM, which skips "exit" handlers: clean up, then die of the signal.
for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) {
  process.once(signal, () => {
    killAll()
    process.kill(process.pid, signal)
  })
}

/** Spawn in a new process group (so `stop` reaches grandchildren too) and remember it for exit cleanup. */
export const spawnTracked = (command: string, args: ReadonlyArray<string>, options: SpawnOptions): ChildProcess => {
  const child = spawn(command, args, { ...options, detached: true })
  live.add(child)
  child.once("exit", () => live.delete(child))
  return child
}

export const exited = (child: ChildProcess): boolean => child.exitCode !== null || child.signalCode !== null

/** SIGTERM the group, SIGKILL it if it is still there after `graceMs`; resolves once the child is gone. */
export const stopProcess = (child: ChildProcess, graceMs = 3_000): Promise<void> =>
  new Promise((resolve) => {
    if (exited(child)) {
      live.delete(child)
      return resolve()
    }
    const timer = setTimeout(() => killGroup(child, "SIGKILL"), graceMs)
    child.once("exit", () => {
      clearTimeout(timer)
      live.delete(child)
      resolve()
    })
    killGroup(child, "SIGTERM")
  })

/** A port that was free a moment ago on 127.0.0.1 (the OS picks it). */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Keep the last `max` characters of a stream, for error messages. */
export const tail = (max = 8_000) => {
  let text = ""
  return {
    push: (chunk: Buffer | string) => {
      text = (text + chunk.toString()).slice(-max)
    },
    get text() {
      return text
    }
  }
}
