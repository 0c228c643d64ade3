/**
 * 8. The Worker bundle in workerd (Miniflare, as test/workerd runs it: dist/worker/main.js, built when stale)
 * against the same fake upstream the Bun proxy reads: the CPU the workerd process used per request (from
 * /proc, so the Miniflare host process and the clients are not counted) for an anonymous 16 KiB ranged GET, a
 * HEAD, the same GET signed with session credentials (an API key exchanged at the Worker's own /.sts) and one
 * 1000-key ListObjectsV2 page, with `CHUNK_CACHE=false`; then, on a second Worker with the cache on, the anonymous
 * GET answered from the chunk cache (the Cache API). Workers bills CPU per request; the budget the issue names is
 * < 1 ms a GET. The same GET and listing page through the bare pass-through Worker (passthroughWorker.ts) give the
 * platform's own part: what workerd spends on a request that does nothing but forward it.
 */
import { AwsClient } from "aws4fetch"
import { readdirSync, readFileSync } from "node:fs"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { startWorkerdProxy, type WorkerdOptions } from "../../test/workerd/harness.js"
import { ACCOUNT, OBJECT_KEY, PRODUCT } from "../fixture.js"
import { cpuSecondsOf } from "../processes.js"
import { log, root, settings } from "../settings.js"
import { exchangeAtSts, mintApiKey } from "./uploads.js"

export interface WorkerdRow {
  readonly name: string
  readonly requests: number
  /** CPU (user + system) of the workerd process per request, µs. */
  readonly cpuUsPerRequest: number
  readonly wallUsPerRequest: number
}

/** Workers' CPU budget for a GET, as the performance issue states it. */
export const WORKERS_GET_BUDGET_US = 1_000

const workerdPids = (): Set<number> => {
  const pids = new Set<number>()
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue
    try {
      if (readFileSync(`/proc/${name}/comm`, "utf8").trim() === "workerd") pids.add(Number(name))
    } catch {
      // the process ended while the list was read
    }
  }
  return pids
}

/** The bare Worker, bundled as workerd runs it (one ES module), under dist/ (Miniflare reads modules below the cwd). */
export const buildBareWorker = async (): Promise<string> => {
  const built = await Bun.build({
    entrypoints: [join(root, "bench", "passthroughWorker.ts")],
    outdir: join(root, "dist", "bench"),
    target: "browser",
    format: "esm"
  })
  const output = built.outputs[0]
  if (!built.success || output === undefined) throw new Error(`bench/passthroughWorker.ts did not build: ${built.logs.join("\n")}`)
  return output.path
}

/** Row names section 8's proxy/bare ratios pair up. */
export const WORKERD_CASES = {
  get: "GET 16 KiB range, anonymous",
  list: "ListObjectsV2, one 1000-key page",
  bareGet: "bare pass-through Worker: GET 16 KiB range",
  bareKvGet: "bare pass-through Worker: GET 16 KiB range after one KV get",
  bareList: "bare pass-through Worker: one 1000-key page, unparsed"
} as const

const drained = async (response: Response, expect: number, what: string) => {
  await response.arrayBuffer()
  if (response.status !== expect) throw new Error(`workerd ${what}: status ${response.status}, expected ${expect}`)
}

interface Case {
  readonly name: string
  readonly weight: number
  readonly once: () => Promise<void>
}

/** Starts the bundle with `env` (and `options`), times `cases(url)` on it one after the other, and stops it. */
const onWorker = async (
  env: Record<string, string>,
  requests: number,
  cases: (url: string) => Promise<ReadonlyArray<Case>>,
  options: WorkerdOptions = {},
  /** How long to wait before stopping: work in waitUntil (the colo's cache puts) lands after the answers. */
  settleMs = 0
): Promise<ReadonlyArray<WorkerdRow>> => {
  const before = workerdPids()
  const worker = await startWorkerdProxy(env, options)
  try {
    const pid = [...workerdPids()].find((p) => !before.has(p))
    if (pid === undefined) throw new Error("no workerd process appeared")
    const rows: Array<WorkerdRow> = []
    for (const c of await cases(worker.url)) {
      const n = Math.max(20, Math.round(requests * c.weight))
      for (let i = 0; i < Math.min(200, n); i++) await c.once()
      const cpu0 = cpuSecondsOf(pid)
      const t0 = performance.now()
      for (let i = 0; i < n; i++) await c.once()
      rows.push({
        name: c.name,
        requests: n,
        cpuUsPerRequest: ((cpuSecondsOf(pid) - cpu0) * 1e6) / n,
        wallUsPerRequest: ((performance.now() - t0) * 1000) / n
      })
    }
    await Bun.sleep(settleMs)
    return rows
  } finally {
    await worker.stop()
  }
}

