/**
 * `bun bench/coldStart.ts [bundle.js …]` (default: dist/worker/main.js, built by `bun run build:worker`): what
 * a cold start costs for each Worker bundle, median of several fresh processes.
 *
 * - size and gzip size;
 * - script startup: the CPU a fresh V8 (Node) spends to compile and evaluate the bundle's top level, as
 *   Workers does before the first request (Cloudflare's startup limit is on this);
 * - in workerd (Miniflare, test/workerd/serve.ts): time until it listens, then the first `GET /`, which builds
 *   the isolate's services (configuration, key imports) before answering.
 */
import { spawnSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { resolve } from "node:path"
import { pathToFileURL } from "node:url"
import { gzipSync } from "node:zlib"
import { exportPKCS8, generateKeyPair } from "jose"
import { spawnTracked, stopProcess } from "../test/fakes/processes.js"
import { median } from "./stats.js"

const RUNS = 5
const ROOT = resolve(import.meta.dir, "..")
const bundles = (process.argv.slice(2).length > 0 ? process.argv.slice(2) : ["dist/worker/main.js"]).map((path) => resolve(path))
const toml = readFileSync(resolve(ROOT, "wrangler.toml"), "utf8")
const compatibilityDate = /^compatibility_date\s*=\s*"([^"]+)"/m.exec(toml)?.[1] ?? "2026-07-01"
const compatibilityFlags = /^compatibility_flags\s*=\s*(\[[^\]]*\])/m.exec(toml)?.[1] ?? "[]"

/** CPU ms of `import(bundle)` in a fresh Node process. */
const startupCpu = (bundle: string): number => {
  const script = `const c0 = process.cpuUsage(); import(${JSON.stringify(pathToFileURL(bundle).href)}).then(() => {`
    + ` const c = process.cpuUsage(c0); console.log((c.user + c.system) / 1000) })`
  const run = spawnSync("node", ["--input-type=module", "-e", script], { encoding: "utf8" })
  return Number(run.stdout.trim())
}

const { privateKey } = await generateKeyPair("RS256", { modulusLength: 2048, extractable: true })
const session = await generateKeyPair("ES256", { extractable: true })
const bindings = {
  SOURCE_API_URL: "http://127.0.0.1:9",
  OIDC_PROVIDER_ISSUER: "https://data.bench.source.coop",
  OIDC_PROVIDER_KID: "bench-1",
  OIDC_PROVIDER_KEY: await exportPKCS8(privateKey),
  SESSION_SIGNING_KID: "bench-session-1",
  SESSION_SIGNING_KEY: await exportPKCS8(session.privateKey),
  SESSION_TOKEN_KEY: Buffer.alloc(32, 1).toString("base64"),
  IP_HASH_SALT: "bench"
}

/** ms until workerd listens, then ms of the first GET /. */
const workerdStart = async (bundle: string): Promise<readonly [number, number]> => {
  const started = performance.now()
  const child = spawnTracked("bun", [resolve(ROOT, "test/workerd/serve.ts"), bundle, compatibilityDate, compatibilityFlags], {
    env: { ...process.env, SDP_WORKERD_BINDINGS: JSON.stringify(bindings), SDP_WORKERD_TELEMETRY: "miniflare" },
    stdio: ["pipe", "pipe", "inherit"]
  })
  try {
    const url = await new Promise<string>((done, fail) => {
      let out = ""
      const timer = setTimeout(() => fail(new Error("workerd did not start in 30 s")), 30_000)
      child.stdout?.on("data", (chunk: Buffer) => {
        out += chunk.toString()
        const ready = /^READY (\S+)$/m.exec(out)
        if (ready?.[1] !== undefined) {
          clearTimeout(timer)
          done(ready[1])
        }
      })
    })
    const ready = performance.now() - started
    const request = performance.now()
    const response = await fetch(`${url}/`, { signal: AbortSignal.timeout(30_000) })
    await response.text()
    if (response.status !== 200) throw new Error(`GET / answered ${response.status}`)
    return [ready, performance.now() - request]
  } finally {
    await stopProcess(child)
  }
}

for (const bundle of bundles) {
  const bytes = readFileSync(bundle)
  const cpu: Array<number> = []
  const ready: Array<number> = []
  const first: Array<number> = []
  for (let i = 0; i < RUNS; i++) {
    cpu.push(startupCpu(bundle))
    const [listening, answered] = await workerdStart(bundle)
    ready.push(listening)
    first.push(answered)
  }
  console.log(
    `${bundle}: ${(bytes.length / 1024).toFixed(1)} KiB (gzip ${(gzipSync(bytes).length / 1024).toFixed(1)} KiB); `
      + `script startup CPU ${median(cpu).toFixed(1)} ms; workerd listening after ${median(ready).toFixed(0)} ms, `
      + `first GET / ${median(first).toFixed(0)} ms (medians of ${RUNS})`
  )
}
