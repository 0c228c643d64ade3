/**
 * In-process costs of authentication, each in a bounded, time-sliced loop (median rate over the slices):
 *
 *   - SigV4 `verifyRequest` (node:crypto Hmac, a lookup returning a fixed secret) over a pool of distinct
 *     pre-signed requests, with the signing key cached (default cache, one key and date) and uncached (a fresh
 *     `SigningKeyCache` per request), header and presigned auth, next to aws4fetch `AwsV4Signer.sign()`
 *     signing the same requests (a shared key cache, and its default fresh cache per signer);
 *   - session tokens: `SessionKeys.verify` (ES256 JWT via jose) and `secretFor` (one HMAC);
 *   - outbound federation: `Federation.credentials` cache hit, and miss (RSA-2048 assertion + stub STS answer).
 */
import { AwsV4Signer } from "aws4fetch"
import { ConfigProvider, Duration, Effect, Layer, ManagedRuntime, Option } from "effect"
import { exportPKCS8, generateKeyPair } from "jose"
import { Federation } from "../../src/core/backends/s3/Federation.js"
import { StsFederation } from "../../src/layers/StsFederation.js"
import type { S3Request } from "../../src/core/http/S3Request.js"
import { AppConfig } from "../../src/core/services/AppConfig.js"
import { Upstream } from "../../src/core/services/Upstream.js"
import { SigningKeyCache, verifyRequest } from "../../src/core/sigv4/index.js"
import type { SessionGrant } from "../../src/core/session/SessionClaims.js"
import { SessionKeys } from "../../src/core/session/SessionKeys.js"
import { JoseOidcProvider } from "../../src/layers/JoseOidcProvider.js"
import { JoseSessionKeys } from "../../src/layers/JoseSessionKeys.js"
import { minimumLogLevel } from "../../src/layers/logLevel.js"
import { MemoryEdgeCache } from "../../src/layers/MemoryEdgeCache.js"
import { NodeCryptoHmac } from "../../src/platform/bun/NodeCryptoHmac.js"
import { ACCOUNT, PRODUCT } from "../fixture.js"
import { log } from "../settings.js"
import { median } from "../stats.js"

export interface LoopOptions {
  /** Untimed calls first (JIT, caches). */
  readonly warmup: number
  /** Time slices; the reported rate is the median of the slices'. */
  readonly chunks: number
  /** Total time of the timed loop. */
  readonly maxMillis: number
}

export interface Rate {
  readonly name: string
  readonly opsPerSec: number
  /** Wall µs per call (1e6 / opsPerSec). */
  readonly usPerOp: number
  /** CPU (user + system, every thread of this process) µs per call, median over the slices. */
  readonly cpuUsPerOp: number
  readonly iterations: number
}

/** Calls `once` (sync or async) for `maxMillis` in `chunks` slices; rates are medians over the slices. */
export const measure = async (
  name: string,
  once: (i: number) => unknown,
  options: LoopOptions
): Promise<Rate> => {
  let i = 0
  for (let w = 0; w < options.warmup; w++) {
    const r = once(i++)
    if (r instanceof Promise) await r
  }
  Bun.gc(true)
  const slice = options.maxMillis / options.chunks
  const rates: Array<number> = []
  const cpu: Array<number> = []
  let total = 0
  for (let k = 0; k < options.chunks; k++) {
    const c0 = process.cpuUsage()
    const t0 = performance.now()
    let n = 0
    let elapsed = 0
    do {
      const r = once(i++)
      if (r instanceof Promise) await r
      n++
      elapsed = performance.now() - t0
    } while (elapsed < slice)
    const used = process.cpuUsage(c0)
    rates.push((n * 1000) / elapsed)
    cpu.push((used.user + used.system) / n)
    total += n
  }
  const opsPerSec = median(rates)
  return { name, opsPerSec, usPerOp: 1e6 / opsPerSec, cpuUsPerOp: median(cpu), iterations: total }
}

