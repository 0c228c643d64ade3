import { type ChildProcess, spawn, type SpawnOptions } from "node:child_process"
import { createServer } from "node:net"

/**
 * Child processes the tests and the bench started, killed (whole process group) when this process exits, so a
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

/**
 * Runs `"$@"` under a bash watchdog that holds the pipe on its stdin: when this process dies without
 * stopping it (a SIGKILLed test worker runs no exit hooks), the pipe closes, `read` returns and the
 * command is killed. The shell exits with the command's status when the command ends by itself.
 */
const WATCHDOG = [
  "exec 3<&0",
  "\"$@\" </dev/null &",
  "pid=$!",
  "{ read -r _ <&3; kill \"$pid\" 2>/dev/null; } &",
  "reader=$!",
  "exec 3<&-",
  "wait \"$pid\"",
  "status=$?",
  "kill \"$reader\" 2>/dev/null",
  "exit \"$status\""
].join("\n")

/** `spawnTracked` with the command under the stdin watchdog; stdin is the watchdog's pipe, stdout and stderr are piped. */
export const spawnWatched = (command: string, args: ReadonlyArray<string>, options: Omit<SpawnOptions, "stdio">): ChildProcess => {
  const child = spawnTracked("bash", ["-c", WATCHDOG, "watchdog", command, ...args], { ...options, stdio: ["pipe", "pipe", "pipe"] })
  child.stdin?.on("error", () => {})
  return child
}

export const exited = (child: ChildProcess): boolean => child.exitCode !== null || child.signalCode !== null

/**
 * SIGTERM the group, SIGKILL it if it is still there after `graceMs`; resolves once the child is gone.
 * Once the child has exited, whatever is left of its group (workerd under Bun, moto under its watchdog)
 * is SIGKILLed, so nothing outlives it.
 */
export const stopProcess = (child: ChildProcess, graceMs = 3_000): Promise<void> =>
  new Promise((resolve) => {
    const timer = setTimeout(() => killGroup(child, "SIGKILL"), graceMs)
    const done = () => {
      clearTimeout(timer)
      live.delete(child)
      killGroup(child, "SIGKILL")
      resolve()
    }
    if (exited(child)) return done()
    child.once("exit", done)
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
