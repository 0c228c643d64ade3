/**
 * What `bun run bench` runs and how much: every count, size and deadline, read once from the environment
 * (`BENCH_QUICK`, `BENCH_OBJECT_MIB`, `BENCH_UPLOAD_MIB`, `BENCH_SECTIONS`, `BENCH_CACHE_LATENCY_MS`, `BENCH_OUT`), and the progress log.
 */
import { resolve } from "node:path"
import { LIST_KEYS } from "./fixture.js"

export const quick = (process.env.BENCH_QUICK ?? "") !== ""
export const root = resolve(import.meta.dir, "..")
export const outFile = process.env.BENCH_OUT ?? "/tmp/sdp-bench/latest.json"
export const MiB = 1024 * 1024

export const settings = {
  objectBytes: Number(process.env.BENCH_OBJECT_MIB ?? (quick ? 32 : 256)) * MiB,
  streamReps: quick ? 2 : 5,
  curlReps: quick ? 1 : 3,
  rangeLength: 16 * 1024,
  rangeRequests: quick ? 300 : 2000,
  rangeReps: quick ? 1 : 3,
  /**
   * Untimed ranged GETs each target serves before section 2's passes: JavaScriptCore keeps tiering code up for
   * thousands of requests, and a server runs for days, so the passes measure it settled (the JIT column shows
   * what compiling still costs then).
   */
  rangeWarmupRequests: quick ? 1_000 : 12_000,
  rangeConcurrency: 8,
  rangeDeadlineMs: 15_000,
  streamTimeoutMs: 30_000,
  slowClientBytesPerSecond: 32 * 1000 * 1000,
  slowClientSeconds: quick ? 1 : 3,
  cpu: { iterations: quick ? 2_000 : 20_000, warmup: quick ? 500 : 12_000, chunks: 5, maxMillis: quick ? 1_500 : 5_000 },
  auth: { warmup: quick ? 100 : 1_000, chunks: 5, maxMillis: quick ? 250 : 1_500 },
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
  rssSampleMs: 3,
  workerdRequests: quick ? 200 : 2_000,
  /** Section 9: requests per pass (cold passes fetch a 4 MiB chunk per request, so fewer), passes per target. */
  cacheRequests: quick ? 100 : 400,
  cacheColdRequests: quick ? 40 : 150,
  cacheReps: quick ? 1 : 2,
  /** Section 9's upstream time to first byte, one set of runs per value. */
  cacheLatenciesMs: (process.env.BENCH_CACHE_LATENCY_MS ?? "0,20").split(",").map((ms) => Number(ms.trim()))
}

/** `BENCH_SECTIONS=1,2` runs only the sections named (4's memory figures come with 1); all by default. */
export const sections = new Set((process.env.BENCH_SECTIONS ?? "1,2,3,4,5,6,7,8,9").split(",").map((name) => name.trim()))
export const runs = (section: number) => sections.has(String(section))

/** Progress goes to stderr, so stdout holds only the report. */
export const log = (message: string) => console.error(`[bench] ${message}`)
