/**
 * `bun run bench`: what the proxy costs, measured against the same upstream fetched directly in the same run.
 *
 *   1. streaming throughput of one large object (default 256 MiB), proxied / direct;
 *   2. 16 KiB ranged GETs at random offsets, sequential and 8 in flight: req/s, p50/p99, ratios;
 *   3. CPU per request of the core (`handle`, in-process, stub upstream, warm catalog cache);
 *   4. the proxy's memory while it streams the large object, and while a slow client reads it;
 *   5. authentication, in-process: SigV4 verification vs aws4fetch signing, session tokens, outbound federation;
 *   6. listing 10 000 keys (10 pages of ListObjectsV2) through the proxy and directly from the backend, for the
 *      S3-shaped fake upstream, Azurite (Azure Blob) and the in-test GCS XML API server;
 *   7. uploads (signed PUTs with session credentials from the proxy's /.sts) of 16 MiB and 1 GiB: the proxy's
 *      peak RSS for each, throughput proxy / direct; and the proxy's peak RSS while a 1 GiB object downloads.
 *
 * Everything runs on loopback: a Bun fake upstream (bench/upstream.ts) and the real proxy
 * (src/platform/bun/main.ts) as child processes, the clients in this process (and curl, if installed).
 * Results: a table on stdout and JSON in $BENCH_OUT (default /tmp/sdp-bench/latest.json).
 * `BENCH_QUICK=1` shrinks every count for a smoke run. This is a benchmark: nothing here asserts timings.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { cpus, loadavg, tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"
import { type FederationResults, type LoopOptions, type Rate, runFederationBench, runSessionBench, runSigV4Bench,
  generateKeys, type SigV4Results } from "./auth.js"
import { CPU_CASES, type CpuRow, runCpuBench } from "./cpu.js"
import { type AzureBackend, startAzureBackend } from "./azure.js"
import { ACCOUNT, AZURE_PRODUCT, BUCKET, GCS_BUCKET, GCS_PRODUCT, LIST_KEYS, OBJECT_KEY, PRODUCT, REPEAT_PREFIX, UPLOAD_PREFIX,
  WRITE_PRODUCT } from "./fixture.js"
import { azureListBlobs, curlSlow, curlWhole, fetchWhole, hasCurl, latencySummary, listAll, type Listing, type ListingDialect,
  listObjectsV1, listObjectsV2, rangeBytes, ranged, type Transfer } from "./http.js"
import { cpuSecondsOf, memoryOf, sampleRss, start, type Started } from "./processes.js"
import { median, round, seededRandom, table } from "./stats.js"
import { exchangeAtSts, mintApiKey, prepareKeys, rssOf, sampled, type SessionCredentials, signedPut, type UploadRun } from "./uploads.js"

const quick = (process.env.BENCH_QUICK ?? "") !== ""
const root = resolve(import.meta.dir, "..")
const outFile = process.env.BENCH_OUT ?? "/tmp/sdp-bench/latest.json"
const MiB = 1024 * 1024

const settings = {
  objectBytes: Number(process.env.BENCH_OBJECT_MIB ?? (quick ? 32 : 256)) * MiB,
  streamReps: quick ? 2 : 5,
  curlReps: quick ? 1 : 3,
  rangeLength: 16 * 1024,
  rangeRequests: quick ? 300 : 2000,
  rangeReps: quick ? 1 : 3,
  rangeConcurrency: 8,
  rangeDeadlineMs: 15_000,
  streamTimeoutMs: 30_000,
  slowClientBytesPerSecond: 32 * 1000 * 1000,
  slowClientSeconds: quick ? 1 : 3,
  cpu: { iterations: quick ? 2_000 : 20_000, warmup: quick ? 500 : 3_000, chunks: 5, maxMillis: quick ? 1_500 : 5_000 },
  auth: { warmup: quick ? 100 : 1_000, chunks: 5, maxMillis: quick ? 250 : 1_500 } satisfies LoopOptions,
  sigv4Pool: quick ? 64 : 256,
  listKeys: LIST_KEYS,
  /** Keys seeded into Azurite and the GCS server (Azurite takes a few seconds per thousand). */
  backendListKeys: quick ? 2_000 : LIST_KEYS,
  listReps: quick ? 2 : 5,
  azureSeedConcurrency: 32,
  listTimeoutMs: 15_000,
  uploadSmallBytes: 16 * MiB,
  uploadLargeBytes: Number(process.env.BENCH_UPLOAD_MIB ?? (quick ? 128 : 1024)) * MiB,
  uploadSmallReps: 3,
  uploadLargeReps: quick ? 1 : 3,
  downloadLargeReps: quick ? 1 : 2,
  uploadTimeoutMs: 120_000,
  rssSampleMs: 3
}

