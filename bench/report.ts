/** The end of `bun run bench`: the tables on stdout and the JSON file in $BENCH_OUT. */
import { mkdirSync, writeFileSync } from "node:fs"
import { cpus } from "node:os"
import { dirname } from "node:path"
import type { AuthResults, Rate } from "./sections/auth.js"
import { CACHE_TARGETS, type CacheTargetName, type ChunkCacheResults } from "./sections/chunkCache.js"
import type { AuthCpu, CpuRow } from "./sections/cpu.js"
import type { ListingStats } from "./sections/listing.js"
import type { Memory } from "./sections/memory.js"
import type { RangedStats } from "./sections/ranges.js"
import type { StreamStats } from "./sections/streaming.js"
import type { Uploads } from "./sections/uploads.js"
import { WORKERD_CASES, WORKERS_GET_BUDGET_US, type WorkerdRow } from "./sections/workerd.js"
import { MiB, outFile, root, settings } from "./settings.js"
import { round, table } from "./stats.js"

/** A ratio, or — when it is not a number (a CPU figure below the clock tick). */
const times = (ratio: number) => (Number.isFinite(ratio) ? `${round(ratio, 1)}×` : "—")

/** What the JSON holds, in this order; a section left out by BENCH_SECTIONS is absent (its list empty). */
export interface Results extends RunInfo {
  readonly quick: boolean
  readonly settings: typeof settings
  readonly throughput: ReadonlyArray<StreamStats>
  readonly ranged: ReadonlyArray<RangedStats>
  readonly cpu: ReadonlyArray<CpuRow>
  readonly authCpu: AuthCpu | undefined
  readonly auth: AuthResults | undefined
  readonly listing: ListingStats | undefined
  readonly listingBackends: { readonly az: ListingStats; readonly gcs: ListingStats } | undefined
  readonly memory: Memory | undefined
  readonly uploads: Uploads | undefined
  readonly workerd: ReadonlyArray<WorkerdRow>
  readonly chunkCache: ChunkCacheResults | undefined
  readonly loadAverage1m: { readonly before: number; readonly after: number }
  readonly totalSeconds: number
}

const gitCommit = (): string => {
  const result = Bun.spawnSync(["git", "rev-parse", "--short", "HEAD"], { cwd: root, stdout: "pipe", stderr: "ignore" })
  return result.exitCode === 0 ? result.stdout.toString().trim() : "unknown"
}

export interface RunInfo {
  readonly date: string
  readonly commit: string
  readonly bun: string
  readonly cpus: number
  readonly cpuModel: string
}

/** The first fields of the JSON: when, which commit, on what. */
export const runInfo = (): RunInfo => ({
  date: new Date().toISOString(),
  commit: gitCommit(),
  bun: Bun.version,
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model ?? "unknown"
})

/** Prints the tables, writes `results` to $BENCH_OUT, and warns when other load shared the CPUs. */
export const report = (results: Results) => {
  printTables(results)
  mkdirSync(dirname(outFile), { recursive: true })
  writeFileSync(outFile, `${JSON.stringify(results, null, 2)}\n`)
  console.log(`\nJSON: ${outFile}   (whole run ${round(results.totalSeconds, 1)} s)`)
  const { before: lb, after: la } = results.loadAverage1m
  if (Math.max(lb, la) > 0.7) {
    console.log(`WARNING: 1-minute load average ${lb} before / ${la} after: other work shared the ${cpus().length} CPUs; `
      + "treat the figures as noisy.")
  }
}

