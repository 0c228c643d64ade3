/**
 * Section 4 of `bun run bench`: the proxy's memory (VmRSS, VmHWM) before and while section 1 streams, and while
 * a slow client (curl at a fixed rate) reads the large object, which shows whether backpressure holds.
 */
import { curlSlow } from "../http.js"
import { memoryOf, sampleRss } from "../processes.js"
import { log, settings } from "../settings.js"
import type { StreamStats } from "./streaming.js"

export interface Memory {
  readonly proxyRssBeforeMiB: number
  readonly proxyVmHwmBeforeMiB: number
  readonly proxyVmHwmAfterStreamsMiB: number
  readonly proxyPeakRssDuringStreamsMiB: number
  readonly bareRssBeforeMiB: number
  readonly barePeakRssDuringStreamsMiB: number
  readonly proxyRssAfterAllMiB: number
  readonly slowClient: SlowClient | undefined
}

export interface SlowClient {
  readonly bytesRead: number
  readonly seconds: number
  readonly proxyPeakRssMiB: number
}

export type MemorySnapshot = ReturnType<typeof memoryOf>

export const runSlowClient = async (proxyUrl: string, proxyPid: number): Promise<SlowClient> => {
  log(`slow client (${settings.slowClientBytesPerSecond / 1e6} MB/s for ${settings.slowClientSeconds} s)…`)
  const sampler = sampleRss(proxyPid, 20)
  let peak = Number.NaN
  const t = await curlSlow(proxyUrl, settings.slowClientBytesPerSecond, settings.slowClientSeconds)
    .finally(() => {
      peak = sampler.stop()
    })
  await Bun.sleep(200) // let the proxy see the disconnect before the next phase
  return { bytesRead: t.bytes, seconds: t.seconds, proxyPeakRssMiB: peak }
}

/** The section's figures, the proxy's RSS read now (at the end of the run); none when section 1 did not run. */
export const memoryResults = (
  streams: ReadonlyArray<StreamStats>,
  before: { readonly proxy: MemorySnapshot; readonly bare: MemorySnapshot },
  afterStreams: MemorySnapshot,
  slowClient: SlowClient | undefined,
  proxyPid: number
): Memory | undefined =>
  streams.length === 0 ? undefined : {
    proxyRssBeforeMiB: before.proxy.rss,
    proxyVmHwmBeforeMiB: before.proxy.hwm,
    proxyVmHwmAfterStreamsMiB: afterStreams.hwm,
    proxyPeakRssDuringStreamsMiB: Math.max(...streams.map((x) => x.peakRssMiB.proxy)),
    bareRssBeforeMiB: before.bare.rss,
    barePeakRssDuringStreamsMiB: Math.max(...streams.map((x) => x.peakRssMiB.bare)),
    proxyRssAfterAllMiB: memoryOf(proxyPid).rss,
    slowClient
  }
