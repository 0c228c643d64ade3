/**
 * 9. The chunk cache (issue #12): 16 KiB GETs at seeded random offsets within a 64 MiB object, for each upstream
 * latency in `BENCH_CACHE_LATENCY_MS` (default `0,20`: loopback, and a backend whose first byte comes 20 ms later,
 * below the 100–200 ms AWS documents for S3's first byte), sequential and 8 in flight, from four targets in turn:
 *
 * - **direct**: the upstream itself;
 * - **no cache**: a proxy started with `CHUNK_CACHE=false` (every read is one ranged GET to the backend);
 * - **cold**: the cached proxy, every request naming an object it has never seen (HEAD + one 4 MiB chunk each);
 * - **warm**: the cached proxy, the same object, after one read of each of its 16 chunks.
 *
 * For each: req/s, latency percentiles, what the `x-cache` header said, and from the upstream's counters the
 * backend requests per request and the backend body bytes per byte served. The cached proxy's RSS is sampled
 * through the whole section; its bound is the in-memory cache's `EDGE_CACHE_MAX_MB` (cold reads fill it).
 */
import { DEFAULT_CHUNK_CACHE } from "../../src/core/services/AppConfig.js"
import { DEFAULT_MAX_BYTES } from "../../src/layers/MemoryEdgeCache.js"
import { ACCOUNT, BUCKET, OBJECT_KEY, PRODUCT } from "../fixture.js"
import { latencySummary, ranged } from "../http.js"
import { memoryOf, sampleRss, start, type Started } from "../processes.js"
import { log, MiB, root, settings } from "../settings.js"
import { median, seededRandom } from "../stats.js"

export const CACHE_OBJECT_BYTES = 64 * MiB

export type CacheTargetName = "direct" | "noCache" | "cold" | "warm"
export const CACHE_TARGETS: ReadonlyArray<CacheTargetName> = ["direct", "noCache", "cold", "warm"]

export interface CacheTargetStats {
  readonly requests: number
  readonly reqPerSec: number
  readonly p50: number
  readonly p90: number
  readonly p99: number
  /** Object requests the upstream answered per request served (HEAD and GET). */
  readonly backendRequestsPerRequest: number
  /** Body bytes the upstream sent per body byte the client received. */
  readonly backendBytesPerServedByte: number
  readonly cacheStatus: Readonly<Record<string, number>>
}

export interface CacheRun {
  readonly latencyMs: number
  readonly mode: string
  readonly concurrency: number
  readonly targets: Readonly<Record<CacheTargetName, CacheTargetStats>>
  readonly warmOverDirect: number
  readonly warmOverNoCache: number
  readonly coldOverDirect: number
}

export interface ChunkCacheResults {
  readonly objectBytes: number
  readonly chunkBytes: number
  readonly runs: ReadonlyArray<CacheRun>
  readonly memory: {
    readonly rssBeforeMiB: number
    readonly peakRssMiB: number
    readonly rssAfterMiB: number
    readonly edgeCacheMaxMiB: number
  }
}

interface Counters {
  readonly requests: number
  readonly bodyBytes: number
}

const countersOf = async (upstream: Started): Promise<Counters> => {
  const response = await fetch(`${upstream.origin}/__bench/counters`, { signal: AbortSignal.timeout(5_000) })
  return (await response.json()) as Counters
}

const offsetsWithin = (objectBytes: number, length: number, count: number): ReadonlyArray<number> => {
  const random = seededRandom(20261203)
  return Array.from({ length: count }, () => Math.floor(random() * (objectBytes - length)))
}

/**
 * Reads each chunk of the warm object until every one answers HIT, so that every timed warm read is one: a chunk
 * is stored once the rest of it has arrived, after the read that fetched it has been answered.
 */
const prime = async (url: string) => {
  const starts = Array.from({ length: Math.ceil(CACHE_OBJECT_BYTES / DEFAULT_CHUNK_CACHE.chunkSize) },
    (_, i) => i * DEFAULT_CHUNK_CACHE.chunkSize)
  for (let attempt = 0; attempt < 50; attempt++) {
    const result = await ranged(url, starts, settings.rangeLength, 4, 30_000)
    if (result.cacheStatus.HIT === starts.length) return
    await Bun.sleep(50)
  }
  throw new Error(`the chunk cache at ${url} never answered HIT for every chunk`)
}

