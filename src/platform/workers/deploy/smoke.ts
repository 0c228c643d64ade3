/**
 * `bun src/platform/workers/deploy/smoke.ts <url>`: the post-deploy smoke test (.github/workflows/deploy.yml). Exits 1, naming
 * what failed, unless the deployed Worker
 *
 * 1. answers `GET /` with its name and version,
 * 2. publishes its JWKS with the OIDC_PROVIDER_KID key,
 * 3. serves an anonymous ranged GET of SMOKE_OBJECT (`/{account}/{product}/{key}` of a public object),
 * 4. exchanges an API key for SMOKE_ACCOUNT at `/.sts`: a key minted here, valid 10 minutes, with the
 *    environment's own OIDC_PROVIDER_KEY (what the CI job uploads), for the issuer the Worker announces and
 *    its active key id (the JWKS's first key), unless OIDC_PROVIDER_ISSUER and OIDC_PROVIDER_KID say otherwise.
 *
 * A fresh deploy takes a few seconds to reach every colo: each check is tried SMOKE_ATTEMPTS times (5), 3 s
 * apart, each request bounded to 15 s.
 */
import { importPKCS8, SignJWT } from "jose"

const base = (process.argv[2] ?? "").replace(/\/+$/, "")
const env = process.env
const required = (name: string) => {
  const value = (env[name] ?? "").trim()
  if (value === "") fail(`${name} is not set`)
  return value
}
function fail(message: string): never {
  console.error(`smoke test failed: ${message}`)
  process.exit(1)
}
if (!/^https?:\/\//.test(base)) fail("usage: bun src/platform/workers/deploy/smoke.ts <url>")

const attempts = Number(env.SMOKE_ATTEMPTS ?? "5")
const object = required("SMOKE_OBJECT")
const account = required("SMOKE_ACCOUNT")
const key = await importPKCS8(required("OIDC_PROVIDER_KEY"), "RS256").catch(() => fail("OIDC_PROVIDER_KEY is not a PKCS#8 RSA key"))

/** Runs `check` until it returns no problem, at most `attempts` times; the last problem fails the run. */
const step = async (name: string, check: () => Promise<string | undefined>) => {
  let problem: string | undefined
  for (let attempt = 1; attempt <= attempts; attempt++) {
    problem = await check().catch((error: unknown) => `request failed: ${String(error)}`)
    if (problem === undefined) {
      console.log(`ok: ${name}`)
      return
    }
    if (attempt < attempts) await new Promise((resolve) => setTimeout(resolve, 3_000))
  }
  fail(`${name}: ${problem}`)
}

const get = (path: string, init: RequestInit = {}) => fetch(`${base}${path}`, { ...init, signal: AbortSignal.timeout(15_000) })

await step("GET / answers the service's name", async () => {
  const response = await get("/")
  const body = await response.text()
  return response.status === 200 && body.includes("\"name\"") ? undefined : `${response.status} ${body.slice(0, 200)}`
})

let issuer = (env.OIDC_PROVIDER_ISSUER ?? "").trim().replace(/\/+$/, "")
let kid = (env.OIDC_PROVIDER_KID ?? "").trim()

await step("GET /.well-known/openid-configuration and jwks.json: the issuer and its active key", async () => {
  const [discovery, jwks] = await Promise.all([get("/.well-known/openid-configuration"), get("/.well-known/jwks.json")])
  const announced = (await discovery.json().catch(() => ({}))) as { issuer?: unknown }
  const keys = ((await jwks.json().catch(() => ({}))) as { keys?: Array<{ kid?: unknown }> }).keys ?? []
  if (discovery.status !== 200 || typeof announced.issuer !== "string") return `discovery answered ${discovery.status}`
  if (jwks.status !== 200 || typeof keys[0]?.kid !== "string") return `the JWKS answered ${jwks.status} with ${keys.length} keys`
  issuer ||= announced.issuer
  kid ||= keys[0].kid
  return keys.some((k) => k.kid === kid) ? undefined : `the JWKS does not publish ${kid}`
})

await step(`anonymous ranged GET ${object}`, async () => {
  const response = await get(object, { headers: { range: "bytes=0-0" } })
  const bytes = new Uint8Array(await response.arrayBuffer())
  return response.status === 206 && bytes.length === 1 ? undefined : `${response.status} with ${bytes.length} bytes (expected 206 with 1)`
})

await step(`STS exchange of an API key for ${account}`, async () => {
  const now = Math.floor(Date.now() / 1000)
  const token = await new SignJWT({ type: "api_key", account_id: account })
    .setProtectedHeader({ alg: "RS256", kid, typ: "JWT" })
    .setIssuer(issuer)
    .setSubject(account)
    .setAudience(`${issuer}/.sts`)
    .setIssuedAt(now)
    .setExpirationTime(now + 600)
    .setJti(`smoke-${crypto.randomUUID()}`)
    .sign(key)
  const response = await get("/.sts", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      Action: "AssumeRoleWithWebIdentity",
      Version: "2011-06-15",
      RoleArn: `arn:aws:iam::${account}:role/_default`,
      RoleSessionName: "deploy-smoke-test",
      WebIdentityToken: token
    })
  })
  const body = await response.text()
  return response.status === 200 && /<AccessKeyId>SCSTS/.test(body) ? undefined : `${response.status} ${body.slice(0, 300)}`
})

console.log(`smoke test passed: ${base}`)
