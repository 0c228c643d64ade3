/**
 * `bun run bench`: what the proxy costs, measured against the same upstream fetched directly in the same run.
 * One file per section in bench/sections/, run in this order:
 *
 *   3. CPU per request of the core (`handle`, in-process, stub upstream, warm catalog cache): cpu.ts;
 *   5. authentication, in-process: SigV4 verification vs aws4fetch signing, session tokens, outbound federation: auth.ts;
 *   1. streaming throughput of one large object (default 256 MiB), proxied / direct: streaming.ts;
 *   4. the proxy's memory while it streams the large object, and while a slow client reads it: memory.ts;
 *   2. 16 KiB ranged GETs at random offsets, sequential and 8 in flight: req/s, p50/p99, ratios: ranges.ts;
 *   6. listing 10 000 keys (10 pages of ListObjectsV2) through the proxy and directly from the backend, for the
 *      S3-shaped fake upstream, Azurite (Azure Blob) and the in-test GCS XML API server: listing.ts;
 *   8. the Worker bundle in workerd (Miniflare): CPU per request of GET, HEAD, signed GET and a listing page: workerd.ts;
 *   7. uploads (signed PUTs with session credentials from the proxy's /.sts) of 16 MiB and 1 GiB: the proxy's
 *      peak RSS for each, throughput proxy / direct; and the proxy's peak RSS while a 1 GiB object downloads: uploads.ts;
 *   9. the chunk cache: 16 KiB ranged GETs in a 64 MiB object, direct / no cache / cold / warm, with upstreams of
 *      0 and 20 ms latency, and the backend bytes fetched per byte served: chunkCache.ts (its own processes).
 *
 * Everything runs on loopback: a Bun fake upstream (bench/upstream.ts) and the real proxy
 * (src/platform/bun/main.ts) as child processes, the clients in this process (and curl, if installed).
 * Results: a table on stdout and JSON in $BENCH_OUT (default /tmp/sdp-bench/latest.json), by report.ts.
 * `BENCH_QUICK=1` shrinks every count for a smoke run (settings.ts). This is a benchmark: nothing here asserts timings.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { cpus, loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { hasCurl } from "./http.js"
import { memoryOf, type Started } from "./processes.js"
import { report, runInfo } from "./report.js"
import { runAuthBench } from "./sections/auth.js"
import { runChunkCacheBench } from "./sections/chunkCache.js"
import { authCpuOf, runCpuBench } from "./sections/cpu.js"
import { type ListingBackends, runListingBench, startListingBackends, upstreamEnvOf } from "./sections/listing.js"
import { memoryResults, runSlowClient } from "./sections/memory.js"
import { rangeOffsets, runRangedBench } from "./sections/ranges.js"
import { runStreamingBench } from "./sections/streaming.js"
import { runWorkerdBench } from "./sections/workerd.js"
import { prepareKeys, runUploadsBench } from "./sections/uploads.js"
import { log, MiB, quick, runs, sections, settings } from "./settings.js"
import { round } from "./stats.js"
import { checkTargets, startServers, warmUp } from "./targets.js"

const main = async () => {
  const began = performance.now()
  const loadBefore = loadavg()[0] ?? 0
  log(`quick=${quick}, object ${settings.objectBytes / MiB} MiB, ${cpus().length} CPUs, bun ${Bun.version}, `
    + `sections ${[...sections].join(",")}`)

  // 3 and 5 first, in-process, with nothing else of ours running.
  const cpuRows = runs(3) ? await runCpuBench(settings.cpu) : []
  const auth = runs(5) ? await runAuthBench(settings.sigv4Pool, settings.auth) : undefined

  const started: Array<Started> = []
  let backends: ListingBackends | undefined
  // Section 7's keys: a dev key file of its own (deleted at the end), so API keys can be minted here.
  const keyDir = mkdtempSync(join(tmpdir(), "sdp-bench-keys-"))
  try {
    const { proxyEnv, keys: devKeys } = await prepareKeys(join(keyDir, "keys.json"))
    if (runs(6)) {
      backends = await startListingBackends()
      started.push(backends.gcs)
    }
    log("starting the upstream, the bare pass-throughs and the proxy…")
    const servers = await startServers(started, upstreamEnvOf(backends), proxyEnv)
    const { upstream, bare, proxy, targets, proxyUrl } = servers
    const offsets = rangeOffsets()
    await checkTargets(servers, offsets)
    log("warm-up…")
    await warmUp(targets, offsets)

    const before = { proxy: memoryOf(proxy.pid), bare: memoryOf(bare.pid) }
    const streams = runs(1) ? await runStreamingBench(targets) : []
    const afterStreams = memoryOf(proxy.pid)
    const slowClient = runs(1) && hasCurl() ? await runSlowClient(proxyUrl, proxy.pid) : undefined
    const rangedRows = runs(2) ? await runRangedBench(offsets, targets, upstream.pid) : []
    const listing = backends === undefined ? undefined : await runListingBench(upstream.origin, proxy, bare, backends)
    const workerd = runs(8) ? await runWorkerdBench(upstream.origin, devKeys, settings.workerdRequests) : []
    const uploads = runs(7) ? await runUploadsBench(upstream.origin, { bare: bare.origin, bareNode: servers.bareNode.origin }, proxy.origin, proxy.pid, devKeys) : undefined
    const memory = memoryResults(streams, before, afterStreams, slowClient, proxy.pid)
    // Section 9 starts processes of its own: these are done.
    for (const s of started.splice(0).reverse()) await s.stop()
    const chunkCache = runs(9) ? await runChunkCacheBench(settings.cacheLatenciesMs) : undefined

    report({
      ...runInfo(),
      quick,
      settings,
      throughput: streams,
      ranged: rangedRows,
      cpu: cpuRows,
      authCpu: runs(3) ? authCpuOf(cpuRows) : undefined,
      auth,
      listing: listing?.s3,
      listingBackends: listing === undefined ? undefined : { az: listing.az, gcs: listing.gcs },
      memory,
      uploads,
      workerd,
      chunkCache,
      loadAverage1m: { before: round(loadBefore), after: round(loadavg()[0] ?? 0) },
      totalSeconds: (performance.now() - began) / 1000
    })
  } finally {
    for (const s of started.reverse()) await s.stop()
    await backends?.azure.stop()
    rmSync(keyDir, { recursive: true, force: true })
  }
}

// Exit explicitly: pending AbortSignal.timeout timers would otherwise keep the process alive for seconds.
await main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error)
    process.exit(1)
  }
)
