/**
 * The bench's servers as child processes, started with a deadline; test/fakes/processes.ts spawns them and
 * kills whatever is left when the bench exits (also on error or Ctrl-C).
 */
import { readdirSync, readFileSync } from "node:fs"
import { spawnTracked, stopProcess } from "../test/fakes/processes.js"

export interface Started {
  readonly pid: number
  readonly origin: string
  readonly stop: () => Promise<void>
}

/**
 * Spawns `bun {script}` with `env` and waits (at most `timeoutMs`) for a stdout line containing
 * `listening on http://host:port`; the rest of stdout is drained so the child never blocks on a full pipe.
 */
export const start = async (
  name: string,
  script: string,
  env: Record<string, string>,
  cwd: string,
  timeoutMs = 20_000
): Promise<Started> => {
  const child = spawnTracked("bun", [script], {
    cwd,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "inherit"]
  })
  const stop = () => stopProcess(child)
  try {
    const origin = await new Promise<string>((resolve, reject) => {
      let seen = ""
      const fail = (reason: string) => () => {
        clearTimeout(timer)
        reject(new Error(`${name} ${reason}; output: ${seen}`))
      }
      const timer = setTimeout(fail(`did not start within ${timeoutMs} ms`), timeoutMs)
      const exited = fail("exited before listening")
      child.once("exit", exited)
      child.once("error", (error) => {
        clearTimeout(timer)
        reject(error)
      })
      const stdout = child.stdout
      if (stdout === null) return reject(new Error(`${name}: no stdout`))
      stdout.setEncoding("utf8")
      const read = (chunk: string) => {
        seen += chunk
        const match = seen.match(/listening on (http:\/\/[^\s;]+)/)
        if (match?.[1] === undefined) return
        clearTimeout(timer)
        child.off("exit", exited)
        stdout.off("data", read)
        stdout.resume()
        resolve(match[1])
      }
      stdout.on("data", read)
    })
    if (child.pid === undefined) throw new Error(`${name} has no pid`)
    return { pid: child.pid, origin, stop }
  } catch (error) {
    await stop()
    throw error
  }
}

/** `VmRSS` / `VmHWM` of a process in MiB, from /proc (Linux); NaN where unavailable. */
export const memoryOf = (pid: number): { readonly rss: number; readonly hwm: number } => {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8")
    const field = (name: string) => Number(status.match(new RegExp(`^${name}:\\s+(\\d+) kB`, "m"))?.[1] ?? Number.NaN) / 1024
    return { rss: field("VmRSS"), hwm: field("VmHWM") }
  } catch {
    return { rss: Number.NaN, hwm: Number.NaN }
  }
}

/** Samples `VmRSS` of `pid` every `everyMs` until stopped; returns the maximum seen (MiB). */
export const sampleRss = (pid: number, everyMs = 5) => {
  let max = memoryOf(pid).rss
  const timer = setInterval(() => {
    const rss = memoryOf(pid).rss
    if (rss > max || Number.isNaN(max)) max = rss
  }, everyMs)
  return {
    stop: (): number => {
      clearInterval(timer)
      return Math.max(max, memoryOf(pid).rss)
    }
  }
}

const ticksPerSecond = (() => {
  const result = Bun.spawnSync(["getconf", "CLK_TCK"], { stdout: "pipe", stderr: "ignore" })
  const value = Number(result.stdout.toString().trim())
  return result.exitCode === 0 && value > 0 ? value : 100
})()

/** User + system CPU seconds of a /proc `stat` file (clock-tick resolution). */
const statCpuSeconds = (stat: string): number => {
  // Fields after the parenthesised command name (which may contain spaces): state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond
}

/** User + system CPU seconds a process has used so far (/proc/PID/stat, every thread); NaN if unknown. */
export const cpuSecondsOf = (pid: number): number => {
  try {
    return statCpuSeconds(readFileSync(`/proc/${pid}/stat`, "utf8"))
  } catch {
    return Number.NaN
  }
}

/** CPU seconds so far of each of a process's JavaScriptCore compiler threads (`JITWorker`), by thread id. */
export const jitThreadsOf = (pid: number): ReadonlyMap<string, number> => {
  const seconds = new Map<string, number>()
  const read = (path: string) => {
    try {
      return readFileSync(path, "utf8")
    } catch {
      return undefined // a thread that ended between the listing and its read
    }
  }
  const tasks = (() => {
    try {
      return readdirSync(`/proc/${pid}/task`)
    } catch {
      return []
    }
  })()
  for (const task of tasks) {
    const stat = read(`/proc/${pid}/task/${task}/stat`)
    if (stat?.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")).startsWith("JIT")) seconds.set(task, statCpuSeconds(stat))
  }
  return seconds
}

/**
 * What the compiler threads used between two snapshots: optimizing compilation, which goes on for as long as code
 * is recompiled (issue #11: generators made per call were, for good). A thread that ended in between is not
 * counted, so this is a lower bound.
 */
export const jitSecondsBetween = (before: ReadonlyMap<string, number>, after: ReadonlyMap<string, number>): number => {
  let seconds = 0
  for (const [task, now] of after) seconds += now - (before.get(task) ?? 0)
  return seconds
}