const HOST = "proxy.invalid"
const REGION = "us-east-1"
const ACCESS_KEY_ID = "AKIDBENCHEXAMPLE0001"
const SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYBENCHEXAMPLE"

/** AWS URI encoding of one path segment (RFC 3986 unreserved kept). */
const awsEncode = (text: string): string =>
  encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)

export const amzDate = (ms: number): string => new Date(ms).toISOString().replace(/[-:]|\.\d{3}/g, "")

/** The i-th request of the pool: varied method, path, query and headers. */
const poolRequest = (i: number) => {
  const key = [`dir-${i % 7}`, `part ${i % 3}=x`, `file-${i}.bin`].map(awsEncode).join("/")
  const query = [
    "",
    `versionId=v${i}`,
    "response-content-type=text%2Fplain&response-cache-control=no-cache",
    `partNumber=${1 + (i % 9)}`
  ][i % 4] ?? ""
  const headers: Record<string, string> = {}
  if (i % 2 === 0) headers.range = `bytes=${i}-${i + 1023}`
  if (i % 3 === 0) headers["if-none-match"] = `"etag-${i}"`
  if (i % 5 === 0) headers["x-amz-request-payer"] = "requester"
  return {
    method: i % 6 === 5 ? "HEAD" : "GET",
    url: `http://${HOST}/${ACCOUNT}/${PRODUCT}/${key}${query === "" ? "" : `?${query}`}`,
    headers
  }
}

export interface SignInput {
  readonly method: string
  readonly url: string
  readonly headers: Record<string, string>
  readonly accessKeyId: string
  readonly secretAccessKey: string
  readonly sessionToken?: string | undefined
  readonly presign: boolean
  readonly datetime: string
  readonly cache?: Map<string, ArrayBuffer> | undefined
}

const signer = (input: SignInput) =>
  new AwsV4Signer({
    method: input.method,
    url: input.url,
    headers: input.headers,
    accessKeyId: input.accessKeyId,
    secretAccessKey: input.secretAccessKey,
    ...(input.sessionToken === undefined ? {} : { sessionToken: input.sessionToken }),
    ...(input.cache === undefined ? {} : { cache: input.cache }),
    service: "s3",
    region: REGION,
    datetime: input.datetime,
    signQuery: input.presign
  })

/** Signs with aws4fetch and returns the request as the proxy receives it. */
export const signedS3Request = async (input: SignInput): Promise<S3Request> => {
  const signed = await signer(input).sign()
  const headers = new Headers(signed.headers)
  headers.set("host", signed.url.host)
  return { method: signed.method, url: new URL(signed.url.toString()), headers, body: null, requestId: "bench" }
}

export interface SigV4Results {
  readonly poolSize: number
  readonly rates: ReadonlyArray<Rate>
  /** verifications per second / aws4fetch signatures per second, same requests. */
  readonly ratios: {
    readonly headerCachedOverSignCached: number
    readonly headerUncachedOverSignUncached: number
    readonly presignedCachedOverPresignCached: number
  }
}

const fixedSecret = () => Effect.succeed(SECRET)