const printTables = (r: Results) => {
  const size = `${settings.objectBytes / MiB} MiB`
  if (r.throughput.length > 0) {
    console.log(`\n1. Streaming one ${size} object: median MB/s (10^6 B/s); bare = minimal Bun fetch→Response pass-through `
      + "behind Bun.serve, bare node = the same behind the proxy's node:http server (which keeps Content-Length)")
    console.log(table([
      ["client", "reps", "direct", "bare", "bare node", "proxy", "proxy/direct", "proxy/bare", "proxy/bare node", "bare/direct",
        "CPU ms/transfer bare", "bare node", "proxy"],
      ...r.throughput.map((x) => [
        x.client, x.reps, x.mbps.direct, x.mbps.bare, x.mbps.bareNode, x.mbps.proxy,
        round(x.proxyOverDirect, 3), round(x.proxyOverBare, 3), round(x.proxyOverBareNode, 3), round(x.bareOverDirect, 3),
        Math.round(x.serverCpuMsPerTransfer.bare), Math.round(x.serverCpuMsPerTransfer.bareNode),
        Math.round(x.serverCpuMsPerTransfer.proxy)
      ])
    ]))
  }
  if (r.ranged.length > 0) {
    console.log(`\n2. ${settings.rangeLength / 1024} KiB ranged GETs at random offsets (Bun fetch, keep-alive): req/s and latency (ms)`)
    console.log(table([
      ["mode", "target", "requests", "req/s", "p50", "p90", "p99", "req/s vs direct", "req/s vs bare", "vs bare node",
        "server CPU µs/req", "of it JIT µs/req", "upstream CPU µs/req"],
      ...r.ranged.flatMap((x) =>
        (["direct", "bare", "bareNode", "proxy"] as const).map((name) => {
          const t = x.targets[name]
          return [
            name === "direct" ? x.mode : "",
            name === "bareNode" ? "bare node" : name,
            t.requests,
            t.reqPerSec,
            round(t.p50, 3),
            round(t.p90, 3),
            round(t.p99, 3),
            round(t.reqPerSec / x.targets.direct.reqPerSec, 3),
            round(t.reqPerSec / x.targets.bare.reqPerSec, 3),
            round(t.reqPerSec / x.targets.bareNode.reqPerSec, 3),
            name === "direct" ? "—" : String(Math.round(t.serverCpuUsPerRequest)),
            name === "direct" ? "—" : String(Math.round(t.serverJitUsPerRequest)),
            Math.round(t.upstreamCpuUsPerRequest)
          ]
        })
      )
    ]))
    for (const x of r.ranged) {
      const cpu = (name: "bare" | "bareNode") => round(x.targets.proxy.serverCpuUsPerRequest / x.targets[name].serverCpuUsPerRequest, 2)
      console.log(`   ${x.mode}: proxy adds ${round(x.addedP50MsVsDirect, 3)} ms p50 over direct, `
        + `${round(x.addedP50MsVsBare, 3)} ms over bare; req/s proxy/bare node ${round(x.proxyOverBareNode, 3)}; `
        + `server CPU proxy/bare ${cpu("bare")}, proxy/bare node ${cpu("bareNode")}`)
    }
  }
  const a = r.authCpu
  if (a !== undefined) {
    console.log("\n3. Core CPU per request, in-process (handle + real layers, stub upstream, warm catalog cache)")
    console.log(table([
      ["case", "status", "iterations", "CPU µs/req (median)", "CPU µs/req (min)", "wall µs/req", "Source API calls"],
      ...r.cpu.map((c) => [c.name, String(c.status), c.iterations, c.cpuUsPerRequest, c.cpuUsMin, c.wallUsPerRequest, c.apiCalls])
    ]))
    console.log("   (CPU = user+system of every thread of the bench process, GC threads included: it can exceed wall.)")
    const us = (x: number) => Math.round(x)
    console.log(`   signed / anonymous GET, CPU µs/req: header auth ${us(a.headerAuthUs)} / ${us(a.anonymousUs)} = `
      + `${round(a.headerOverAnonymous, 2)}×, presigned ${us(a.presignedUs)} / ${us(a.anonymousUs)} = `
      + `${round(a.presignedOverAnonymous, 2)}×`)
  }
  const m = r.memory
  if (m !== undefined) {
    console.log(`\n4. Memory (MiB) while streaming ${size}`)
    console.log(table([
      ["measure", "MiB"],
      ["proxy RSS before the streams (warm)", m.proxyRssBeforeMiB],
      ["proxy peak RSS sampled during its streams", m.proxyPeakRssDuringStreamsMiB],
      ["proxy VmHWM before / after the streams", `${round(m.proxyVmHwmBeforeMiB, 1)} / ${round(m.proxyVmHwmAfterStreamsMiB, 1)}`],
      ["bare pass-through RSS before / peak", `${round(m.bareRssBeforeMiB, 1)} / ${round(m.barePeakRssDuringStreamsMiB, 1)}`],
      ...(m.slowClient === undefined ? [] : [[
        `proxy peak RSS, slow client (${round(m.slowClient.bytesRead / 1e6, 0)} MB read in ${round(m.slowClient.seconds, 1)} s)`,
        m.slowClient.proxyPeakRssMiB
      ]]),
      ["proxy RSS at the end", m.proxyRssAfterAllMiB]
    ]))
  }
  const auth = r.auth
  if (auth !== undefined) {
    const rateRows = (rates: ReadonlyArray<Rate>) =>
      rates.map((x) => [x.name, x.iterations, Math.round(x.opsPerSec), round(x.usPerOp, 2), round(x.cpuUsPerOp, 2)])
    const rateHeader = ["case", "calls", "per second (median)", "wall µs/call", "CPU µs/call"]
    const s = auth.sigv4
    console.log(`\n5. Authentication, in-process (median of ${settings.auth.chunks} slices of `
      + `${settings.auth.maxMillis / settings.auth.chunks} ms)`)
    console.log(`   SigV4 over ${s.poolSize} distinct signed GET/HEAD requests (node:crypto Hmac, fixed secret, runSync); `
      + "aws4fetch signing the same requests (WebCrypto, async)")
    console.log(table([rateHeader, ...rateRows(s.rates)]))
    console.log(`   verify/sign: header auth cached ${round(s.ratios.headerCachedOverSignCached, 2)}×, `
      + `uncached ${round(s.ratios.headerUncachedOverSignUncached, 2)}×; presigned cached `
      + `${round(s.ratios.presignedCachedOverPresignCached, 2)}×`)
    console.log("   Session tokens (JoseSessionKeys) and outbound federation (StsFederation, stub STS)")
    console.log(table([rateHeader, ...rateRows([...auth.session, ...auth.federation.rates])]))
    console.log(`   STS calls during the cache-hit loop: ${auth.federation.stsCallsDuringHits}`)
  }
  const l = r.listing
  if (l !== undefined && r.listingBackends !== undefined) {
    const { az, gcs } = r.listingBackends
    console.log(`\n6. Listing every key, 1000 per page, median of ${l.reps}: through the proxy (ListObjectsV2, continuation `
      + "tokens) and directly from each backend")
    const listingRows = (x: ListingStats, label: string) => [
      [`${label} direct (${x.directApi})`, x.keys, x.pages, round(x.directMs, 1), x.allMs.direct.join(" "), "—", "", ""],
      ...(x.bare === undefined ? [] : [[`${label} bare pass-through`, x.keys, x.pages, round(x.bare.ms, 1),
        (x.allMs.bare ?? []).join(" "), round(x.bare.cpuMsPerListing, 0), "", ""]]),
      [`${label} proxy`, x.keys, x.pages, round(x.proxyMs, 1), x.allMs.proxy.join(" "), round(x.proxyCpuMsPerListing, 0),
        `${round(x.proxyOverDirect, 2)}×`, x.bare === undefined ? "" : `${round(x.bare.proxyOverBare, 2)}× (CPU ${times(x.bare.proxyCpuOverBare)})`]
    ]
    console.log(table([
      ["target", "keys", "pages", "ms per full listing", "runs (ms)", "CPU ms/listing", "proxy/direct", "proxy/bare"],
      ...listingRows(l, "S3 upstream"),
      ...listingRows(az, "Azurite"),
      ...listingRows(gcs, "GCS server")
    ]))
    console.log(`   proxy/direct: S3 ${round(l.proxyOverDirect, 2)}×, Azure ${round(az.proxyOverDirect, 2)}×, `
      + `GCS ${round(gcs.proxyOverDirect, 2)}×`
      + (l.bare === undefined ? "" : `; S3 proxy/bare ${round(l.bare.proxyOverBare, 2)}× in time, ${times(l.bare.proxyCpuOverBare)} in CPU`))
  }
  const u = r.uploads
  if (u !== undefined) {
    const mib = (bytes: number) => `${bytes / MiB} MiB`
    console.log(`\n7. Uploads: signed PUTs (session credentials from /.sts, UNSIGNED-PAYLOAD, streamed body with its `
      + `Content-Length), the upstream drains them; proxy VmRSS sampled every ${settings.rssSampleMs} ms`)
    console.log(table([
      ["transfer", "reps", "direct MB/s", "bare MB/s", "bare node MB/s", "proxy MB/s", "proxy/direct", "proxy/bare",
        "proxy/bare node", "runs direct", "runs bare", "runs bare node", "runs proxy", "proxy peak RSS MiB"],
      ...([["PUT", u.small], ["PUT", u.large], ["GET", u.download]] as const).map(([verb, x]) => [
        `${verb} ${mib(x.bytes)}`, x.reps, x.directMBps, x.bareMBps, x.bareNodeMBps, x.proxyMBps, round(x.proxyOverDirect, 3),
        round(x.proxyOverBare, 3), round(x.proxyOverBareNode, 3), x.allMBps.direct.join(" "), x.allMBps.bare.join(" "),
        x.allMBps.bareNode.join(" "), x.allMBps.proxy.join(" "), round(x.proxyPeakRssMiB, 1)
      ])
    ]))
    console.log(`   proxy RSS before the uploads ${round(u.proxyRssBeforeMiB, 1)} MiB, after ${round(u.proxyRssAfterMiB, 1)} MiB; `
      + `peak RSS PUT ${mib(u.large.bytes)} / PUT ${mib(u.small.bytes)}: ${round(u.largeOverSmallPeakRss, 2)}× `
      + `(${u.largeMinusSmallPeakRssMiB >= 0 ? "+" : ""}${round(u.largeMinusSmallPeakRssMiB, 1)} MiB); `
      + `GET ${mib(u.download.bytes)} / PUT ${mib(u.small.bytes)}: ${round(u.downloadOverSmallUploadPeakRss, 2)}×`)
  }
  if (r.workerd.length > 0) {
    console.log("\n8. The Worker bundle in workerd (Miniflare), same upstream: CPU of the workerd process per request")
    console.log(table([
      ["case", "requests", "CPU µs/req", "wall µs/req", `of the ${WORKERS_GET_BUDGET_US / 1000} ms GET budget`],
      ...r.workerd.map((x) => [
        x.name, x.requests, round(x.cpuUsPerRequest, 3), round(x.wallUsPerRequest, 3),
        `${round(x.cpuUsPerRequest / WORKERS_GET_BUDGET_US, 2)}×`
      ])
    ]))
    const cpuOf = (name: string) => r.workerd.find((x) => x.name === name)?.cpuUsPerRequest ?? Number.NaN
    const get = cpuOf(WORKERD_CASES.get)
    const bareGet = cpuOf(WORKERD_CASES.bareGet)
    console.log(`   proxy/bare Worker, CPU: GET ${times(get / bareGet)} (${round(get - bareGet, 0)} µs ours), `
      + `1000-key page ${times(cpuOf(WORKERD_CASES.list) / cpuOf(WORKERD_CASES.bareList))}; one simulated KV get `
      + `(every signed request reads one) ${round(cpuOf(WORKERD_CASES.bareKvGet) - bareGet, 0)} µs`)
  }
  const c = r.chunkCache
  if (c !== undefined) printChunkCache(c)
  printGoals(r)
}

