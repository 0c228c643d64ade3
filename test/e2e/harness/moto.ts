import { exited, freePort, sleep, spawnWatched, stopProcess, tail } from "../../fakes/processes.js"

export interface RunningMoto {
  /** `http://127.0.0.1:PORT`, path-style S3 (moto does not check signatures). */
  readonly endpoint: string
  stop(): Promise<void>
}

/**
 * Starts `moto_server` on a free 127.0.0.1 port and waits until it answers. It runs under the stdin
 * watchdog, so it goes away even when this process is killed without running its exit hooks.
 */
export const startMoto = async (): Promise<RunningMoto> => {
  const port = await freePort()
  const child = spawnWatched("moto_server", ["-H", "127.0.0.1", "-p", String(port)], {
    env: { ...process.env, PYTHONUNBUFFERED: "1" }
  })
  const output = tail()
  child.stdout?.on("data", output.push)
  child.stderr?.on("data", output.push)
  const endpoint = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 30_000
  for (;;) {
    if (exited(child)) throw new Error(`moto_server exited (${child.exitCode ?? child.signalCode}):\n${output.text}`)
    try {
      const response = await fetch(`${endpoint}/`, { signal: AbortSignal.timeout(1_000) })
      await response.arrayBuffer()
      if (response.ok) break
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) {
      await stopProcess(child)
      throw new Error(`moto_server did not answer on ${endpoint} within 30 s:\n${output.text}`)
    }
    await sleep(100)
  }
  return { endpoint, stop: () => stopProcess(child) }
}