export const runWorkerdBench = async (
  upstreamOrigin: string,
  keys: Record<string, string | undefined>,
  requests: number
): Promise<ReadonlyArray<WorkerdRow>> => {
  log("the Worker bundle in workerd (Miniflare)…")
  // The dev keys the bench mints API keys with, as the Worker's secrets: its /.sts then trusts them.
  const secrets = Object.fromEntries(Object.entries(keys).filter((e): e is [string, string] => e[1] !== undefined))
  const env = { ...secrets, SOURCE_API_URL: upstreamOrigin, LOG_LEVEL: "error" }
  const range = { range: `bytes=0-${settings.rangeLength - 1}` }
  const objectUrlOf = (url: string) => `${url}/${ACCOUNT}/${PRODUCT}/${OBJECT_KEY}`
  // The pass-through path first (comparable with the history), then the same GET answered by the chunk cache.
  const uncached = await onWorker({ ...env, CHUNK_CACHE: "false" }, requests, async (url) => {
    const objectUrl = objectUrlOf(url)
    const credentials = await exchangeAtSts(url, await mintApiKey(keys))
    const signer = new AwsClient({ ...credentials, service: "s3", region: "us-east-1" })
    return [
      { name: WORKERD_CASES.get, weight: 1, once: async () => drained(await fetch(objectUrl, { headers: range }), 206, "GET") },
      { name: "HEAD, anonymous", weight: 1, once: async () => drained(await fetch(objectUrl, { method: "HEAD" }), 200, "HEAD") },
      {
        name: "GET 16 KiB range, signed (session, header auth)",
        weight: 1,
        once: async () => drained(await signer.fetch(objectUrl, { headers: range }), 206, "signed GET")
      },
      {
        name: WORKERD_CASES.list,
        weight: 0.1,
        once: async () => drained(await fetch(`${url}/${ACCOUNT}?list-type=2&prefix=${PRODUCT}/k/`), 200, "listing")
      }
    ]
  })
  // The colo's cache on disk, shared by the last two Workers: the second starts with an empty isolate cache.
  const colo = mkdtempSync(join(tmpdir(), "sdp-bench-colo-"))
  try {
    const bare = await onWorker({ UPSTREAM: upstreamOrigin }, requests, async (url) => [
      { name: WORKERD_CASES.bareGet, weight: 1, once: async () => drained(await fetch(objectUrlOf(url), { headers: range }), 206, "bare GET") },
      {
        name: WORKERD_CASES.bareKvGet,
        weight: 1,
        once: async () => drained(await fetch(objectUrlOf(url), { headers: { ...range, "x-bench-kv": "1" } }), 206, "bare GET after KV")
      },
      {
        name: WORKERD_CASES.bareList,
        weight: 0.1,
        once: async () => drained(await fetch(`${url}/${ACCOUNT}?list-type=2&prefix=${PRODUCT}/k/`), 200, "bare listing")
      }
    ], { scriptPath: await buildBareWorker() })
    return [...uncached, ...bare, ...await cachedRows(env, requests, range, objectUrlOf, colo)]
  } finally {
    rmSync(colo, { recursive: true, force: true })
  }
}

const hit = async (objectUrl: string, range: Record<string, string>, what: string) => {
  const response = await fetch(objectUrl, { headers: range })
  await drained(response, 206, what)
  const status = response.headers.get("x-cache")
  if (status !== "HIT") throw new Error(`workerd ${what}: x-cache ${status}`)
}

/**
 * The anonymous GET answered by the chunk cache: from the isolate's L1, then, on a fresh Worker sharing the
 * colo's cache, from the Cache API (a ranged match: only the 16 KiB asked for is read, never kept in L1).
 */
const cachedRows = async (
  env: Record<string, string>,
  requests: number,
  range: Record<string, string>,
  objectUrlOf: (url: string) => string,
  colo: string
): Promise<ReadonlyArray<WorkerdRow>> => {
  const fromL1 = await onWorker(env, requests, async (url) => {
    const objectUrl = objectUrlOf(url)
    // The MISS that fills the chunk (stored once the rest of it arrives, after the answer), then reads until a HIT,
    // so that every read timed after it is one.
    for (let attempt = 0; ; attempt++) {
      const response = await fetch(objectUrl, { headers: range })
      await drained(response, 206, "first cached GET")
      if (response.headers.get("x-cache") === "HIT") break
      if (attempt === 50) throw new Error("workerd: the chunk cache never answered HIT")
      await Bun.sleep(100)
    }
    return [{
      name: "GET 16 KiB range, anonymous, chunk cache HIT (isolate L1)",
      weight: 1,
      once: async () => {
        await hit(objectUrl, range, "cached GET")
      }
    }]
  }, { cachePersist: colo }, 300)
  const fromColo = await onWorker(env, requests, async (url) => {
    const objectUrl = objectUrlOf(url)
    return [{
      name: "GET 16 KiB range, anonymous, chunk cache HIT (colo Cache API, fresh isolate)",
      weight: 1,
      once: async () => {
        await hit(objectUrl, range, "colo GET")
      }
    }]
  }, { cachePersist: colo })
  return [...fromL1, ...fromColo]
}