interface Goal {
  readonly path: string
  readonly goal: string
  readonly value: number
  readonly met: (value: number) => boolean
  /** The floor measured in the same run, for a row whose goal it bounds. */
  readonly limit: string
}

/**
 * Issue #11's table, re-measured by this run: each row's figure against its goal, with the floor that bounds it
 * beside it (the same pass-through behind the proxy's own server; the bare hop for listings; the bare Worker).
 */
const printGoals = (r: Results) => {
  const [seq, inFlight] = r.ranged
  const cpu = (x: RangedStats, name: "bare" | "bareNode") => x.targets.proxy.serverCpuUsPerRequest / x.targets[name].serverCpuUsPerRequest
  const curl = r.throughput.find((x) => x.client === "curl")
  const s3 = r.listing
  const gcs = r.listingBackends?.gcs
  const u = r.uploads
  const workerdCpu = (name: string) => r.workerd.find((x) => x.name === name)?.cpuUsPerRequest ?? Number.NaN
  const atLeast = (goal: number) => (value: number) => value >= goal
  const atMost = (goal: number) => (value: number) => value <= goal
  const goals: Array<Goal> = []
  if (seq !== undefined && inFlight !== undefined) {
    goals.push(
      { path: "16 KiB ranged GET, sequential, req/s proxy/bare", goal: "≥ 0.9", value: seq.proxyOverBare, met: atLeast(0.9),
        limit: `proxy/bare node ${round(seq.proxyOverBareNode, 2)}` },
      { path: "same, server CPU proxy/bare", goal: "≤ 1.2", value: cpu(seq, "bare"), met: atMost(1.2),
        limit: `proxy/bare node ${times(cpu(seq, "bareNode"))}` },
      { path: "same, 8 in flight, req/s proxy/bare", goal: "≥ 0.95", value: inFlight.proxyOverBare, met: atLeast(0.95),
        limit: `proxy/bare node ${round(inFlight.proxyOverBareNode, 2)}` }
    )
  }
  if (r.authCpu !== undefined) {
    goals.push({ path: "signed GET (session, header auth) / anonymous, core CPU", goal: "≤ 1.5", value: r.authCpu.headerOverAnonymous,
      met: atMost(1.5), limit: "—" })
  }
  if (s3 !== undefined) {
    goals.push({ path: "ListObjectsV2 10 000 keys, S3, proxy/direct", goal: "≤ 1.5", value: s3.proxyOverDirect, met: atMost(1.5),
      limit: s3.bare === undefined ? "—" : `bare/direct ${round(s3.bare.ms / s3.directMs, 2)}, proxy/bare ${round(s3.bare.proxyOverBare, 2)}` })
  }
  if (gcs !== undefined) {
    goals.push({ path: "same, GCS, proxy/direct", goal: "≤ 1.5", value: gcs.proxyOverDirect, met: atMost(1.5), limit: "—" })
  }
  if (u !== undefined) {
    for (const x of [u.small, u.large]) {
      goals.push({ path: `PUT ${x.bytes / MiB} MiB, session-signed, proxy/direct`, goal: "≥ 0.8", value: x.proxyOverDirect,
        met: atLeast(0.8), limit: `bare node/direct ${round(x.bareNodeMBps / x.directMBps, 2)}, proxy/bare node ${round(x.proxyOverBareNode, 2)}` })
    }
  }
  if (curl !== undefined) {
    goals.push({ path: `GET ${settings.objectBytes / MiB} MiB, curl, proxy/bare`, goal: "≥ 0.95", value: curl.proxyOverBare,
      met: atLeast(0.95), limit: `proxy/bare node ${round(curl.proxyOverBareNode, 2)}` })
  }
  if (u !== undefined) {
    goals.push({ path: `memory, peak RSS of a ${u.large.bytes / MiB} MiB PUT / a ${u.small.bytes / MiB} MiB one`, goal: "flat (≤ 1.5)",
      value: u.largeOverSmallPeakRss, met: atMost(1.5), limit: `${u.largeMinusSmallPeakRssMiB >= 0 ? "+" : ""}${round(u.largeMinusSmallPeakRssMiB, 1)} MiB` })
  }
  const workerdGet = workerdCpu(WORKERD_CASES.get)
  if (Number.isFinite(workerdGet)) {
    goals.push({ path: "workerd, anonymous GET, ms of process CPU", goal: "< 1", value: workerdGet / 1000, met: (v) => v < 1,
      limit: `bare Worker ${round(workerdCpu(WORKERD_CASES.bareGet) / 1000, 2)} ms` })
  }
  if (goals.length === 0) return
  console.log("\nIssue #11's goals, this run (the floor beside each: what the same hop costs without the proxy's work)")
  console.log(table([
    ["path", "goal", "this run", "met", "floor measured beside it"],
    ...goals.map((g) => [g.path, g.goal, round(g.value, 2), g.met(g.value) ? "yes" : "no", g.limit])
  ]))
}

