/**
 * Section 6 of `bun run bench`: every key of a bucket listed 1000 a page, through the proxy (ListObjectsV2 with
 * continuation tokens), directly from the backend and (S3) through the bare pass-through, taking turns, for the S3-shaped fake upstream, Azurite
 * (azure.ts) and the in-test GCS XML API server in a child process (gcs-server.ts).
 */
import { type AzureBackend, startAzureBackend } from "../azure.js"
import { ACCOUNT, AZURE_PRODUCT, BUCKET, GCS_BUCKET, GCS_PRODUCT, PRODUCT } from "../fixture.js"
import { azureListBlobs, listAll, type Listing, type ListingDialect, listObjectsV1, listObjectsV2 } from "../http.js"
import { cpuSecondsOf, start, type Started } from "../processes.js"
import { log, root, settings } from "../settings.js"
import { median, round } from "../stats.js"

export interface ListingStats {
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
  readonly allMs: { readonly direct: ReadonlyArray<number>; readonly proxy: ReadonlyArray<number>; readonly bare?: ReadonlyArray<number> }
  /** CPU ms the proxy process used per whole listing, median. */
  readonly proxyCpuMsPerListing: number
  /**
   * The same listing through the bare pass-through (S3 only: the backend's pages handed back unparsed), the floor
   * of a Bun hop that reads and writes the same bytes: median ms, its process's CPU ms per listing, proxy/bare.
   */
  readonly bare?: { readonly ms: number; readonly cpuMsPerListing: number; readonly proxyOverBare: number; readonly proxyCpuOverBare: number }
}

export interface ListingResults {
  readonly s3: ListingStats
  readonly az: ListingStats
  readonly gcs: ListingStats
}

interface ListingCase {
  readonly backend: string
  readonly keys: number
  readonly directUrl: string
  readonly directDialect: ListingDialect
  readonly proxyUrl: string
  readonly bare?: { readonly url: string; readonly pid: number }
}

/** Direct and proxied listings take turns; each must return every key. */
const listingBench = async (c: ListingCase, proxyPid: number): Promise<ListingStats> => {
  const { directUrl, proxyUrl } = c
  const times = { direct: [] as Array<number>, proxy: [] as Array<number>, bare: [] as Array<number> }
  const cpu: Array<number> = []
  const bareCpu: Array<number> = []
  let pages = 0
  const check = (name: string, l: Listing) => {
    if (l.keys !== c.keys) throw new Error(`${c.backend} ${name} listing: ${l.keys} keys, expected ${c.keys}`)
    pages = l.pages
  }
  check("direct", await listAll(directUrl, settings.listTimeoutMs, c.directDialect)) // warm-up (and the catalog cache)
  check("proxy", await listAll(proxyUrl, settings.listTimeoutMs))
  if (c.bare !== undefined) check("bare", await listAll(c.bare.url, settings.listTimeoutMs))
  for (let i = 0; i < settings.listReps; i++) {
    const direct = await listAll(directUrl, settings.listTimeoutMs, c.directDialect)
    check("direct", direct)
    times.direct.push(direct.seconds * 1000)
    const cpu0 = cpuSecondsOf(proxyPid)
    const proxied = await listAll(proxyUrl, settings.listTimeoutMs)
    cpu.push((cpuSecondsOf(proxyPid) - cpu0) * 1000)
    check("proxy", proxied)
    times.proxy.push(proxied.seconds * 1000)
    if (c.bare !== undefined) {
      const bareCpu0 = cpuSecondsOf(c.bare.pid)
      const bare = await listAll(c.bare.url, settings.listTimeoutMs)
      bareCpu.push((cpuSecondsOf(c.bare.pid) - bareCpu0) * 1000)
      check("bare", bare)
      times.bare.push(bare.seconds * 1000)
    }
  }
  const directMs = median(times.direct)
  const proxyMs = median(times.proxy)
  // CPU is read in clock ticks (10 ms), about a bare listing's whole cost: the mean over the runs, not a median
  // of single runs that are mostly 0 or 10.
  const meanOf = (values: ReadonlyArray<number>) => values.reduce((a, b) => a + b, 0) / values.length
  const proxyCpuMsPerListing = meanOf(cpu)
  const bareMs = median(times.bare)
  return {
    backend: c.backend,
    directApi: c.directDialect.name,
    keys: c.keys,
    pages,
    reps: settings.listReps,
    directMs,
    proxyMs,
    proxyOverDirect: proxyMs / directMs,
    allMs: {
      direct: times.direct.map((x) => round(x, 1)),
      proxy: times.proxy.map((x) => round(x, 1)),
      ...(c.bare === undefined ? {} : { bare: times.bare.map((x) => round(x, 1)) })
    },
    proxyCpuMsPerListing,
    ...(c.bare === undefined ? {} : {
      bare: {
        ms: bareMs,
        cpuMsPerListing: meanOf(bareCpu),
        proxyOverBare: proxyMs / bareMs,
        // NaN (printed "—") when the bare used less than a tick in all runs together
        proxyCpuOverBare: meanOf(bareCpu) > 0 ? proxyCpuMsPerListing / meanOf(bareCpu) : Number.NaN
      }
    })
  }
}

export interface ListingBackends {
  readonly azure: AzureBackend
  readonly gcs: Started
}

/**
 * Azurite and the GCS server, seeded in parallel before anything is timed (the upstream's Source API names
 * them, so they start first). If one fails, the other is stopped before the failure is passed on.
 */
export const startListingBackends = async (): Promise<ListingBackends> => {
  log(`starting Azurite and the GCS server, ${settings.backendListKeys} keys each…`)
  const seeding = performance.now()
  const [azure, gcs] = await Promise.allSettled([
    startAzureBackend(settings.backendListKeys, settings.azureSeedConcurrency),
    start("gcs", "bench/gcs-server.ts", { LIST_KEYS: String(settings.backendListKeys) }, root, 60_000)
  ])
  if (azure.status === "fulfilled" && gcs.status === "fulfilled") {
    log(`  seeded in ${round((performance.now() - seeding) / 1000, 1)} s`)
    return { azure: azure.value, gcs: gcs.value }
  }
  for (const result of [azure, gcs]) if (result.status === "fulfilled") await result.value.stop()
  throw [azure, gcs].find((result) => result.status === "rejected")?.reason
}

/** What the upstream needs to serve the Source API entries of `bench/az` and `bench/gcs`. */
export const upstreamEnvOf = (backends: ListingBackends | undefined): Record<string, string> =>
  backends === undefined ? {} : {
    AZURE_ENDPOINT: backends.azure.endpoint,
    AZURE_ACCOUNT_KEY: backends.azure.accountKey,
    GCS_ENDPOINT: backends.gcs.origin
  }

export const runListingBench = async (
  upstreamOrigin: string,
  proxy: Started,
  bare: Started,
  backends: ListingBackends
): Promise<ListingResults> => {
  const proxyList = (product: string) => `${proxy.origin}/${ACCOUNT}?list-type=2&prefix=${product}%2Fk%2F&max-keys=1000`
  log(`listing ${settings.listKeys} keys (S3-shaped upstream)…`)
  const s3 = await listingBench({
    backend: "s3",
    keys: settings.listKeys,
    directUrl: `${upstreamOrigin}/${BUCKET}?list-type=2&prefix=k%2F&max-keys=1000`,
    directDialect: listObjectsV2,
    proxyUrl: proxyList(PRODUCT),
    bare: { url: `${bare.origin}/${ACCOUNT}?list-type=2&prefix=${PRODUCT}%2Fk%2F&max-keys=1000`, pid: bare.pid }
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
  return { s3, az, gcs }
}