export const runSigV4Bench = async (poolSize: number, loop: LoopOptions): Promise<SigV4Results> => {
  const runtime = ManagedRuntime.make(NodeCryptoHmac)
  try {
    const datetime = amzDate(Date.now())
    const inputs = Array.from({ length: poolSize }, (_, i): SignInput => ({
      ...poolRequest(i),
      accessKeyId: ACCESS_KEY_ID,
      secretAccessKey: SECRET,
      presign: false,
      datetime
    }))
    const presignInputs = inputs.map((input) => ({ ...input, presign: true }))
    const headerPool = await Promise.all(inputs.map(signedS3Request))
    const presignedPool = await Promise.all(presignInputs.map(signedS3Request))
    const at = <A>(pool: ReadonlyArray<A>, i: number): A => pool[i % pool.length] as A
    // Every pooled request must verify, or the rates measure failures.
    for (const request of [...headerPool, ...presignedPool]) {
      await runtime.runPromise(verifyRequest(request, fixedSecret, { cache: new SigningKeyCache() }))
    }
    const verifyCached = (pool: ReadonlyArray<S3Request>) => (i: number) =>
      runtime.runSync(verifyRequest(at(pool, i), fixedSecret))
    const verifyUncached = (pool: ReadonlyArray<S3Request>) => (i: number) =>
      runtime.runSync(verifyRequest(at(pool, i), fixedSecret, { cache: new SigningKeyCache() }))
    const shared = new Map<string, ArrayBuffer>()
    const rates = [
      await measure("verify header auth, cached key", verifyCached(headerPool), loop),
      await measure("verify header auth, uncached key", verifyUncached(headerPool), loop),
      await measure("verify presigned URL, cached key", verifyCached(presignedPool), loop),
      await measure("verify presigned URL, uncached key", verifyUncached(presignedPool), loop),
      await measure("aws4fetch sign header, shared key cache", (i) => signer({ ...at(inputs, i), cache: shared }).sign(), loop),
      await measure("aws4fetch sign header, fresh key cache", (i) => signer(at(inputs, i)).sign(), loop),
      await measure("aws4fetch presign, shared key cache", (i) => signer({ ...at(presignInputs, i), cache: shared }).sign(), loop)
    ]
    const rate = (index: number) => rates[index]?.opsPerSec ?? Number.NaN
    return {
      poolSize,
      rates,
      ratios: {
        headerCachedOverSignCached: rate(0) / rate(4),
        headerUncachedOverSignUncached: rate(1) / rate(5),
        presignedCachedOverPresignCached: rate(2) / rate(6)
      }
    }
  } finally {
    await runtime.dispose()
  }
}

/** Fresh keys in the formats of src/platform/bun/devKeys.ts. */
export const generateKeys = async () => {
  const rsa = await generateKeyPair("RS256", { modulusLength: 2048, extractable: true })
  const ec = await generateKeyPair("ES256", { extractable: true })
  return {
    OIDC_PROVIDER_ISSUER: `http://${HOST}`,
    OIDC_PROVIDER_KID: "bench-oidc-1",
    OIDC_PROVIDER_KEY: await exportPKCS8(rsa.privateKey),
    SESSION_SIGNING_KID: "bench-session-1",
    SESSION_SIGNING_KEY: await exportPKCS8(ec.privateKey),
    SESSION_TOKEN_KEY: Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64")
  }
}
type Keys = Awaited<ReturnType<typeof generateKeys>>

const configOf = (keys: Keys) => Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(keys))))

export const benchGrant: SessionGrant = {
  sub: `sc::${ACCOUNT}::role/reader`,
  account_id: ACCOUNT,
  role_name: "reader",
  assumed_by: "bench-user",
  assumed_by_issuer: "https://issuer.invalid",
  session_name: "bench",
  permissions: [{ actions: ["read"], resources: ["*"] }],
  durationSeconds: 3600
}

export const runSessionBench = async (keys: Keys, loop: LoopOptions): Promise<ReadonlyArray<Rate>> => {
  const runtime = ManagedRuntime.make(
    JoseSessionKeys.pipe(Layer.provideMerge(NodeCryptoHmac), Layer.provide(configOf(keys)))
  )
  try {
    const sessionKeys = await runtime.runPromise(SessionKeys)
    const issued = await runtime.runPromise(sessionKeys.issue(benchGrant))
    const claims = await runtime.runPromise(sessionKeys.verify(issued.sessionToken))
    if (claims.access_key_id !== issued.accessKeyId) throw new Error("session token does not verify")
    return [
      await measure("SessionKeys.verify (ES256 JWT)", () => runtime.runPromise(sessionKeys.verify(issued.sessionToken)), loop),
      await measure("SessionKeys.secretFor (HMAC)", () => runtime.runSync(sessionKeys.secretFor(issued.accessKeyId)), loop)
    ]
  } finally {
    await runtime.dispose()
  }
}

