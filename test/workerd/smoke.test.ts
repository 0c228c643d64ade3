/**
 * The post-deploy smoke test (src/platform/workers/deploy/smoke.ts, run by .github/workflows/deploy.yml) against the Worker bundle
 * in workerd: it passes on a healthy Worker and fails the job, saying which check, on a broken one.
 */
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import type { S3Client } from "@aws-sdk/client-s3"
import { exportPKCS8, generateKeyPair } from "jose"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningMoto, startMoto } from "../e2e/harness/moto.js"
import { motoClient, seedBucket } from "../e2e/harness/s3.js"
import { type RunningSourceApi, startSourceApi } from "../e2e/harness/sourceApi.js"
import { motoConnection, publicProduct } from "./fixtures.js"
import { type RunningWorkerd, startWorkerdProxy } from "./harness.js"

const ROOT = fileURLToPath(new URL("../..", import.meta.url))
const BUCKET = "sdp-workerd-smoke"
const ISSUER = "https://smoke.test.source.coop"
const KID = "smoke-1"

let api: RunningSourceApi
let moto: RunningMoto
let s3: S3Client | undefined
let worker: RunningWorkerd
let oidcKey: string

beforeAll(async () => {
  ;[api, moto] = await Promise.all([startSourceApi(), startMoto()])
  s3 = motoClient(moto.endpoint)
  await seedBucket(s3, BUCKET, { "acct/prod/smoke.txt": "smoke object\n" }, false)
  const product = publicProduct("acct", "prod", "moto", "acct/prod/")
  api.set("/api/v1/data-connections/moto", { status: 200, body: motoConnection("moto", moto.endpoint, BUCKET) })
  api.set("/api/v1/products/acct/prod", { status: 200, body: product })
  api.set("/api/v1/products/acct", { status: 200, body: { products: [product] } })
  const { privateKey } = await generateKeyPair("RS256", { modulusLength: 2048, extractable: true })
  oidcKey = await exportPKCS8(privateKey)
  worker = await startWorkerdProxy({ SOURCE_API_URL: api.url, OIDC_PROVIDER_ISSUER: ISSUER, OIDC_PROVIDER_KID: KID, OIDC_PROVIDER_KEY: oidcKey })
})

afterAll(async () => {
  s3?.destroy()
  await worker?.stop()
  await Promise.all([moto?.stop(), api?.stop()])
})

const smoke = (env: Record<string, string>) =>
  new Promise<{ code: number | null; output: string }>((resolve, reject) => {
    const child = spawn("bun", ["src/platform/workers/deploy/smoke.ts", worker.url], {
      cwd: ROOT,
      // As the deploy workflow runs it: the key only; the issuer and kid come from the Worker.
      env: { ...process.env, OIDC_PROVIDER_KEY: oidcKey, ...env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let output = ""
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()))
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()))
    const timer = setTimeout(() => child.kill("SIGKILL"), 50_000)
    child.once("error", reject)
    child.once("exit", (code) => {
      clearTimeout(timer)
      resolve({ code, output })
    })
  })

describe("src/platform/workers/deploy/smoke.ts against the Worker in workerd", () => {
  it("passes: GET /, the JWKS with the active kid, a ranged public read, an STS exchange of an API key", async () => {
    const { code, output } = await smoke({ SMOKE_OBJECT: "/acct/prod/smoke.txt", SMOKE_ACCOUNT: "acct" })
    expect(code, `${output}\n--- workerd ---\n${worker.logs().slice(-3_000)}`).toBe(0)
    expect(output).toContain("ok: GET / answers the service's name")
    expect(output).toContain("ok: GET /.well-known/openid-configuration and jwks.json: the issuer and its active key")
    expect(output).toContain("ok: anonymous ranged GET /acct/prod/smoke.txt")
    expect(output).toContain("ok: STS exchange of an API key for acct")
    expect(output).toContain("smoke test passed")
  })

  it("fails, naming the check, when the public object is missing or the key is not the Worker's", async () => {
    const missing = await smoke({ SMOKE_OBJECT: "/acct/prod/none.txt", SMOKE_ACCOUNT: "acct", SMOKE_ATTEMPTS: "1" })
    expect(missing.code).toBe(1)
    expect(missing.output).toMatch(/smoke test failed: anonymous ranged GET \/acct\/prod\/none.txt: 404/)
    const { privateKey } = await generateKeyPair("RS256", { modulusLength: 2048, extractable: true })
    const foreign = await smoke({
      SMOKE_OBJECT: "/acct/prod/smoke.txt",
      SMOKE_ACCOUNT: "acct",
      SMOKE_ATTEMPTS: "1",
      OIDC_PROVIDER_KEY: await exportPKCS8(privateKey)
    })
    expect(foreign.code).toBe(1)
    expect(foreign.output).toMatch(/smoke test failed: STS exchange of an API key for acct: 4\d\d/)
    const unset = await smoke({ SMOKE_OBJECT: "", SMOKE_ACCOUNT: "acct" })
    expect([unset.code, unset.output.trim()]).toStrictEqual([1, "smoke test failed: SMOKE_OBJECT is not set"])
  })
})
