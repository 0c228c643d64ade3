import { readdirSync, readFileSync } from "node:fs"
import { join, relative } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { runAws, runBoto3 } from "./harness/clients.js"
import { REPO_ROOT, type RunningProxy, startBunProxy } from "./harness/proxy.js"
import { byteOrder, encodeKey } from "./harness/s3.js"
import { parseError } from "./harness/xml.js"

/** The sample product's files as shipped in the repository (never modified by these tests). */
const SAMPLE_DIR = join(REPO_ROOT, "sample/data/demo/sample")
const walk = (dir: string): Array<string> =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? walk(join(dir, entry.name)) : entry.isFile() ? [join(dir, entry.name)] : []
  )
const SAMPLE_KEYS = walk(SAMPLE_DIR).map((file) => `sample/${relative(SAMPLE_DIR, file)}`).sort(byteOrder)
const sampleFile = (key: string) => readFileSync(join(SAMPLE_DIR, key.replace(/^sample\//, "")))
const UNICODE_KEY = "sample/names with spaces/ünïcödé.txt"

describe("bun run dev: the embedded catalog (no SOURCE_API_URL)", () => {
  let proxy: RunningProxy | undefined

  beforeAll(async () => {
    proxy = await startBunProxy({}) // no SOURCE_API_URL, no CATALOG: sample/catalog.json
  })
  afterAll(async () => {
    await proxy?.stop()
  })

  const endpoint = () => proxy!.url

  it("the sample files are there (fixture check)", () => {
    expect(SAMPLE_KEYS).toContain(UNICODE_KEY)
    expect(SAMPLE_KEYS.length).toBeGreaterThan(2)
  })

  it("aws s3 ls s3://demo/ shows the public product only", async () => {
    const result = await runAws(["s3", "ls", "--no-sign-request", "--endpoint-url", endpoint(), "s3://demo/"])
    expect(result.status, result.stderr).toBe(0)
    const lines = result.stdout.toString().trim().split("\n").map((line) => line.trim())
    expect(lines).toEqual(["PRE sample/"])
  })

  it("aws s3 ls --recursive s3://demo/ (the whole account, no delimiter) lists every public key once, in order", async () => {
    const result = await runAws(["s3", "ls", "--no-sign-request", "--endpoint-url", endpoint(), "--recursive", "s3://demo/"])
    expect(result.status, result.stderr).toBe(0)
    const keys = result.stdout.toString().trim().split("\n").map((line) => line.trim().split(/\s+/).slice(3).join(" "))
    expect(keys).toEqual(SAMPLE_KEYS)
  })

  it("aws s3 ls s3://demo/sample/ --recursive lists every sample file once, with its size", async () => {
    const result = await runAws([
      "s3",
      "ls",
      "--no-sign-request",
      "--endpoint-url",
      endpoint(),
      "--recursive",
      "s3://demo/sample/"
    ])
    expect(result.status, result.stderr).toBe(0)
    const rows = result.stdout.toString().trim().split("\n").map((line) => {
      const [, , size, ...key] = line.trim().split(/\s+/)
      return { key: key.join(" "), size: Number(size) }
    })
    expect(rows.map((r) => r.key)).toEqual(SAMPLE_KEYS)
    for (const row of rows) expect(row.size).toBe(sampleFile(row.key).length)
  })

  it("boto3 get_object of the unicode/space key is byte-exact", async () => {
    const out = await runBoto3<{ body: string; length: number }>(
      `
      response = s3.get_object(Bucket="demo", Key=inp["key"])
      out = {"body": base64.b64encode(response["Body"].read()).decode(), "length": response["ContentLength"]}
      `,
      { endpoint: endpoint(), key: UNICODE_KEY }
    )
    const expected = sampleFile(UNICODE_KEY)
    expect(Buffer.from(out.body, "base64")).toEqual(expected)
    expect(out.length).toBe(expected.length)
  })

  it("demo/private → 403 AccessDenied (GET, HEAD and listing)", async () => {
    const response = await fetch(`${endpoint()}/demo/private/secret.txt`)
    expect(response.status).toBe(403)
    expect(parseError(await response.text()).Code).toBe("AccessDenied")
    const head = await fetch(`${endpoint()}/demo/private/secret.txt`, { method: "HEAD" })
    expect(head.status).toBe(403)
    const listing = await fetch(`${endpoint()}/demo?list-type=2&prefix=private/`)
    expect(listing.status).toBe(403)
    expect(parseError(await listing.text()).Code).toBe("AccessDenied")
  })

  it("a ranged read returns 206 with the requested bytes", async () => {
    const key = SAMPLE_KEYS.find((k) => sampleFile(k).length > 40)!
    const file = sampleFile(key)
    const response = await fetch(`${endpoint()}/demo/${encodeKey(key)}`, { headers: { range: "bytes=10-29" } })
    expect(response.status).toBe(206)
    expect(response.headers.get("content-range")).toBe(`bytes 10-29/${file.length}`)
    expect(Buffer.from(await response.arrayBuffer())).toEqual(file.subarray(10, 30))
    const suffix = await fetch(`${endpoint()}/demo/${encodeKey(UNICODE_KEY)}`, { headers: { range: "bytes=-5" } })
    expect(suffix.status).toBe(206)
    expect(Buffer.from(await suffix.arrayBuffer())).toEqual(sampleFile(UNICODE_KEY).subarray(-5))
  })

  it.each([
    ["none", undefined],
    ["bytes=3-12", [3, 13]],
    ["bytes=-5", [-5, undefined]]
  ] as const)("GET (Range: %s) of a local file carries Content-Length equal to the bytes received", async (range, slice) => {
    const key = "sample/places.geojson"
    const response = await fetch(`${endpoint()}/demo/${encodeKey(key)}`, range === "none" ? {} : { headers: { range } })
    const body = Buffer.from(await response.arrayBuffer())
    expect(body).toEqual(slice === undefined ? sampleFile(key) : sampleFile(key).subarray(...slice))
    expect(response.headers.get("content-length")).toBe(String(body.length))
    expect(response.headers.get("transfer-encoding")).toBeNull()
  })

  it("an unknown key in the sample product → 404 NoSuchKey", async () => {
    const response = await fetch(`${endpoint()}/demo/sample/no-such-file.txt`)
    expect(response.status).toBe(404)
    expect(parseError(await response.text()).Code).toBe("NoSuchKey")
  })
})