/** `BENCH_SECTIONS=1,2` runs only the sections named (4's memory figures come with 1); all by default. */
const sections = new Set((process.env.BENCH_SECTIONS ?? "1,2,3,4,5,6,7").split(",").map((name) => name.trim()))
const runs = (section: number) => sections.has(String(section))

const mbps = (t: Transfer) => t.bytes / 1e6 / t.seconds
const log = (message: string) => console.error(`[bench] ${message}`)

type TargetName = "direct" | "bare" | "proxy"
interface Target {
  readonly name: TargetName
  readonly url: string
  /** The process whose memory is sampled while it serves (none for direct). */
  readonly pid: number | undefined
}
type PerTarget<A> = Record<TargetName, A>
const perTarget = <A>(make: () => A): PerTarget<A> => ({ direct: make(), bare: make(), proxy: make() })

interface StreamStats {
  readonly client: string
  readonly reps: number
  /** Median MB/s per target. */
  readonly mbps: PerTarget<number>
  readonly allMBps: PerTarget<ReadonlyArray<number>>
  readonly proxyOverDirect: number
  readonly proxyOverBare: number
  readonly bareOverDirect: number
  /** CPU ms the serving process (bare, proxy) used per whole-object transfer, median. */
  readonly serverCpuMsPerTransfer: { readonly bare: number; readonly proxy: number }
  /** Peak RSS (MiB) sampled while the bare pass-through / the proxy streamed. */
  readonly peakRssMiB: { readonly bare: number; readonly proxy: number }
}

/** The targets take turns, so drift (page cache, CPU frequency, other load) hits all alike. */
const streamBench = async (
  client: string,
  get: (url: string, timeoutMs: number) => Promise<Transfer>,
  reps: number,
  targets: ReadonlyArray<Target>
): Promise<StreamStats> => {
  const rates = perTarget((): Array<number> => [])
  const peak = { bare: 0, proxy: 0 }
  const cpu = { bare: [] as Array<number>, proxy: [] as Array<number> }
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
  const mbpsOf = { direct: median(rates.direct), bare: median(rates.bare), proxy: median(rates.proxy) }
  return {
    client,
    reps,
    mbps: mbpsOf,
    allMBps: { direct: rates.direct.map(Math.round), bare: rates.bare.map(Math.round), proxy: rates.proxy.map(Math.round) },
    proxyOverDirect: mbpsOf.proxy / mbpsOf.direct,
    proxyOverBare: mbpsOf.proxy / mbpsOf.bare,
    bareOverDirect: mbpsOf.bare / mbpsOf.direct,
    serverCpuMsPerTransfer: { bare: median(cpu.bare), proxy: median(cpu.proxy) },
    peakRssMiB: peak
  }
}

interface RangedTargetStats {
  readonly reqPerSec: number
  readonly p50: number
  readonly p90: number
  readonly p99: number
  readonly requests: number
  /** CPU the serving process used per request (µs, from /proc; NaN for direct, whose server is the upstream itself). */
  readonly serverCpuUsPerRequest: number
  /** CPU the upstream process used per request (µs). */
  readonly upstreamCpuUsPerRequest: number
}

interface RangedStats {
  readonly mode: string
  readonly concurrency: number
  readonly requestsPerRep: number
  readonly reps: number
  readonly targets: PerTarget<RangedTargetStats>
  readonly proxyOverDirect: number
  readonly proxyOverBare: number
  readonly addedP50MsVsDirect: number
  readonly addedP50MsVsBare: number
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
  const upstreamCpu = perTarget(() => 0)
  for (let rep = 0; rep < settings.rangeReps; rep++) {
    for (const target of targets) {
      const server0 = target.pid === undefined ? Number.NaN : cpuSecondsOf(target.pid)
      const upstream0 = cpuSecondsOf(upstreamPid)
      const result = await ranged(target.url, offsets, settings.rangeLength, concurrency, settings.rangeDeadlineMs)
      serverCpu[target.name] += target.pid === undefined ? Number.NaN : cpuSecondsOf(target.pid) - server0
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
      upstreamCpuUsPerRequest: (upstreamCpu[name] * 1e6) / counts[name]
    }
  }
  const stats = { direct: summary("direct"), bare: summary("bare"), proxy: summary("proxy") }
  return {
    mode: concurrency === 1 ? "sequential" : `${concurrency} in flight`,
    concurrency,
    requestsPerRep: offsets.length,
    reps: settings.rangeReps,
    targets: stats,
    proxyOverDirect: stats.proxy.reqPerSec / stats.direct.reqPerSec,
    proxyOverBare: stats.proxy.reqPerSec / stats.bare.reqPerSec,
    addedP50MsVsDirect: stats.proxy.p50 - stats.direct.p50,
    addedP50MsVsBare: stats.proxy.p50 - stats.bare.p50
  }
}

