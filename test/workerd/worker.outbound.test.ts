/**
 * Outbound fetch hygiene in real workerd: the runtime's fetch returns a backend's redirect instead of
 * following it (502 to the client), and ALLOW_PRIVATE_ENDPOINTS=false keeps loopback endpoints closed.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startScriptedServer } from "../e2e/harness/servers.js"
import { type RunningSourceApi, startSourceApi } from "../e2e/harness/sourceApi.js"
import { parseError } from "../e2e/harness/xml.js"
import { publicProduct } from "./fixtures.js"
import { type RunningWorkerd, startWorkerdProxy } from "./harness.js"

type Server = Awaited<ReturnType<typeof startScriptedServer>>

let api: RunningSourceApi
let backend: Server
let elsewhere: Server

beforeAll(async () => {
  elsewhere = await startScriptedServer((_, res) => {
    res.writeHead(200, { "content-type": "text/plain" })
    res.end("bytes of another bucket\n")
  })
  backend = await startScriptedServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x")
    if (url.pathname.startsWith("/bucket/moved/")) {
      res.writeHead(307, { location: `${elsewhere.url}/other${url.pathname}` })
      return res.end()
    }
    res.writeHead(200, { "content-type": "text/plain", "content-length": "6" })
    res.end("hello\n")
  })
  api = await startSourceApi({
    "/api/v1/data-connections/loop": {
      body: {
        data_connection_id: "loop",
        read_only: true,
        details: { provider: "s3", bucket: "bucket", region: "us-east-1", endpoint: backend.url }
      }
    },
    "/api/v1/products/acct/moved": { body: publicProduct("acct", "moved", "loop", "moved/") },
    "/api/v1/products/acct/plain": { body: publicProduct("acct", "plain", "loop", "plain/") }
  })
})

afterAll(async () => {
  await Promise.all([api?.stop(), backend?.stop(), elsewhere?.stop()])
})

const errorOf = async (response: Response) => ({ status: response.status, ...parseError(await response.text()) })

describe("Worker bundle in workerd: outbound fetch hygiene", () => {
  let open: RunningWorkerd
  let strict: RunningWorkerd

  beforeAll(async () => {
    ;[open, strict] = await Promise.all([
      startWorkerdProxy({ SOURCE_API_URL: api.url, LOG_LEVEL: "warn" }),
      startWorkerdProxy({ SOURCE_API_URL: api.url, LOG_LEVEL: "warn", ALLOW_PRIVATE_ENDPOINTS: "false" })
    ])
  })

  afterAll(async () => {
    await Promise.all([open?.stop(), strict?.stop()])
  })

  it("a backend's 307 to another server → 502 XML; the other server sees no request", async () => {
    const response = await fetch(`${open.url}/acct/moved/secret.bin`, { redirect: "manual" })
    expect(await errorOf(response)).toMatchObject({ status: 502, Code: "BadGateway" })
    expect(elsewhere.requests).toHaveLength(0)
    const plain = await fetch(`${open.url}/acct/plain/hello.txt`)
    expect([plain.status, await plain.text()]).toStrictEqual([200, "hello\n"])
  })

  it("ALLOW_PRIVATE_ENDPOINTS=false: a loopback endpoint is refused (502) and the backend receives nothing", async () => {
    const before = backend.requests.length
    const error = await errorOf(await fetch(`${strict.url}/acct/plain/hello.txt`))
    expect(error).toMatchObject({ status: 502, Code: "BackendAuthenticationFailed" })
    expect(error.Message).toContain("EndpointNotAllowed")
    expect(backend.requests.length).toBe(before)
  })
})
