import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningProxy, startBunProxy } from "./harness/proxy.js"
import { sendEndlessBody, startScriptedServer } from "./harness/servers.js"
import { catalogRoutes, startSourceApi } from "./harness/sourceApi.js"
import { parseError } from "./harness/xml.js"

/**
 * Outbound fetch hygiene under the real Bun shell (issue #8): a backend's redirect is neither followed nor
 * served, connection endpoints pass the endpoint policy before anything is sent, and bodies the proxy reads
 * whole (listing pages, STS answers, Source API JSON) are bounded. Every backend is a small server here.
 */

const ACCOUNT = "e2e-outbound"
const BUCKET = "bucket"
const ROLE = "arn:aws:iam::123456789012:role/e2e-outbound"

type TestServer = Awaited<ReturnType<typeof startScriptedServer>>

const LISTING = `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>${BUCKET}</Name><IsTruncated>false</IsTruncated>`
  + `<Contents><Key>ok-data/hello.txt</Key><LastModified>2024-01-02T03:04:05.000Z</LastModified><ETag>"e"</ETag><Size>6</Size></Contents>`
  + `</ListBucketResult>`

const product = (productId: string, connectionId: string, prefix: string) => ({
  product_id: productId,
  account_id: ACCOUNT,
  title: `e2e ${productId}`,
  visibility: "public",
  disabled: false,
  data_mode: "open",
  metadata: { primary_mirror: "main", mirrors: { main: { connection_id: connectionId, prefix, storage_type: "s3" } } }
})

const connection = (id: string, details: object, authentication: object = { type: "unsigned" }) => ({
  data_connection_id: id,
  read_only: true,
  name: id,
  details: { region: "us-east-1", base_prefix: "", ...details },
  authentication
})