const runLatency = async (
  latencyMs: number,
  started: Array<Started>,
  sampleFrom: (pid: number) => void
): Promise<ReadonlyArray<CacheRun>> => {
  const upstream = await start("upstream", "bench/upstream.ts", {
    PORT: "0",
    UPSTREAM_SIZE: String(CACHE_OBJECT_BYTES),
    UPSTREAM_LATENCY_MS: String(latencyMs)
  }, root)
  started.push(upstream)
  const proxyEnv = { PORT: "0", HOST: "127.0.0.1", SOURCE_API_URL: upstream.origin, LOG_LEVEL: "error" }
  const cached = await start("proxy (chunk cache)", "src/platform/bun/main.ts", proxyEnv, root)
  started.push(cached)
  const noCache = await start("proxy (CHUNK_CACHE=false)", "src/platform/bun/main.ts", { ...proxyEnv, CHUNK_CACHE: "false" }, root)
  started.push(noCache)
  sampleFrom(cached.pid)
  const path = `/${ACCOUNT}/${PRODUCT}`
  const warmUrl = `${cached.origin}${path}/${OBJECT_KEY}`
  let coldRound = 0
  const urls: Record<CacheTargetName, () => string | ((i: number) => string)> = {
    direct: () => `${upstream.origin}/${BUCKET}/${OBJECT_KEY}`,
    noCache: () => `${noCache.origin}${path}/${OBJECT_KEY}`,
    cold: () => {
      const round = coldRound++
      return (i: number) => `${cached.origin}${path}/cold/${round}-${i}.bin`
    },
    warm: () => warmUrl
  }
  const { cacheRequests, cacheColdRequests, cacheReps, rangeLength, rangeConcurrency, rangeDeadlineMs } = settings
  const offsets = offsetsWithin(CACHE_OBJECT_BYTES, rangeLength, cacheRequests)
  // Every target (its JIT, the catalog's cache, the connections) warmed before anything is timed; a cold read costs
  // a 4 MiB chunk, so fewer of those.
  for (const name of CACHE_TARGETS) {
    await ranged(urls[name](), offsets.slice(0, name === "cold" ? 20 : 200), rangeLength, 2, 30_000)
  }

  const runs: Array<CacheRun> = []
  for (const concurrency of [1, rangeConcurrency]) {
    const rates: Record<CacheTargetName, Array<number>> = { direct: [], noCache: [], cold: [], warm: [] }
    const latencies: Record<CacheTargetName, Array<number>> = { direct: [], noCache: [], cold: [], warm: [] }
    const served = { direct: 0, noCache: 0, cold: 0, warm: 0 }
    const backend = { direct: { requests: 0, bodyBytes: 0 }, noCache: { requests: 0, bodyBytes: 0 },
      cold: { requests: 0, bodyBytes: 0 }, warm: { requests: 0, bodyBytes: 0 } }
    const statuses: Record<CacheTargetName, Record<string, number>> = { direct: {}, noCache: {}, cold: {}, warm: {} }
    for (let rep = 0; rep < cacheReps; rep++) {
      for (const name of CACHE_TARGETS) {
        // Cold reads push the warm object's chunks out of the bounded cache: warm it again right before.
        if (name === "warm") await prime(warmUrl)
        const before = await countersOf(upstream)
        const result = await ranged(urls[name](), name === "cold" ? offsets.slice(0, cacheColdRequests) : offsets,
          rangeLength, concurrency, rangeDeadlineMs)
        const after = await countersOf(upstream)
        rates[name].push(result.reqPerSec)
        latencies[name].push(...result.latenciesMs)
        served[name] += result.requests
        backend[name].requests += after.requests - before.requests
        backend[name].bodyBytes += after.bodyBytes - before.bodyBytes
        for (const [status, n] of Object.entries(result.cacheStatus)) statuses[name][status] = (statuses[name][status] ?? 0) + n
      }
    }
    const summary = (name: CacheTargetName): CacheTargetStats => {
      const l = latencySummary(latencies[name])
      return {
        requests: served[name],
        reqPerSec: median(rates[name]),
        p50: l.p50,
        p90: l.p90,
        p99: l.p99,
        backendRequestsPerRequest: backend[name].requests / served[name],
        backendBytesPerServedByte: backend[name].bodyBytes / (served[name] * rangeLength),
        cacheStatus: statuses[name]
      }
    }
    const targets = { direct: summary("direct"), noCache: summary("noCache"), cold: summary("cold"), warm: summary("warm") }
    runs.push({
      latencyMs,
      mode: concurrency === 1 ? "sequential" : `${concurrency} in flight`,
      concurrency,
      targets,
      warmOverDirect: targets.warm.reqPerSec / targets.direct.reqPerSec,
      warmOverNoCache: targets.warm.reqPerSec / targets.noCache.reqPerSec,
      coldOverDirect: targets.cold.reqPerSec / targets.direct.reqPerSec
    })
  }
  return runs
}

export const runChunkCacheBench = async (latenciesMs: ReadonlyArray<number>): Promise<ChunkCacheResults> => {
  const runs: Array<CacheRun> = []
  let rssBefore = Number.NaN
  let peak = Number.NaN
  let rssAfter = Number.NaN
  for (const latencyMs of latenciesMs) {
    log(`chunk cache, upstream latency ${latencyMs} ms…`)
    const started: Array<Started> = []
    let sampler: ReturnType<typeof sampleRss> | undefined
    let cachedPid: number | undefined
    try {
      runs.push(...await runLatency(latencyMs, started, (pid) => {
        cachedPid = pid
        if (Number.isNaN(rssBefore)) rssBefore = memoryOf(pid).rss
        sampler = sampleRss(pid, settings.rssSampleMs)
      }))
    } finally {
      const max = sampler?.stop()
      if (max !== undefined) peak = Number.isNaN(peak) ? max : Math.max(peak, max)
      if (cachedPid !== undefined) rssAfter = memoryOf(cachedPid).rss
      for (const s of started.reverse()) await s.stop()
    }
  }
  return {
    objectBytes: CACHE_OBJECT_BYTES,
    chunkBytes: DEFAULT_CHUNK_CACHE.chunkSize,
    runs,
    memory: { rssBeforeMiB: rssBefore, peakRssMiB: peak, rssAfterMiB: rssAfter, edgeCacheMaxMiB: DEFAULT_MAX_BYTES / MiB }
  }
}
