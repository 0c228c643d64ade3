/**
 * Section 7 of `bun run bench`: uploads through the proxy, and its memory while a large object passes.
 *
 * - Credentials the honest way: the proxy runs with `DEV_KEYS` = a key file generated here (the same format
 *   and code as `bun run dev`) and a fixed `OIDC_PROVIDER_ISSUER`; this process mints an API key with those keys
 *   (as `bun run api-key` does) and exchanges it at the proxy's `/.sts` (GET, query parameters) for session
 *   credentials, then signs every PUT with aws4fetch (UNSIGNED-PAYLOAD, header auth).
 * - Bodies stream from a generator (the same 1 MiB buffer yielded again and again) with their Content-Length;
 *   the upstream drains them (bench/upstream.ts): nothing on the path keeps an object.
 * - Direct uploads go to the upstream with the same client and the same signing (other keys), so the
 *   ratio proxy/direct is the proxy's whole cost on the upload path.
 */
import { AwsV4Signer } from "aws4fetch"
import { importPKCS8, SignJWT } from "jose"
import { ensureDevKeys } from "../../src/platform/bun/devKeys.js"
import { ACCOUNT, BUCKET, PRODUCT, REPEAT_PREFIX, UPLOAD_PREFIX, WRITE_PRODUCT } from "../fixture.js"
import { fetchWhole, mbps, type Transfer } from "../http.js"
import { memoryOf, sampleRss } from "../processes.js"
import { log, MiB, settings } from "../settings.js"
import { median } from "../stats.js"

export interface SessionCredentials {
  readonly accessKeyId: string
  readonly secretAccessKey: string
  readonly sessionToken?: string
}

/** The issuer the bench proxy signs API keys as (loopback http is accepted; its own keys need no fetch). */
export const BENCH_ISSUER = "http://127.0.0.1"

/**
 * Writes a dev key file at `file` (if absent) and answers the environment the proxy needs to use it; the
 * keys stay in `keys` for minting API keys here.
 */
export const prepareKeys = async (file: string) => {
  const keys: Record<string, string | undefined> = { OIDC_PROVIDER_ISSUER: BENCH_ISSUER }
  const warn = console.warn
  console.warn = () => undefined // ensureDevKeys announces the dev keys; the bench says so in its README
  try {
    await ensureDevKeys(keys, BENCH_ISSUER, file)
  } finally {
    console.warn = warn
  }
  // Empty key settings: the proxy fills them from DEV_KEYS (this process's environment may hold other dev keys,
  // set by the in-process benches, which the child would otherwise inherit).
  const proxyEnv = {
    DEV_KEYS: file,
    OIDC_PROVIDER_ISSUER: BENCH_ISSUER,
    OIDC_PROVIDER_KID: keys.OIDC_PROVIDER_KID ?? "",
    OIDC_PROVIDER_KEY: "",
    SESSION_SIGNING_KEY: "",
    SESSION_TOKEN_KEY: ""
  }
  return { proxyEnv, keys }
}

/** An API key for `account` (docs/decisions.md#adr-008-api-keys), exactly as `bun run api-key` mints it. */
export const mintApiKey = async (keys: Record<string, string | undefined>, account = ACCOUNT): Promise<string> => {
  const issuer = (keys.OIDC_PROVIDER_ISSUER ?? "").replace(/\/+$/, "")
  const key = await importPKCS8(keys.OIDC_PROVIDER_KEY ?? "", "RS256")
  const now = Math.floor(Date.now() / 1000)
  return new SignJWT({ type: "api_key", account_id: account })
    .setProtectedHeader({ alg: "RS256", kid: keys.OIDC_PROVIDER_KID ?? "", typ: "JWT" })
    .setIssuer(issuer)
    .setSubject(account)
    .setAudience(`${issuer}/.sts`)
    .setIssuedAt(now)
    .setExpirationTime(now + 3600)
    .setJti(crypto.randomUUID())
    .sign(key)
}

/** AssumeRoleWithWebIdentity at the proxy's `/.sts` (GET with query parameters) for the account's `_default` role. */
export const exchangeAtSts = async (proxyOrigin: string, token: string, account = ACCOUNT): Promise<SessionCredentials> => {
  const query = new URLSearchParams({
    Action: "AssumeRoleWithWebIdentity",
    Version: "2011-06-15",
    RoleArn: `sc::${account}::role/_default`,
    RoleSessionName: "bench",
    WebIdentityToken: token
  })
  const response = await fetch(`${proxyOrigin}/.sts?${query}`, { signal: AbortSignal.timeout(10_000) })
  const text = await response.text()
  const field = (name: string) => text.match(new RegExp(`<${name}>([^<]+)</${name}>`))?.[1]
  const accessKeyId = field("AccessKeyId")
  const secretAccessKey = field("SecretAccessKey")
  const sessionToken = field("SessionToken")
  if (response.status !== 200 || accessKeyId === undefined || secretAccessKey === undefined || sessionToken === undefined) {
    throw new Error(`/.sts: status ${response.status}: ${text.slice(0, 300)}`)
  }
  return { accessKeyId, secretAccessKey, sessionToken }
}