describe("Bun: outbound fetch hygiene", () => {
  const stops: Array<() => Promise<void>> = []
  let proxy: RunningProxy
  let strict: RunningProxy
  let backend: TestServer
  let elsewhere: TestServer
  let sts: TestServer

  beforeAll(async () => {
    try {
      elsewhere = await startScriptedServer((_, res) => {
        res.writeHead(200, { "content-type": "text/plain" })
        res.end("bytes of another bucket\n")
      })
      stops.push(elsewhere.stop)
      backend = await startScriptedServer((req, res) => {
        const url = new URL(req.url ?? "/", "http://x")
        const prefix = url.searchParams.get("prefix") ?? ""
        if (url.pathname.startsWith(`/${BUCKET}/redirect-data/`) || prefix.startsWith("redirect-data/")) {
          res.writeHead(307, { location: `${elsewhere.url}/other${url.pathname}` })
          return res.end()
        }
        if (url.searchParams.get("list-type") === "2" && prefix.startsWith("biglist-data/")) return sendEndlessBody(res, "<ListBucketResult><Contents><Key>")
        if (url.pathname === `/${BUCKET}/short-data/cut.bin` || url.pathname === `/${BUCKET}/short-data/cut-cached.bin`) {
          // Declares 1000 bytes, sends 100, then the connection drops. With a Last-Modified (cut-cached.bin) the
          // chunk cache takes the read: the cut then breaks the chunk it is filling.
          const headers = {
            "content-type": "application/octet-stream", "content-length": "1000", etag: "\"c\"",
            ...(url.pathname.endsWith("cut-cached.bin") ? { "last-modified": "Wed, 01 Jan 2025 00:00:00 GMT" } : {})
          }
          res.writeHead(200, headers)
          if (req.method === "HEAD") return res.end()
          res.write(Buffer.alloc(100, 7))
          setTimeout(() => res.destroy(), 50)
          return
        }
        if (url.pathname === `/${BUCKET}/ok-data/hello.txt`) {
          res.writeHead(200, { "content-type": "text/plain", "content-length": "6", etag: "\"e\"" })
          return res.end("hello\n")
        }
        if (url.searchParams.get("list-type") === "2") {
          res.writeHead(200, { "content-type": "application/xml" })
          return res.end(LISTING)
        }
        res.writeHead(404, { "content-type": "application/xml" })
        res.end("<Error><Code>NoSuchKey</Code></Error>")
      })
      stops.push(backend.stop)
      sts = await startScriptedServer((_, res) => sendEndlessBody(res, "<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult>"))
      stops.push(sts.stop)

      const s3 = (id: string, extra: object = {}, authentication?: object) =>
        connection(id, { provider: "s3", bucket: BUCKET, endpoint: backend.url, ...extra }, authentication)
      const connections = [
        s3("conn-ok"),
        s3("conn-metadata", { endpoint: "http://169.254.169.254/latest/meta-data/" }),
        s3("conn-metadata-number", { endpoint: "http://2852039166/" }),
        s3("conn-fed", {}, { type: "s3_web_identity_role", role_arn: ROLE }),
        connection("conn-az-host", { provider: "az", account_name: "evil.example.com#", container_name: "c" })
      ]
      const products = [
        product("ok", "conn-ok", "ok-data/"),
        product("redirect", "conn-ok", "redirect-data/"),
        product("short", "conn-ok", "short-data/"),
        product("biglist", "conn-ok", "biglist-data/"),
        product("metadata", "conn-metadata", ""),
        product("metadata2", "conn-metadata-number", ""),
        product("fed", "conn-fed", "fed-data/"),
        product("azhost", "conn-az-host", "")
      ]
      const routes = catalogRoutes(ACCOUNT, products, connections)
      // A Source API answer far past any product's size.
      routes[`/api/v1/products/${ACCOUNT}/huge`] = {
        body: { ...product("huge", "conn-ok", "ok-data/"), padding: "x".repeat(3 * 1024 * 1024) }
      }
      const api = await startSourceApi(routes)
      stops.push(api.stop)

      // ALLOW_PRIVATE_ENDPOINTS unset: the Bun shell allows loopback backends.
      proxy = await startBunProxy({ SOURCE_API_URL: api.url, AWS_STS_ENDPOINT: sts.url, LOG_LEVEL: "error" })
      stops.push(proxy.stop)
      strict = await startBunProxy({ SOURCE_API_URL: api.url, ALLOW_PRIVATE_ENDPOINTS: "false", LOG_LEVEL: "error" })
      stops.push(strict.stop)
    } catch (error) {
      await Promise.allSettled(stops.splice(0).reverse().map((stop) => stop()))
      throw error
    }
  })

  afterAll(async () => {
    await Promise.allSettled(stops.splice(0).reverse().map((stop) => stop()))
  })

  const get = (base: RunningProxy, path: string) => fetch(`${base.url}${path}`, { redirect: "manual" })
  const errorOf = async (response: Response) => ({
    status: response.status,
    contentType: response.headers.get("content-type"),
    ...parseError(await response.text())
  })
  const stillServes = async (base: RunningProxy = proxy) => {
    const response = await get(base, `/${ACCOUNT}/ok/hello.txt`)
    expect([response.status, await response.text()]).toStrictEqual([200, "hello\n"])
  }

  it("sanity: an ordinary loopback backend is read and listed (the Bun default allows it)", async () => {
    await stillServes()
    const listing = await get(proxy, `/${ACCOUNT}/ok?list-type=2`)
    expect(listing.status).toBe(200)
    expect(await listing.text()).toContain("<Key>ok/hello.txt</Key>")
  })

  it.each([["streamed past the cache", "cut.bin"], ["through the chunk cache", "cut-cached.bin"]])(
    "a backend body cut short of its Content-Length (%s): the client's read fails (never a hang, never a short 200 taken as whole)",
    async (_, key) => {
      const response = await fetch(`${proxy.url}/${ACCOUNT}/short/${key}`, { signal: AbortSignal.timeout(20_000) })
      expect([response.status, response.headers.get("content-length")]).toStrictEqual([200, "1000"])
      expect(response.headers.get("x-cache")).toBe(key === "cut.bin" ? "BYPASS" : "MISS")
      const read = await response.arrayBuffer().then((body) => body.byteLength, (error: unknown) => error)
      // The proxy cuts the connection: the body errors (a short body would show as fewer bytes, never 1000).
      expect(read).not.toBe(1000)
      expect(read).not.toMatchObject({ name: "TimeoutError" })
      await stillServes()
    }
  )

  it("a backend answering 307 to another server: the client gets 502 XML, the other server sees nothing", async () => {
    const before = backend.requests.length
    for (const path of [`/${ACCOUNT}/redirect/secret.bin`, `/${ACCOUNT}/redirect?list-type=2`]) {
      const response = await get(proxy, path)
      expect(await errorOf(response)).toMatchObject({ status: 502, contentType: "application/xml", Code: "BadGateway" })
    }
    const head = await fetch(`${proxy.url}/${ACCOUNT}/redirect/secret.bin`, { method: "HEAD", redirect: "manual" })
    expect(head.status).toBe(502)
    expect(backend.requests.length - before).toBe(3)
    expect(elsewhere.requests).toHaveLength(0)
    await stillServes()
  })

  it("an endless listing page → 502, and the proxy keeps serving", async () => {
    const response = await get(proxy, `/${ACCOUNT}/biglist?list-type=2`)
    expect(await errorOf(response)).toMatchObject({ status: 502, Code: "BadGateway" })
    await stillServes()
  })

  it("an endless STS answer → 502 BackendAuthenticationFailed, and the proxy keeps serving", async () => {
    const response = await get(proxy, `/${ACCOUNT}/fed/k.txt`)
    const error = await errorOf(response)
    expect(error).toMatchObject({ status: 502, Code: "BackendAuthenticationFailed" })
    expect(error.Message).toContain("StsAnswerTooLarge")
    expect(sts.requests.length).toBeGreaterThanOrEqual(1)
    await stillServes()
  })

  it("a Source API answer over its bound → 502 BadGateway, and the proxy keeps serving", async () => {
    const response = await get(proxy, `/${ACCOUNT}/huge/hello.txt`)
    expect(await errorOf(response)).toMatchObject({ status: 502, Code: "BadGateway" })
    await stillServes()
  })

  it("a catalog entry pointing at cloud metadata is refused (502 on reads), with the switch on", async () => {
    for (const productId of ["metadata", "metadata2"]) {
      const error = await errorOf(await get(proxy, `/${ACCOUNT}/${productId}/latest/meta-data/iam/security-credentials/`))
      expect(error).toMatchObject({ status: 502, Code: "BackendAuthenticationFailed" })
      expect(error.Message).toContain("EndpointNotAllowed")
      const listing = await errorOf(await get(proxy, `/${ACCOUNT}/${productId}?list-type=2`))
      expect(listing).toMatchObject({ status: 502, Code: "BackendAuthenticationFailed" })
    }
  })

  it("with ALLOW_PRIVATE_ENDPOINTS=false, a loopback endpoint is refused and the backend receives nothing", async () => {
    const before = backend.requests.length
    for (const path of [`/${ACCOUNT}/ok/hello.txt`, `/${ACCOUNT}/ok?list-type=2`]) {
      const error = await errorOf(await get(strict, path))
      expect(error).toMatchObject({ status: 502, Code: "BackendAuthenticationFailed" })
      expect(error.Message).toContain("EndpointNotAllowed")
    }
    expect(backend.requests.length).toBe(before)
  })

  it("an Azure account_name that is not one (it would become the host) is refused", async () => {
    const error = await errorOf(await get(proxy, `/${ACCOUNT}/azhost/k.txt`))
    expect(error).toMatchObject({ status: 502, Code: "BackendAuthenticationFailed" })
    expect(error.Message).toContain("InvalidAccountName")
  })
})
