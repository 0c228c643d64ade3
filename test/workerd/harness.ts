/**
 * Runs the real Worker bundle (dist/worker/main.js, as `bun run build:worker` makes it) in workerd.
 *
 * - The bundle is (re)built at most once per test process, and only when it is missing or older than a
 *   file it is built from (src/, package.json, wrangler.toml, bun.lock, tsconfig.json). Test files run in
 *   parallel workers, so the build holds a lock directory and writes to a scratch directory first; the
 *   finished files are renamed into dist/worker, so nobody ever starts a half-written bundle.
 * - Each `startWorkerdProxy` spawns `bun test/workerd/serve.ts` (Miniflare needs Node ≥ 22; the tests run
 *   on Node 20) in its own process group, with the env as plain-text bindings, and waits for its
 *   `READY <url>` line. `stop()` ends the whole group (Bun and workerd) and resolves once it is gone.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { sleep, spawnTracked, stopProcess, tail } from "../fakes/processes.js"
import { exportPKCS8, generateKeyPair } from "jose"

export interface RunningWorkerd {
  /** `http://127.0.0.1:PORT` */
  readonly url: string
  /** What the Worker (and Miniflare) printed so far: console output, Effect logs. */
  logs(): string
  stop(): Promise<void>
}

const ROOT = fileURLToPath(new URL("../..", import.meta.url))
const OUT_DIR = join(ROOT, "dist", "worker")
const BUNDLE = join(OUT_DIR, "main.js")
/** esbuild's account of the bundle's inputs, written next to it. */
export const BUNDLE_META = join(OUT_DIR, "bundle-meta.json")
const LOCK = join(ROOT, "dist", ".worker-build.lock")
const SERVE = fileURLToPath(new URL("./serve.ts", import.meta.url))

/** What the bundle is built from; anything newer than the bundle makes it stale. */
const INPUTS = ["src", "package.json", "wrangler.toml", "bun.lock", "tsconfig.json"]

const newestMtime = (path: string): number => {
  let stat
  try {
    stat = statSync(path)
  } catch {
    return 0
  }
  if (!stat.isDirectory()) return stat.mtimeMs
  return readdirSync(path).reduce((newest, name) => Math.max(newest, newestMtime(join(path, name))), stat.mtimeMs)
}

const bundleMtime = (): number => {
  try {
    return statSync(BUNDLE).mtimeMs
  } catch {
    return -1
  }
}

const isStale = () => bundleMtime() < Math.max(...INPUTS.map((input) => newestMtime(join(ROOT, input))))

/** Measured for the report: how long the build took in this process (0 when the bundle was fresh). */
export const timings = { buildMs: 0, startsMs: [] as Array<number> }

