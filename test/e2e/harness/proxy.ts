import { exited, spawnTracked, stopProcess, tail } from "../../fakes/processes.js"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"

/** A proxy under test, whatever runs it (Bun here; workerd in test/workerd). */
export interface RunningProxy {
  /** `http://127.0.0.1:PORT`, no trailing slash. */
  readonly url: string
  stop(): Promise<void>
}

/** Starts a proxy with these environment settings (SOURCE_API_URL, *_TIMEOUT_MS, LOG_LEVEL, CATALOG…). */
export type StartProxy = (env: Record<string, string>) => Promise<RunningProxy>

export const REPO_ROOT = resolve(import.meta.dirname, "../../..")

const LISTENING = /Source Data Proxy listening on (http:\/\/[^\s;]+)/

/**
 * `bun src/platform/bun/main.ts` as a subprocess. PORT defaults to 0 (Bun picks a free port and prints
 * it, so there is no race between choosing and binding), HOST to 127.0.0.1. Settings not given are
 * removed from the inherited environment, so the caller's shell cannot change what is tested.
 */
const PROXY_SETTINGS = new Set([
  "PORT", "HOST", "SOURCE_API_URL", "SOURCE_API_TIMEOUT_MS", "BACKEND_TIMEOUT_MS", "CATALOG", "LOG_LEVEL", "DEV_KEYS", "DEV_IDP_KEYS",
  "REVOCATIONS_DB", "ALLOW_PRIVATE_ENDPOINTS"
])

/** Development keys for every proxy this test process starts, outside the work tree (one file per process). */
const DEV_KEYS_FILE = join(tmpdir(), `sdp-test-keys-${process.pid}.json`)
const DEV_IDP_FILE = join(tmpdir(), `sdp-test-idp-${process.pid}.json`)

export const startBunProxy: StartProxy = async (env) => {
  const inherited = { ...process.env }
  for (const name of Object.keys(inherited)) {
    if (PROXY_SETTINGS.has(name) || /^(OIDC_PROVIDER|SESSION|AUTH|AWS|FEDERATION|PLATFORM)_/.test(name)) delete inherited[name]
  }
  const child = spawnTracked("bun", ["src/platform/bun/main.ts"], {
    cwd: REPO_ROOT,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...inherited, PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "error", DEV_KEYS: DEV_KEYS_FILE, DEV_IDP_KEYS: DEV_IDP_FILE, REVOCATIONS_DB: ":memory:", ...env }
  })
  const stdout = tail()
  const stderr = tail()
  child.stderr?.on("data", stderr.push)

  const url = await new Promise<string>((resolvePromise, reject) => {
    let settled = false
    const done = (error: Error | undefined, value?: string) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      if (error !== undefined) reject(error)
      else resolvePromise(value!)
    }
    const timer = setTimeout(() => {
      void stopProcess(child)
      done(new Error(`the Bun proxy did not start within 30 s\nstdout:\n${stdout.text}\nstderr:\n${stderr.text}`))
    }, 30_000)
    child.stdout?.on("data", (chunk: Buffer) => {
      stdout.push(chunk)
      const match = LISTENING.exec(stdout.text)
      if (match !== null) done(undefined, match[1]!.replace(/\/+$/, ""))
    })
    child.once("error", (error) => done(error))
    child.once("exit", (code, signal) =>
      done(new Error(`the Bun proxy exited (${code ?? signal}) before listening\nstdout:\n${stdout.text}\nstderr:\n${stderr.text}`)))
  })

  return {
    url,
    stop: async () => {
      const wasAlive = !exited(child)
      await stopProcess(child)
      if (!wasAlive) throw new Error(`the Bun proxy had died during the tests (${child.exitCode ?? child.signalCode})\nstdout:\n${stdout.text}\nstderr:\n${stderr.text}`)
    }
  }
}