const stsAnswer = () => {
  const expiration = new Date(Date.now() + 3_600_000).toISOString()
  return `<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">`
    + "<AssumeRoleWithWebIdentityResult><Credentials><AccessKeyId>ASIABENCHEXAMPLE</AccessKeyId>"
    + "<SecretAccessKey>benchSecretAccessKeyExample</SecretAccessKey><SessionToken>benchSessionTokenExample</SessionToken>"
    + `<Expiration>${expiration}</Expiration></Credentials></AssumeRoleWithWebIdentityResult>`
    + "</AssumeRoleWithWebIdentityResponse>"
}

/** Stub STS: answers every call at once, and counts them. */
const stsCalls = { count: 0 }
const StubSts = Layer.succeed(Upstream, Upstream.of({
  fetch: () =>
    Effect.sync(() => {
      stsCalls.count++
      return new Response(stsAnswer(), { status: 200, headers: { "content-type": "text/xml" } })
    })
}))

const FederationSettings = Layer.succeed(AppConfig, AppConfig.of({
  sourceApiUrl: Option.none(),
  sourceApiTimeout: Duration.seconds(5),
  backendTimeout: Duration.seconds(15),
  awsStsEndpoint: "http://sts.invalid",
  federationTimeout: Duration.seconds(10),
  allowPrivateEndpoints: false,
  chunkCache: Option.none()
}))

export interface FederationResults {
  readonly rates: ReadonlyArray<Rate>
  /** STS calls during the hit loop (0 when every call is served from the cache). */
  readonly stsCallsDuringHits: number
}

export const runFederationBench = async (keys: Keys, loop: LoopOptions): Promise<FederationResults> => {
  const runtime = ManagedRuntime.make(
    StsFederation.pipe(
      Layer.provide(Layer.mergeAll(StubSts, JoseOidcProvider, MemoryEdgeCache(10_000), FederationSettings)),
      Layer.provide(configOf(keys)),
      Layer.provide(minimumLogLevel("error"))
    )
  )
  try {
    const federation = await runtime.runPromise(Federation)
    const request = (subject: string) => ({ roleArn: "arn:aws:iam::123456789012:role/bench", subject, audience: "sts.amazonaws.com" })
    await runtime.runPromise(federation.credentials(request("scv1:conn:hit")))
    const before = stsCalls.count
    const hit = await measure("Federation.credentials, cache hit", () =>
      runtime.runPromise(federation.credentials(request("scv1:conn:hit"))), loop)
    const stsCallsDuringHits = stsCalls.count - before
    // A subject never asked before misses both the isolate's map and the EdgeCache: assertion + STS + parse.
    const miss = await measure("Federation.credentials, cache miss (RSA-2048 assertion + stub STS)", (i) =>
      runtime.runPromise(federation.credentials(request(`scv1:conn:miss-${i}`))), { ...loop, warmup: Math.min(loop.warmup, 50) })
    return { rates: [hit, miss], stsCallsDuringHits }
  } finally {
    await runtime.dispose()
  }
}

export interface AuthResults {
  readonly sigv4: SigV4Results
  readonly session: ReadonlyArray<Rate>
  readonly federation: FederationResults
}

/** The whole section, on one set of freshly generated keys. */
export const runAuthBench = async (poolSize: number, loop: LoopOptions): Promise<AuthResults> => {
  log("authentication (in-process): SigV4, session tokens, outbound federation…")
  const keys = await generateKeys()
  return {
    sigv4: await runSigV4Bench(poolSize, loop),
    session: await runSessionBench(keys, loop),
    federation: await runFederationBench(keys, loop)
  }
}