interface UploadSize {
  readonly bytes: number
  readonly reps: number
  /** Median MB/s (10^6 B/s) directly to the upstream and through the proxy, same client. */
  readonly directMBps: number
  readonly proxyMBps: number
  readonly proxyOverDirect: number
  readonly allMBps: { readonly direct: ReadonlyArray<number>; readonly proxy: ReadonlyArray<number> }
  /** Highest VmRSS (MiB) of the proxy sampled during any of its transfers of this size. */
  readonly proxyPeakRssMiB: number
}

interface Uploads {
  /** The proxy's RSS (MiB) after a warm-up upload, before the measured ones. */
  readonly proxyRssBeforeMiB: number
  readonly small: UploadSize
  readonly large: UploadSize
  /** Peak RSS of the large upload / of the 16 MiB one, and the difference (MiB). */
  readonly largeOverSmallPeakRss: number
  readonly largeMinusSmallPeakRssMiB: number
  /** A GET of the large size through the proxy (bytes streamed from the upstream's buffer, repeated). */
  readonly download: UploadSize
  readonly downloadOverSmallUploadPeakRss: number
  readonly proxyRssAfterMiB: number
}

/** Direct and proxied transfers take turns; the proxy's RSS is sampled while it carries each. */
const transfers = async (
  bytes: number,
  reps: number,
  direct: () => Promise<Transfer>,
  proxied: () => Promise<Transfer>,
  proxyPid: number
): Promise<UploadSize> => {
  const runs = { direct: [] as Array<UploadRun>, proxy: [] as Array<UploadRun> }
  for (let i = 0; i < reps; i++) {
    runs.direct.push(await sampled(undefined, direct))
    runs.proxy.push(await sampled(proxyPid, proxied, settings.rssSampleMs))
  }
  const directMBps = median(runs.direct.map((r) => r.mbps))
  const proxyMBps = median(runs.proxy.map((r) => r.mbps))
  return {
    bytes,
    reps,
    directMBps,
    proxyMBps,
    proxyOverDirect: proxyMBps / directMBps,
    allMBps: { direct: runs.direct.map((r) => Math.round(r.mbps)), proxy: runs.proxy.map((r) => Math.round(r.mbps)) },
    proxyPeakRssMiB: Math.max(...runs.proxy.map((r) => r.peakRssMiB))
  }
}

const uploadsBench = async (upstreamOrigin: string, proxyOrigin: string, proxyPid: number, credentials: SessionCredentials): Promise<Uploads> => {
  const put = (origin: string, path: string, bytes: number) => async () => {
    const t = await signedPut(`${origin}${path}`, bytes, credentials, settings.uploadTimeoutMs)
    if (t.bytes !== bytes) throw new Error(`PUT ${path}: ${t.bytes} bytes`)
    return t
  }
  const direct = (bytes: number) => put(upstreamOrigin, `/${BUCKET}/${UPLOAD_PREFIX}${bytes}.bin`, bytes)
  const proxied = (bytes: number) => put(proxyOrigin, `/${ACCOUNT}/${WRITE_PRODUCT}/${UPLOAD_PREFIX}${bytes}.bin`, bytes)
  // Warm-up: the catalog, the permissions and the session key caches, and both connections.
  for (let i = 0; i < 3; i++) {
    await direct(MiB)()
    await proxied(MiB)()
  }
  const proxyRssBeforeMiB = rssOf(proxyPid)
  const { uploadSmallBytes: small, uploadLargeBytes: large } = settings
  const smallStats = await transfers(small, settings.uploadSmallReps, direct(small), proxied(small), proxyPid)
  const largeStats = await transfers(large, settings.uploadLargeReps, direct(large), proxied(large), proxyPid)
  const get = (url: string) => async () => {
    const t = await fetchWhole(url, settings.uploadTimeoutMs)
    if (t.bytes !== large) throw new Error(`GET ${url}: ${t.bytes} bytes, expected ${large}`)
    return t
  }
  const download = await transfers(
    large,
    settings.downloadLargeReps,
    get(`${upstreamOrigin}/${BUCKET}/${REPEAT_PREFIX}${large}.bin`),
    get(`${proxyOrigin}/${ACCOUNT}/${PRODUCT}/${REPEAT_PREFIX}${large}.bin`),
    proxyPid
  )
  return {
    proxyRssBeforeMiB,
    small: smallStats,
    large: largeStats,
    largeOverSmallPeakRss: largeStats.proxyPeakRssMiB / smallStats.proxyPeakRssMiB,
    largeMinusSmallPeakRssMiB: largeStats.proxyPeakRssMiB - smallStats.proxyPeakRssMiB,
    download,
    downloadOverSmallUploadPeakRss: download.proxyPeakRssMiB / smallStats.proxyPeakRssMiB,
    proxyRssAfterMiB: rssOf(proxyPid)
  }
}