const CACHE_TARGET_LABELS: Record<CacheTargetName, string> = {
  direct: "direct",
  noCache: "proxy, CHUNK_CACHE=false",
  cold: "proxy, cold (new object each)",
  warm: "proxy, warm"
}

const printChunkCache = (c: ChunkCacheResults) => {
  console.log(`\n9. Chunk cache: ${settings.rangeLength / 1024} KiB GETs at random offsets in a ${c.objectBytes / MiB} MiB object, `
    + `${c.chunkBytes / MiB} MiB chunks; upstream latency = its time to first byte`)
  console.log(table([
    ["latency", "mode", "target", "requests", "req/s", "p50 ms", "p99 ms", "req/s vs direct", "backend req/req",
      "backend B / B served", "x-cache"],
    ...c.runs.flatMap((x) => CACHE_TARGETS.map((name, i) => {
      const t = x.targets[name]
      return [
        i === 0 ? `${x.latencyMs} ms` : "",
        i === 0 ? x.mode : "",
        CACHE_TARGET_LABELS[name],
        t.requests,
        t.reqPerSec,
        round(t.p50, 3),
        round(t.p99, 3),
        round(t.reqPerSec / x.targets.direct.reqPerSec, 3),
        round(t.backendRequestsPerRequest, 3),
        round(t.backendBytesPerServedByte, 3),
        Object.entries(t.cacheStatus).map(([status, n]) => `${status} ${n}`).join(", ") || "—"
      ]
    }))
  ]))
  for (const x of c.runs) {
    console.log(`   ${x.latencyMs} ms, ${x.mode}: warm/direct ${round(x.warmOverDirect, 2)}×, warm/no cache `
      + `${round(x.warmOverNoCache, 2)}×, cold/direct ${round(x.coldOverDirect, 2)}×`)
  }
  const m = c.memory
  console.log(`   cached proxy RSS: ${round(m.rssBeforeMiB, 1)} MiB at start, peak ${round(m.peakRssMiB, 1)} MiB, `
    + `${round(m.rssAfterMiB, 1)} MiB at the end (the in-memory cache holds at most ${m.edgeCacheMaxMiB} MiB)`)
}
