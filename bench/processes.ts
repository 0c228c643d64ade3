/** Child processes for the HTTP benches: started with a deadline, always killed (also on error or Ctrl-C). */
import { readFileSync } from "node:fs"
import type { Subprocess } from "bun"

type Child = Subprocess<"ignore", "pipe", "inherit">

const children = new Set<Child>()

const killAll = () => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
  }
  children.clear()
}

process.on("exit", killAll)
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    killAll()
    process.exit(130)
  })
}

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
  const child: Child = Bun.spawn(["bun", script], {
    cwd,
    env: { ...process.env, ...env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "inherit"
  })
  children.add(child)
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM")
      const exited = await Promise.race([child.exited.then(() => true), Bun.sleep(3_000).then(() => false)])
      if (!exited) child.kill("SIGKILL")
      await child.exited
    }
    children.delete(child)
  }
  const reader = child.stdout.getReader()
  const decoder = new TextDecoder()
  let seen = ""
  const deadline = Bun.sleep(timeoutMs).then(() => "timeout" as const)
  try {
    for (;;) {
      const chunk = await Promise.race([reader.read(), deadline, child.exited.then(() => "exited" as const)])
      if (chunk === "timeout") throw new Error(`${name} did not start within ${timeoutMs} ms; output: ${seen}`)
      if (chunk === "exited" || chunk.done) throw new Error(`${name} exited before listening; output: ${seen}`)
      seen += decoder.decode(chunk.value, { stream: true })
      const match = seen.match(/listening on (http:\/\/[^\s;]+)/)
      if (match?.[1] !== undefined) {
        void (async () => {
          for (;;) if ((await reader.read()).done) return
        })().catch(() => undefined)
        return { pid: child.pid, origin: match[1], stop }
      }
    }
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

/** User + system CPU seconds a process has used so far (/proc/PID/stat, clock-tick resolution); NaN if unknown. */
export const cpuSecondsOf = (pid: number): number => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    // Fields after the parenthesised command name (which may contain spaces): state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond
  } catch {
    return Number.NaN
  }
}
