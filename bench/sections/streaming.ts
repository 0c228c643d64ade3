/**
 * Section 1 of `bun run bench`: one large object read whole, with Bun `fetch` and with curl (if installed),
 * from each target in turn; the serving process's CPU and peak RSS are sampled meanwhile (section 4 uses them).
 */
import { curlWhole, fetchWhole, hasCurl, mbps, type Transfer } from "../http.js"
import { cpuSecondsOf, sampleRss } from "../processes.js"
import { log, settings } from "../settings.js"
import { median } from "../stats.js"
import { type PerTarget, perTarget, type Target } from "../targets.js"

export interface StreamStats {
  readonly client: string
  readonly reps: number
  /** Median MB/s per target. */
  readonly mbps: PerTarget<number>
  readonly allMBps: PerTarget<ReadonlyArray<number>>
  readonly proxyOverDirect: number
  readonly proxyOverBare: number
  /** Against the pass-through behind node:http, the server the proxy runs (it keeps Content-Length). */
  readonly proxyOverBareNode: number
  readonly bareOverDirect: number
  /** CPU ms the serving process (bare, bareNode, proxy) used per whole-object transfer, median. */
  readonly serverCpuMsPerTransfer: { readonly bare: number; readonly bareNode: number; readonly proxy: number }
  /** Peak RSS (MiB) sampled while each pass-through / the proxy streamed. */
  readonly peakRssMiB: { readonly bare: number; readonly bareNode: number; readonly proxy: number }
}

/** The targets take turns, so drift (page cache, CPU frequency, other load) hits all alike. */
const streamBench = async (
  client: string,
  get: (url: string, timeoutMs: number) => Promise<Transfer>,
  reps: number,
  targets: ReadonlyArray<Target>
): Promise<StreamStats> => {
  const rates = perTarget((): Array<number> => [])
  const peak = { bare: 0, bareNode: 0, proxy: 0 }
  const cpu = { bare: [] as Array<number>, bareNode: [] as Array<number>, proxy: [] as Array<number> }
  for (let i = 0; i < reps; i++) {
    for (const target of targets) {
      const sampler = target.pid === undefined ? undefined : sampleRss(target.pid)
      const cpu0 = target.pid === undefined ? Number.NaN : cpuSecondsOf(target.pid)
      let t: Transfer
      try {
        t = await get(target.url, settings.streamTimeoutMs)
      } finally {
        const max = sampler?.stop()
        if (max !== undefined && target.name !== "direct") peak[target.name] = Math.max(peak[target.name], max)
      }
      if (target.pid !== undefined && target.name !== "direct") {
        cpu[target.name].push((cpuSecondsOf(target.pid) - cpu0) * 1000)
      }
      if (t.bytes !== settings.objectBytes) {
        throw new Error(`${client} ${target.name}: got ${t.bytes} bytes, expected ${settings.objectBytes}`)
      }
      rates[target.name].push(mbps(t))
    }
  }
  const mbpsOf = { direct: median(rates.direct), bare: median(rates.bare), bareNode: median(rates.bareNode), proxy: median(rates.proxy) }
  return {
    client,
    reps,
    mbps: mbpsOf,
    allMBps: {
      direct: rates.direct.map(Math.round),
      bare: rates.bare.map(Math.round),
      bareNode: rates.bareNode.map(Math.round),
      proxy: rates.proxy.map(Math.round)
    },
    proxyOverDirect: mbpsOf.proxy / mbpsOf.direct,
    proxyOverBare: mbpsOf.proxy / mbpsOf.bare,
    proxyOverBareNode: mbpsOf.proxy / mbpsOf.bareNode,
    bareOverDirect: mbpsOf.bare / mbpsOf.direct,
    serverCpuMsPerTransfer: { bare: median(cpu.bare), bareNode: median(cpu.bareNode), proxy: median(cpu.proxy) },
    peakRssMiB: peak
  }
}

/** One untimed whole read per target, then the Bun fetch rounds and the curl rounds. */
export const runStreamingBench = async (targets: ReadonlyArray<Target>): Promise<ReadonlyArray<StreamStats>> => {
  for (const t of targets) await fetchWhole(t.url, settings.streamTimeoutMs)
  log("streaming…")
  const streams = [await streamBench("bun fetch", fetchWhole, settings.streamReps, targets)]
  if (hasCurl()) streams.push(await streamBench("curl", curlWhole, settings.curlReps, targets))
  return streams
}