const gitCommit = (): string => {
  const result = Bun.spawnSync(["git", "rev-parse", "--short", "HEAD"], { cwd: root, stdout: "pipe", stderr: "ignore" })
  return result.exitCode === 0 ? result.stdout.toString().trim() : "unknown"
}

interface Memory {
  readonly proxyRssBeforeMiB: number
  readonly proxyVmHwmBeforeMiB: number
  readonly proxyVmHwmAfterStreamsMiB: number
  readonly proxyPeakRssDuringStreamsMiB: number
  readonly bareRssBeforeMiB: number
  readonly barePeakRssDuringStreamsMiB: number
  readonly proxyRssAfterAllMiB: number
  readonly slowClient: { readonly bytesRead: number; readonly seconds: number; readonly proxyPeakRssMiB: number } | undefined
}

interface AuthCpu {
  readonly anonymousUs: number
  readonly headerAuthUs: number
  readonly presignedUs: number
  readonly headerOverAnonymous: number
  readonly presignedOverAnonymous: number
}

interface Auth {
  readonly sigv4: SigV4Results
  readonly session: ReadonlyArray<Rate>
  readonly federation: FederationResults
}

interface ListingStats {
  /** `s3` (the fake upstream), `az` (Azurite) or `gcs` (the in-test GCS XML API server). */
  readonly backend: string
  /** The API the direct listing used (the proxy is always listed with ListObjectsV2). */
  readonly directApi: string
  readonly keys: number
  readonly pages: number
  readonly reps: number
  /** Median ms to page through every key. */
  readonly directMs: number
  readonly proxyMs: number
  readonly proxyOverDirect: number
  readonly allMs: { readonly direct: ReadonlyArray<number>; readonly proxy: ReadonlyArray<number> }
  /** CPU ms the proxy process used per whole listing, median. */
  readonly proxyCpuMsPerListing: number
}

interface ListingCase {
  readonly backend: string
  readonly keys: number
  readonly directUrl: string
  readonly directDialect: ListingDialect
  readonly proxyUrl: string
}

/** Direct and proxied listings take turns; each must return every key. */
const listingBench = async (c: ListingCase, proxyPid: number): Promise<ListingStats> => {
  const { directUrl, proxyUrl } = c
  const times = { direct: [] as Array<number>, proxy: [] as Array<number> }
  const cpu: Array<number> = []
  let pages = 0
  const check = (name: string, l: Listing) => {
    if (l.keys !== c.keys) throw new Error(`${c.backend} ${name} listing: ${l.keys} keys, expected ${c.keys}`)
    pages = l.pages
  }
  check("direct", await listAll(directUrl, settings.listTimeoutMs, c.directDialect)) // warm-up (and the catalog cache)
  check("proxy", await listAll(proxyUrl, settings.listTimeoutMs))
  for (let i = 0; i < settings.listReps; i++) {
    const direct = await listAll(directUrl, settings.listTimeoutMs, c.directDialect)
    check("direct", direct)
    times.direct.push(direct.seconds * 1000)
    const cpu0 = cpuSecondsOf(proxyPid)
    const proxied = await listAll(proxyUrl, settings.listTimeoutMs)
    cpu.push((cpuSecondsOf(proxyPid) - cpu0) * 1000)
    check("proxy", proxied)
    times.proxy.push(proxied.seconds * 1000)
  }
  const directMs = median(times.direct)
  const proxyMs = median(times.proxy)
  return {
    backend: c.backend,
    directApi: c.directDialect.name,
    keys: c.keys,
    pages,
    reps: settings.listReps,
    directMs,
    proxyMs,
    proxyOverDirect: proxyMs / directMs,
    allMs: { direct: times.direct.map((x) => round(x, 1)), proxy: times.proxy.map((x) => round(x, 1)) },
    proxyCpuMsPerListing: median(cpu)
  }
}