const CHUNK = 1024 * 1024
const chunk = crypto.getRandomValues(new Uint8Array(CHUNK))

/** `bytes` bytes, `CHUNK` at a time, produced as the request is sent. */
async function* body(bytes: number): AsyncGenerator<Uint8Array> {
  for (let sent = 0; sent < bytes; sent += CHUNK) yield bytes - sent >= CHUNK ? chunk : chunk.subarray(0, bytes - sent)
}

/** One PUT of `bytes` streamed bytes, signed (UNSIGNED-PAYLOAD) with `credentials`; the answer must be 200. */
export const signedPut = async (
  url: string,
  bytes: number,
  credentials: SessionCredentials,
  timeoutMs: number
): Promise<Transfer> => {
  const t0 = performance.now()
  const signer = new AwsV4Signer({
    method: "PUT",
    url,
    headers: { "x-amz-content-sha256": "UNSIGNED-PAYLOAD", "content-type": "application/octet-stream" },
    accessKeyId: credentials.accessKeyId,
    secretAccessKey: credentials.secretAccessKey,
    ...(credentials.sessionToken === undefined ? {} : { sessionToken: credentials.sessionToken }),
    service: "s3",
    region: "us-east-1"
  })
  const signed = await signer.sign()
  const headers = new Headers(signed.headers)
  headers.set("content-length", String(bytes))
  const response = await fetch(signed.url, {
    method: "PUT",
    headers,
    body: body(bytes) as unknown as BodyInit,
    signal: AbortSignal.timeout(timeoutMs)
  })
  const text = await response.text()
  if (response.status !== 200) throw new Error(`PUT ${url}: status ${response.status}: ${text.slice(0, 300)}`)
  return { bytes, seconds: (performance.now() - t0) / 1000 }
}

export interface UploadRun {
  readonly seconds: number
  readonly mbps: number
  /** Peak VmRSS (MiB) of the sampled process during the transfer; NaN when none was sampled. */
  readonly peakRssMiB: number
}

/** One transfer with the proxy's RSS sampled every `everyMs` (peak, MiB). */
export const sampled = async (pid: number | undefined, run: () => Promise<Transfer>, everyMs = 3): Promise<UploadRun> => {
  const sampler = pid === undefined ? undefined : sampleRss(pid, everyMs)
  let peak = Number.NaN
  let t: Transfer
  try {
    t = await run()
  } finally {
    peak = sampler?.stop() ?? Number.NaN
  }
  return { seconds: t.seconds, mbps: mbps(t), peakRssMiB: peak }
}

export interface UploadSize {
  readonly bytes: number
  readonly reps: number
  /** Median MB/s (10^6 B/s) directly to the upstream, through the bare pass-through and the proxy, same client. */
  readonly directMBps: number
  readonly bareMBps: number
  /** The same pass-through behind node:http, the server the proxy runs (bench/targets.ts). */
  readonly bareNodeMBps: number
  readonly proxyMBps: number
  readonly proxyOverDirect: number
  /** The part that is ours: what the bare pass-through (Bun's own streaming) reaches is the platform's limit. */
  readonly proxyOverBare: number
  /** Against the bare pass-through behind the proxy's own server: the limit of that server. */
  readonly proxyOverBareNode: number
  readonly allMBps: {
    readonly direct: ReadonlyArray<number>
    readonly bare: ReadonlyArray<number>
    readonly bareNode: ReadonlyArray<number>
    readonly proxy: ReadonlyArray<number>
  }
  /** Highest VmRSS (MiB) of the proxy sampled during any of its transfers of this size. */
  readonly proxyPeakRssMiB: number
}

