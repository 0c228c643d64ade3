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
import { ensureDevKeys } from "../src/platform/bun/devKeys.js"
import { ACCOUNT } from "./fixture.js"
import { type Transfer } from "./http.js"
import { memoryOf, sampleRss } from "./processes.js"

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

/** An API key for `account` (ADR-008), exactly as `bun run api-key` mints it. */
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
  return { seconds: t.seconds, mbps: t.bytes / 1e6 / t.seconds, peakRssMiB: peak }
}

export const rssOf = (pid: number): number => memoryOf(pid).rss