const authCpuOf = (rows: ReadonlyArray<CpuRow>): AuthCpu => {
  const us = (name: string) => rows.find((r) => r.name === name)?.cpuUsPerRequest ?? Number.NaN
  const anonymousUs = us(CPU_CASES.anonymousGet)
  const headerAuthUs = us(CPU_CASES.headerAuthGet)
  const presignedUs = us(CPU_CASES.presignedGet)
  return {
    anonymousUs,
    headerAuthUs,
    presignedUs,
    headerOverAnonymous: headerAuthUs / anonymousUs,
    presignedOverAnonymous: presignedUs / anonymousUs
  }
}

/** A section left out by BENCH_SECTIONS is absent (its list empty). */
interface Results {
  readonly throughput: ReadonlyArray<StreamStats>
  readonly ranged: ReadonlyArray<RangedStats>
  readonly cpu: ReadonlyArray<CpuRow>
  readonly authCpu: AuthCpu | undefined
  readonly auth: Auth | undefined
  readonly listing: ListingStats | undefined
  readonly listingBackends: { readonly az: ListingStats; readonly gcs: ListingStats } | undefined
  readonly memory: Memory | undefined
  readonly uploads: Uploads | undefined
  readonly loadAverage1m: { readonly before: number; readonly after: number }
  readonly totalSeconds: number
}