export interface Uploads {
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

type Transfers = Record<"direct" | "bare" | "bareNode" | "proxy", () => Promise<Transfer>>

/** Direct, bare and proxied transfers take turns; the proxy's RSS is sampled while it carries each. */
const transfers = async (bytes: number, reps: number, targets: Transfers, proxyPid: number): Promise<UploadSize> => {
  const runs = { direct: [] as Array<UploadRun>, bare: [] as Array<UploadRun>, bareNode: [] as Array<UploadRun>, proxy: [] as Array<UploadRun> }
  for (let i = 0; i < reps; i++) {
    runs.direct.push(await sampled(undefined, targets.direct))
    runs.bare.push(await sampled(undefined, targets.bare))
    runs.bareNode.push(await sampled(undefined, targets.bareNode))
    runs.proxy.push(await sampled(proxyPid, targets.proxy, settings.rssSampleMs))
  }
  const rates = (list: ReadonlyArray<UploadRun>) => list.map((r) => Math.round(r.mbps))
  const directMBps = median(runs.direct.map((r) => r.mbps))
  const bareMBps = median(runs.bare.map((r) => r.mbps))
  const bareNodeMBps = median(runs.bareNode.map((r) => r.mbps))
  const proxyMBps = median(runs.proxy.map((r) => r.mbps))
  return {
    bytes,
    reps,
    directMBps,
    bareMBps,
    bareNodeMBps,
    proxyMBps,
    proxyOverDirect: proxyMBps / directMBps,
    proxyOverBare: proxyMBps / bareMBps,
    proxyOverBareNode: proxyMBps / bareNodeMBps,
    allMBps: { direct: rates(runs.direct), bare: rates(runs.bare), bareNode: rates(runs.bareNode), proxy: rates(runs.proxy) },
    proxyPeakRssMiB: Math.max(...runs.proxy.map((r) => r.peakRssMiB))
  }
}

const uploadsBench = async (
  upstreamOrigin: string,
  bareOrigins: { readonly bare: string; readonly bareNode: string },
  proxyOrigin: string,
  proxyPid: number,
  credentials: SessionCredentials
): Promise<Uploads> => {
  const put = (origin: string, path: string, bytes: number) => async () => {
    const t = await signedPut(`${origin}${path}`, bytes, credentials, settings.uploadTimeoutMs)
    if (t.bytes !== bytes) throw new Error(`PUT ${path}: ${t.bytes} bytes`)
    return t
  }
  const direct = (bytes: number) => put(upstreamOrigin, `/${BUCKET}/${UPLOAD_PREFIX}${bytes}.bin`, bytes)
  const proxied = (bytes: number) => put(proxyOrigin, `/${ACCOUNT}/${WRITE_PRODUCT}/${UPLOAD_PREFIX}${bytes}.bin`, bytes)
  // The bare pass-through forwards the body (and the signature, which the upstream does not check) as it is.
  const passed = (origin: string) => (bytes: number) => put(origin, `/${ACCOUNT}/${WRITE_PRODUCT}/${UPLOAD_PREFIX}${bytes}.bin`, bytes)
  const bare = passed(bareOrigins.bare)
  const bareNode = passed(bareOrigins.bareNode)
  const of = (bytes: number): Transfers => ({ direct: direct(bytes), bare: bare(bytes), bareNode: bareNode(bytes), proxy: proxied(bytes) })
  // Warm-up: the catalog, the permissions and the session key caches, and every connection.
  for (let i = 0; i < 3; i++) {
    await direct(MiB)()
    await bare(MiB)()
    await bareNode(MiB)()
    await proxied(MiB)()
  }
  const proxyRssBeforeMiB = memoryOf(proxyPid).rss
  const { uploadSmallBytes: small, uploadLargeBytes: large } = settings
  const smallStats = await transfers(small, settings.uploadSmallReps, of(small), proxyPid)
  const largeStats = await transfers(large, settings.uploadLargeReps, of(large), proxyPid)
  const get = (url: string) => async () => {
    const t = await fetchWhole(url, settings.uploadTimeoutMs)
    if (t.bytes !== large) throw new Error(`GET ${url}: ${t.bytes} bytes, expected ${large}`)
    return t
  }
  const download = await transfers(large, settings.downloadLargeReps, {
    direct: get(`${upstreamOrigin}/${BUCKET}/${REPEAT_PREFIX}${large}.bin`),
    bare: get(`${bareOrigins.bare}/${ACCOUNT}/${PRODUCT}/${REPEAT_PREFIX}${large}.bin`),
    bareNode: get(`${bareOrigins.bareNode}/${ACCOUNT}/${PRODUCT}/${REPEAT_PREFIX}${large}.bin`),
    proxy: get(`${proxyOrigin}/${ACCOUNT}/${PRODUCT}/${REPEAT_PREFIX}${large}.bin`)
  }, proxyPid)
  return {
    proxyRssBeforeMiB,
    small: smallStats,
    large: largeStats,
    largeOverSmallPeakRss: largeStats.proxyPeakRssMiB / smallStats.proxyPeakRssMiB,
    largeMinusSmallPeakRssMiB: largeStats.proxyPeakRssMiB - smallStats.proxyPeakRssMiB,
    download,
    downloadOverSmallUploadPeakRss: download.proxyPeakRssMiB / smallStats.proxyPeakRssMiB,
    proxyRssAfterMiB: memoryOf(proxyPid).rss
  }
}

/** Session credentials as a user gets them (an API key exchanged at the proxy's /.sts), then the transfers. */
export const runUploadsBench = async (
  upstreamOrigin: string,
  bareOrigins: { readonly bare: string; readonly bareNode: string },
  proxyOrigin: string,
  proxyPid: number,
  devKeys: Record<string, string | undefined>
): Promise<Uploads> => {
  log(`uploads (${settings.uploadSmallBytes / MiB} MiB, ${settings.uploadLargeBytes / MiB} MiB) and a `
    + `${settings.uploadLargeBytes / MiB} MiB download…`)
  const credentials = await exchangeAtSts(proxyOrigin, await mintApiKey(devKeys))
  return uploadsBench(upstreamOrigin, bareOrigins, proxyOrigin, proxyPid, credentials)
}