/** `mkdir` is atomic: the first worker in builds, the others wait and then find the bundle fresh. */
const withBuildLock = async <A>(body: () => Promise<A>): Promise<A> => {
  mkdirSync(join(ROOT, "dist"), { recursive: true })
  const deadline = Date.now() + 180_000
  for (;;) {
    try {
      mkdirSync(LOCK)
      break
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code !== "EEXIST") throw cause
      // A lock older than any build could take was left by a killed run.
      try {
        if (Date.now() - statSync(LOCK).mtimeMs > 120_000) rmSync(LOCK, { recursive: true, force: true })
      } catch {
        // it went away meanwhile
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for the build lock ${LOCK}`)
      await sleep(100)
    }
  }
  try {
    return await body()
  } finally {
    rmSync(LOCK, { recursive: true, force: true })
  }
}

const run = (command: string, args: ReadonlyArray<string>, env: NodeJS.ProcessEnv): Promise<string> =>
  new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] })
    let output = ""
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()))
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()))
    child.once("error", reject)
    child.once("exit", (code, signal) =>
      code === 0 ? resolve(output) : reject(new Error(`${command} ${args.join(" ")} failed (${code ?? signal}):\n${output}`)))
  })

/**
 * The same command as `bun run build:worker`, into a scratch directory, with esbuild's metafile
 * (`bundle-meta.json`: which modules went into the bundle). WRANGLER_HIDE_BANNER also skips
 * the banner's npm update check, so the build makes no outbound request at all.
 */
const build = async () => {
  const scratch = join(ROOT, "dist", `.worker-build-${process.pid}`)
  rmSync(scratch, { recursive: true, force: true })
  const started = performance.now()
  try {
    await run("bun", ["--bun", "wrangler", "deploy", "--dry-run", "--outdir", scratch, "--metafile"], {
      ...process.env,
      WRANGLER_SEND_METRICS: "false",
      WRANGLER_HIDE_BANNER: "true"
    })
    mkdirSync(OUT_DIR, { recursive: true })
    // main.js last: once it is renamed in, the bundle is complete and newer than its inputs.
    for (const name of readdirSync(scratch).sort((a, b) => (a === "main.js" ? 1 : b === "main.js" ? -1 : 0))) {
      renameSync(join(scratch, name), join(OUT_DIR, name))
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true })
  }
  timings.buildMs = performance.now() - started
}

let bundleReady: Promise<string> | undefined

/** The path of a bundle that is at least as new as the sources, built if needed (once per process). */
export const ensureBundle = (): Promise<string> =>
  (bundleReady ??= (async () => {
    if (process.env.SDP_WORKERD_REBUILD === "1" || isStale()) {
      await withBuildLock(async () => {
        if (process.env.SDP_WORKERD_REBUILD === "1" || isStale()) await build()
      })
    }
    return BUNDLE
  })())

/** The compatibility date the Worker is deployed with (wrangler.toml), so tests run what production runs. */
export const compatibilityDate = (): string => {
  const match = /^compatibility_date\s*=\s*"([^"]+)"/m.exec(readFileSync(join(ROOT, "wrangler.toml"), "utf8"))
  if (match?.[1] === undefined) throw new Error("wrangler.toml has no compatibility_date")
  return match[1]
}

/** The compatibility flags the Worker is deployed with (wrangler.toml's top level). */
export const compatibilityFlags = (): Array<string> => {
  const match = /^compatibility_flags\s*=\s*(\[[^\]]*\])/m.exec(readFileSync(join(ROOT, "wrangler.toml"), "utf8"))
  return match?.[1] === undefined ? [] : (JSON.parse(match[1]) as Array<string>)
}

/** Ends serve.ts's whole group (Bun and workerd), even when Bun has already exited. */
const stopChild = (child: ChildProcess): Promise<void> => stopProcess(child, 5_000)

export interface WorkerdOptions {
  /** Run this module Worker instead of the proxy bundle (bench section 8's bare pass-through). */
  readonly scriptPath?: string
  /** Open workerd's V8 inspector on this loopback port (bench/workerdProfile.ts). */
  readonly inspectorPort?: number
  /** Keep the Cache API in this directory, shared with later workerd processes (fresh isolates). */
  readonly cachePersist?: string
  /** Bind ANALYTICS and PUBLIC_LOG_STREAM (serve.ts): Miniflare's dataset, or one that prints each data point. */
  readonly telemetry?: "miniflare" | "record"
}

let generatedOidcEnv: Record<string, string> | undefined

/**
 * Throwaway keys as bindings, made once per test process: an RSA key as OIDC_PROVIDER_*, and the session
 * credential keys (an ES256 SESSION_SIGNING_KEY and a 32-byte SESSION_TOKEN_KEY).
 */
const oidcEnv = async (): Promise<Record<string, string>> => {
  if (generatedOidcEnv === undefined) {
    const { privateKey } = await generateKeyPair("RS256", { modulusLength: 2048, extractable: true })
    const session = await generateKeyPair("ES256", { extractable: true })
    generatedOidcEnv = {
      OIDC_PROVIDER_ISSUER: "https://data.test.source.coop",
      OIDC_PROVIDER_KID: "test-1",
      OIDC_PROVIDER_KEY: await exportPKCS8(privateKey),
      SESSION_SIGNING_KID: "test-session-1",
      SESSION_SIGNING_KEY: await exportPKCS8(session.privateKey),
      SESSION_TOKEN_KEY: Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64")
    }
  }
  return generatedOidcEnv
}

/** Starts the Worker bundle in workerd on a free 127.0.0.1 port with `env` as its plain-text vars. */
export const startWorkerdProxy = async (
  env: Record<string, string>,
  options: WorkerdOptions = {}
): Promise<RunningWorkerd> => {
  const scriptPath = options.scriptPath ?? await ensureBundle()
  // Production refuses to serve without the OIDC provider's and the session keys; tests get throwaway ones unless they
  // pass their own (or an empty one, to see the refusal).
  // The tests' backends (moto, Azurite, small servers) listen on loopback, which production refuses by default.
  env = { ...(await oidcEnv()), ALLOW_PRIVATE_ENDPOINTS: "true", ...env }
  const started = performance.now()
  // A process group of its own, killed with this process (processes.ts), even when a test run is interrupted.
  const child = spawnTracked("bun", [SERVE, scriptPath, compatibilityDate(), JSON.stringify(compatibilityFlags())], {
    cwd: ROOT,
    env: {
      ...process.env,
      SDP_WORKERD_BINDINGS: JSON.stringify(env),
      SDP_WORKERD_CACHE_PERSIST: options.cachePersist ?? "",
      SDP_WORKERD_TELEMETRY: options.telemetry ?? "",
      SDP_WORKERD_INSPECTOR_PORT: String(options.inspectorPort ?? "")
    },
    // stdin stays open: serve.ts exits when it closes, i.e. when this process dies without stopping it.
    stdio: ["pipe", "pipe", "pipe"]
  })
  const output = tail(64_000)
  child.stdout?.on("data", output.push)
  child.stderr?.on("data", output.push)

  const url = await new Promise<string>((resolve, reject) => {
    let settled = false
    const timer = setTimeout(() => fail(new Error("workerd did not report ready within 30 s")), 30_000)
    const fail = (error: Error) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      void stopChild(child).then(() => reject(new Error(`${error.message}\n${output.text}`)))
    }
    let line = ""
    const onData = (chunk: Buffer) => {
      line += chunk.toString()
      const ready = /^READY (\S+)$/m.exec(line)
      if (ready?.[1] !== undefined && !settled) {
        settled = true
        clearTimeout(timer)
        child.stdout?.off("data", onData)
        resolve(ready[1])
      }
    }
    child.stdout?.on("data", onData)
    child.once("error", (error) => fail(error))
    child.once("exit", (code, signal) => fail(new Error(`serve.ts exited before ready (${code ?? signal})`)))
  })
  timings.startsMs.push(performance.now() - started)

  return { url, logs: () => output.text, stop: () => stopChild(child) }
}