const main = async () => {
  const began = performance.now()
  const loadBefore = loadavg()[0] ?? 0
  log(`quick=${quick}, object ${settings.objectBytes / MiB} MiB, ${cpus().length} CPUs, bun ${Bun.version}, `
    + `sections ${[...sections].join(",")}`)

  // 3 first, with nothing else of ours running: the core's CPU per request.
  if (runs(3)) log("core CPU per request (in-process)…")
  const cpuRows: ReadonlyArray<CpuRow> = runs(3) ? await runCpuBench(settings.cpu) : []

  // 5: authentication, in-process too.
  let auth: Auth | undefined
  if (runs(5)) {
    log("authentication (in-process): SigV4, session tokens, outbound federation…")
    const keys = await generateKeys()
    auth = {
      sigv4: await runSigV4Bench(settings.sigv4Pool, settings.auth),
      session: await runSessionBench(keys, settings.auth),
      federation: await runFederationBench(keys, settings.auth)
    }
  }

  const started: Array<Started> = []
  let azure: AzureBackend | undefined
  // Section 7's keys: a dev key file of its own (deleted at the end), so API keys can be minted here.
  const keyDir = mkdtempSync(join(tmpdir(), "sdp-bench-keys-"))
  try {
    const { proxyEnv, keys: devKeys } = await prepareKeys(join(keyDir, "keys.json"))
    // Section 6's other backends, seeded now (before anything is timed) since the upstream's Source API names them.
    let backends: { readonly azure: AzureBackend; readonly gcs: Started } | undefined
    if (runs(6)) {
      log(`starting Azurite and the GCS server, ${settings.backendListKeys} keys each…`)
      const seeding = performance.now()
      const [azureStarted, gcsStarted] = await Promise.allSettled([
        startAzureBackend(settings.backendListKeys, settings.azureSeedConcurrency),
        start("gcs", "bench/gcs-server.ts", { LIST_KEYS: String(settings.backendListKeys) }, root, 60_000)
      ])
      if (azureStarted.status === "fulfilled") azure = azureStarted.value
      if (gcsStarted.status === "fulfilled") started.push(gcsStarted.value)
      if (azureStarted.status === "rejected") throw azureStarted.reason
      if (gcsStarted.status === "rejected") throw gcsStarted.reason
      backends = { azure: azureStarted.value, gcs: gcsStarted.value }
      log(`  seeded in ${round((performance.now() - seeding) / 1000, 1)} s`)
    }
    log("starting the upstream, the bare pass-through and the proxy…")
    const upstream = await start("upstream", "bench/upstream.ts", {
      PORT: "0",
      UPSTREAM_SIZE: String(settings.objectBytes),
      ...(backends === undefined ? {} : {
        AZURE_ENDPOINT: backends.azure.endpoint,
        AZURE_ACCOUNT_KEY: backends.azure.accountKey,
        GCS_ENDPOINT: backends.gcs.origin
      })
    }, root)
    started.push(upstream)
    const bare = await start("passthrough", "bench/passthrough.ts", { PORT: "0", UPSTREAM: upstream.origin }, root)
    started.push(bare)
    const proxy = await start("proxy", "src/platform/bun/main.ts", {
      PORT: "0",
      HOST: "127.0.0.1",
      SOURCE_API_URL: upstream.origin,
      LOG_LEVEL: "error",
      ...proxyEnv
    }, root)
    started.push(proxy)

    const path = `/${ACCOUNT}/${PRODUCT}/${OBJECT_KEY}`
    const targets: ReadonlyArray<Target> = [
      { name: "direct", url: `${upstream.origin}/${BUCKET}/${OBJECT_KEY}`, pid: undefined },
      { name: "bare", url: `${bare.origin}${path}`, pid: bare.pid },
      { name: "proxy", url: `${proxy.origin}${path}`, pid: proxy.pid }
    ]
    const proxyUrl = `${proxy.origin}${path}`

    // Every target must return exactly the upstream's bytes, or the figures mean nothing.
    const random = seededRandom(20260101)
    const maxOffset = settings.objectBytes - settings.rangeLength
    const offsets = Array.from({ length: settings.rangeRequests }, () => Math.floor(random() * maxOffset))
    for (const offset of offsets.slice(0, 5)) {
      const bodies = await Promise.all(targets.map((t) => rangeBytes(t.url, offset, offset + settings.rangeLength - 1)))
      const [reference] = bodies
      for (const body of bodies) {
        if (reference === undefined || body.length !== reference.length || !body.every((byte, i) => byte === reference[i])) {
          throw new Error(`bytes differ at offset ${offset}`)
        }
      }
    }
    const head = await fetch(proxyUrl, { method: "HEAD" })
    if (head.headers.get("content-length") !== String(settings.objectBytes)) {
      throw new Error(`proxied HEAD: content-length ${head.headers.get("content-length")}`)
    }

    log("warm-up…")
    for (const t of targets) {
      await ranged(t.url, offsets.slice(0, 200), settings.rangeLength, 1, 10_000)
      await ranged(t.url, offsets.slice(0, 200), settings.rangeLength, settings.rangeConcurrency, 10_000)
    }
    const proxyBefore = memoryOf(proxy.pid)
    const bareBefore = memoryOf(bare.pid)
    if (runs(1)) for (const t of targets) await fetchWhole(t.url, settings.streamTimeoutMs)

    // 1 + 4: streaming throughput and the proxy's memory meanwhile.
    const streams: Array<StreamStats> = []
    if (runs(1)) {
      log("streaming…")
      streams.push(await streamBench("bun fetch", fetchWhole, settings.streamReps, targets))
      if (hasCurl()) streams.push(await streamBench("curl", curlWhole, settings.curlReps, targets))
    }
    const afterStreams = memoryOf(proxy.pid)

    let slow: Memory["slowClient"]
    if (runs(1) && hasCurl()) {
      log(`slow client (${settings.slowClientBytesPerSecond / 1e6} MB/s for ${settings.slowClientSeconds} s)…`)
      const sampler = sampleRss(proxy.pid, 20)
      let peak = Number.NaN
      const t = await curlSlow(proxyUrl, settings.slowClientBytesPerSecond, settings.slowClientSeconds)
        .finally(() => {
          peak = sampler.stop()
        })
      slow = { bytesRead: t.bytes, seconds: t.seconds, proxyPeakRssMiB: peak }
      await Bun.sleep(200) // let the proxy see the disconnect before the next phase
    }

    // 2: small ranged reads.
    if (runs(2)) log("16 KiB ranged GETs…")
    const rangedRows = runs(2)
      ? [
        await rangedBench(1, offsets, targets, upstream.pid),
        await rangedBench(settings.rangeConcurrency, offsets, targets, upstream.pid)
      ]
      : []

    // 6: listing every key of the bucket, 1000 per page, for each backend.
    const proxyList = (product: string) => `${proxy.origin}/${ACCOUNT}?list-type=2&prefix=${product}%2Fk%2F&max-keys=1000`
    let listing: ListingStats | undefined
    let listingBackends: Results["listingBackends"]
    if (backends !== undefined) {
      log(`listing ${settings.listKeys} keys (S3-shaped upstream)…`)
      listing = await listingBench({
        backend: "s3",
        keys: settings.listKeys,
        directUrl: `${upstream.origin}/${BUCKET}?list-type=2&prefix=k%2F&max-keys=1000`,
        directDialect: listObjectsV2,
        proxyUrl: proxyList(PRODUCT)
      }, proxy.pid)
      log(`listing ${settings.backendListKeys} keys (Azurite)…`)
      const az = await listingBench({
        backend: "az",
        keys: settings.backendListKeys,
        directUrl: backends.azure.listUrl("k/", 1000),
        directDialect: azureListBlobs,
        proxyUrl: proxyList(AZURE_PRODUCT)
      }, proxy.pid)
      log(`listing ${settings.backendListKeys} keys (GCS XML API server)…`)
      const gcs = await listingBench({
        backend: "gcs",
        keys: settings.backendListKeys,
        directUrl: `${backends.gcs.origin}/${GCS_BUCKET}?prefix=k%2F&max-keys=1000`,
        directDialect: listObjectsV1,
        proxyUrl: proxyList(GCS_PRODUCT)
      }, proxy.pid)
      listingBackends = { az, gcs }
    }

    // 7: uploads with session credentials (an API key exchanged at the proxy's /.sts), and a large download.
    let uploads: Uploads | undefined
    if (runs(7)) {
      log(`uploads (${settings.uploadSmallBytes / MiB} MiB, ${settings.uploadLargeBytes / MiB} MiB) and a `
        + `${settings.uploadLargeBytes / MiB} MiB download…`)
      const credentials = await exchangeAtSts(proxy.origin, await mintApiKey(devKeys))
      uploads = await uploadsBench(upstream.origin, proxy.origin, proxy.pid, credentials)
    }

    const results = {
      date: new Date().toISOString(),
      commit: gitCommit(),
      bun: Bun.version,
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? "unknown",
      quick,
      settings,
      throughput: streams,
      ranged: rangedRows,
      cpu: cpuRows,
      authCpu: runs(3) ? authCpuOf(cpuRows) : undefined,
      auth,
      listing,
      listingBackends,
      memory: streams.length === 0 ? undefined : {
        proxyRssBeforeMiB: proxyBefore.rss,
        proxyVmHwmBeforeMiB: proxyBefore.hwm,
        proxyVmHwmAfterStreamsMiB: afterStreams.hwm,
        proxyPeakRssDuringStreamsMiB: Math.max(...streams.map((x) => x.peakRssMiB.proxy)),
        bareRssBeforeMiB: bareBefore.rss,
        barePeakRssDuringStreamsMiB: Math.max(...streams.map((x) => x.peakRssMiB.bare)),
        proxyRssAfterAllMiB: memoryOf(proxy.pid).rss,
        slowClient: slow
      },
      uploads,
      loadAverage1m: { before: round(loadBefore), after: round(loadavg()[0] ?? 0) },
      totalSeconds: (performance.now() - began) / 1000
    }
    report(results)
    mkdirSync(dirname(outFile), { recursive: true })
    writeFileSync(outFile, `${JSON.stringify(results, null, 2)}\n`)
    console.log(`\nJSON: ${outFile}   (whole run ${round(results.totalSeconds, 1)} s)`)
    const { before: lb, after: la } = results.loadAverage1m
    if (Math.max(lb, la) > 0.7) {
      console.log(`WARNING: 1-minute load average ${lb} before / ${la} after: other work shared the ${cpus().length} CPUs; `
        + "treat the figures as noisy.")
    }
  } finally {
    for (const s of started.reverse()) await s.stop()
    await azure?.stop()
    rmSync(keyDir, { recursive: true, force: true })
  }
}

