/**
 * Section 2 of `bun run bench`: 16 KiB ranged GETs at seeded random offsets, sequential and 8 in flight, from
 * each target in turn: req/s, latency percentiles, and the CPU the serving process and the upstream used per
 * request (from /proc).
 */
import { latencySummary, ranged } from "../http.js"
import { cpuSecondsOf, jitSecondsBetween, jitThreadsOf } from "../processes.js"
import { log, settings } from "../settings.js"
import { median, seededRandom } from "../stats.js"
import { type PerTarget, perTarget, type Target, type TargetName } from "../targets.js"

export interface RangedTargetStats {
  readonly reqPerSec: number
  readonly p50: number
  readonly p90: number
  readonly p99: number
  readonly requests: number
  /** CPU the serving process used per request (µs, from /proc; NaN for direct, whose server is the upstream itself). */
  readonly serverCpuUsPerRequest: number
  /** Of that, the JIT compiler threads' (µs; NaN for direct). */
  readonly serverJitUsPerRequest: number
  /** CPU the upstream process used per request (µs). */
  readonly upstreamCpuUsPerRequest: number
}

export interface RangedStats {
  readonly mode: string
  readonly concurrency: number
  readonly requestsPerRep: number
  readonly reps: number
  readonly targets: PerTarget<RangedTargetStats>
  readonly proxyOverDirect: number
  readonly proxyOverBare: number
  /** Against the pass-through behind node:http, the server the proxy runs. */
  readonly proxyOverBareNode: number
  readonly addedP50MsVsDirect: number
  readonly addedP50MsVsBare: number
}

/** The same offsets for every target and every run (they also serve the byte check and the warm-up). */
export const rangeOffsets = (): ReadonlyArray<number> => {
  const random = seededRandom(20260101)
  const maxOffset = settings.objectBytes - settings.rangeLength
  return Array.from({ length: settings.rangeRequests }, () => Math.floor(random() * maxOffset))
}

const rangedBench = async (
  concurrency: number,
  offsets: ReadonlyArray<number>,
  targets: ReadonlyArray<Target>,
  upstreamPid: number
): Promise<RangedStats> => {
  const rates = perTarget((): Array<number> => [])
  const latencies = perTarget((): Array<number> => [])
  const counts = perTarget(() => 0)
  const serverCpu = perTarget(() => 0)
  const serverJit = perTarget(() => 0)
  const upstreamCpu = perTarget(() => 0)
  for (let rep = 0; rep < settings.rangeReps; rep++) {
    for (const target of targets) {
      const server0 = target.pid === undefined ? Number.NaN : cpuSecondsOf(target.pid)
      const jit0 = target.pid === undefined ? undefined : jitThreadsOf(target.pid)
      const upstream0 = cpuSecondsOf(upstreamPid)
      const result = await ranged(target.url, offsets, settings.rangeLength, concurrency, settings.rangeDeadlineMs)
      serverCpu[target.name] += target.pid === undefined ? Number.NaN : cpuSecondsOf(target.pid) - server0
      serverJit[target.name] += target.pid === undefined || jit0 === undefined
        ? Number.NaN
        : jitSecondsBetween(jit0, jitThreadsOf(target.pid))
      upstreamCpu[target.name] += cpuSecondsOf(upstreamPid) - upstream0
      rates[target.name].push(result.reqPerSec)
      latencies[target.name].push(...result.latenciesMs)
      counts[target.name] += result.requests
    }
  }
  const summary = (name: TargetName): RangedTargetStats => {
    const l = latencySummary(latencies[name])
    return {
      reqPerSec: median(rates[name]),
      p50: l.p50,
      p90: l.p90,
      p99: l.p99,
      requests: counts[name],
      serverCpuUsPerRequest: (serverCpu[name] * 1e6) / counts[name],
      serverJitUsPerRequest: (serverJit[name] * 1e6) / counts[name],
      upstreamCpuUsPerRequest: (upstreamCpu[name] * 1e6) / counts[name]
    }
  }
  const stats = { direct: summary("direct"), bare: summary("bare"), bareNode: summary("bareNode"), proxy: summary("proxy") }
  return {
    mode: concurrency === 1 ? "sequential" : `${concurrency} in flight`,
    concurrency,
    requestsPerRep: offsets.length,
    reps: settings.rangeReps,
    targets: stats,
    proxyOverDirect: stats.proxy.reqPerSec / stats.direct.reqPerSec,
    proxyOverBare: stats.proxy.reqPerSec / stats.bare.reqPerSec,
    proxyOverBareNode: stats.proxy.reqPerSec / stats.bareNode.reqPerSec,
    addedP50MsVsDirect: stats.proxy.p50 - stats.direct.p50,
    addedP50MsVsBare: stats.proxy.p50 - stats.bare.p50
  }
}

export const runRangedBench = async (
  offsets: ReadonlyArray<number>,
  targets: ReadonlyArray<Target>,
  upstreamPid: number
): Promise<ReadonlyArray<RangedStats>> => {
  log(`16 KiB ranged GETs (after ${settings.rangeWarmupRequests} untimed ones per target)…`)
  const warmup = Array.from({ length: settings.rangeWarmupRequests }, (_, i) => offsets[i % offsets.length]!)
  for (const target of targets) {
    await ranged(target.url, warmup, settings.rangeLength, settings.rangeConcurrency, 4 * settings.rangeDeadlineMs)
  }
  return [
    await rangedBench(1, offsets, targets, upstreamPid),
    await rangedBench(settings.rangeConcurrency, offsets, targets, upstreamPid)
  ]
}