const report = (r: Results) => {
  const size = `${settings.objectBytes / MiB} MiB`
  if (r.throughput.length > 0) {
    console.log(`\n1. Streaming one ${size} object: median MB/s (10^6 B/s); bare = minimal Bun fetch→Response pass-through`)
    console.log(table([
      ["client", "reps", "direct", "bare", "proxy", "proxy/direct", "proxy/bare", "bare/direct", "CPU ms/transfer bare",
        "CPU ms/transfer proxy"],
      ...r.throughput.map((x) => [
        x.client, x.reps, x.mbps.direct, x.mbps.bare, x.mbps.proxy,
        round(x.proxyOverDirect, 3), round(x.proxyOverBare, 3), round(x.bareOverDirect, 3),
        Math.round(x.serverCpuMsPerTransfer.bare), Math.round(x.serverCpuMsPerTransfer.proxy)
      ])
    ]))
  }
  if (r.ranged.length > 0) {
    console.log(`\n2. ${settings.rangeLength / 1024} KiB ranged GETs at random offsets (Bun fetch, keep-alive): req/s and latency (ms)`)
    console.log(table([
      ["mode", "target", "requests", "req/s", "p50", "p90", "p99", "req/s vs direct", "req/s vs bare", "server CPU µs/req",
        "upstream CPU µs/req"],
      ...r.ranged.flatMap((x) =>
        (["direct", "bare", "proxy"] as const).map((name) => {
          const t = x.targets[name]
          return [
            name === "direct" ? x.mode : "",
            name,
            t.requests,
            t.reqPerSec,
            round(t.p50, 3),
            round(t.p90, 3),
            round(t.p99, 3),
            round(t.reqPerSec / x.targets.direct.reqPerSec, 3),
            round(t.reqPerSec / x.targets.bare.reqPerSec, 3),
            name === "direct" ? "—" : String(Math.round(t.serverCpuUsPerRequest)),
            Math.round(t.upstreamCpuUsPerRequest)
          ]
        })
      )
    ]))
    for (const x of r.ranged) {
      console.log(`   ${x.mode}: proxy adds ${round(x.addedP50MsVsDirect, 3)} ms p50 over direct, `
        + `${round(x.addedP50MsVsBare, 3)} ms over bare`)
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
      [`${label} direct (${x.directApi})`, x.keys, x.pages, round(x.directMs, 1), x.allMs.direct.join(" "), "—", ""],
      [`${label} proxy`, x.keys, x.pages, round(x.proxyMs, 1), x.allMs.proxy.join(" "), round(x.proxyCpuMsPerListing, 0),
        `${round(x.proxyOverDirect, 2)}×`]
    ]
    console.log(table([
      ["target", "keys", "pages", "ms per full listing", "runs (ms)", "proxy CPU ms/listing", "proxy/direct"],
      ...listingRows(l, "S3 upstream"),
      ...listingRows(az, "Azurite"),
      ...listingRows(gcs, "GCS server")
    ]))
    console.log(`   proxy/direct: S3 ${round(l.proxyOverDirect, 2)}×, Azure ${round(az.proxyOverDirect, 2)}×, `
      + `GCS ${round(gcs.proxyOverDirect, 2)}×`)
  }
  const u = r.uploads
  if (u !== undefined) {
    const mib = (bytes: number) => `${bytes / MiB} MiB`
    console.log(`\n7. Uploads: signed PUTs (session credentials from /.sts, UNSIGNED-PAYLOAD, streamed body with its `
      + `Content-Length), the upstream drains them; proxy VmRSS sampled every ${settings.rssSampleMs} ms`)
    console.log(table([
      ["transfer", "reps", "direct MB/s", "proxy MB/s", "proxy/direct", "runs direct", "runs proxy", "proxy peak RSS MiB"],
      ...([["PUT", u.small], ["PUT", u.large], ["GET", u.download]] as const).map(([verb, x]) => [
        `${verb} ${mib(x.bytes)}`, x.reps, x.directMBps, x.proxyMBps, round(x.proxyOverDirect, 3),
        x.allMBps.direct.join(" "), x.allMBps.proxy.join(" "), round(x.proxyPeakRssMiB, 1)
      ])
    ]))
    console.log(`   proxy RSS before the uploads ${round(u.proxyRssBeforeMiB, 1)} MiB, after ${round(u.proxyRssAfterMiB, 1)} MiB; `
      + `peak RSS PUT ${mib(u.large.bytes)} / PUT ${mib(u.small.bytes)}: ${round(u.largeOverSmallPeakRss, 2)}× `
      + `(${u.largeMinusSmallPeakRssMiB >= 0 ? "+" : ""}${round(u.largeMinusSmallPeakRssMiB, 1)} MiB); `
      + `GET ${mib(u.download.bytes)} / PUT ${mib(u.small.bytes)}: ${round(u.downloadOverSmallUploadPeakRss, 2)}×`)
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
